//! Identifiers. Each is a distinct type so that a unit id can never be passed where an order id
//! is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    };
}

id_type!(
    /// A city platform; every record belongs to exactly one.
    TenantId
);
id_type!(
    /// An organisation in the tree: a centre, department, town, community or grid cell.
    UnitId
);
id_type!(
    /// A staff account or a system account.
    UserId
);
id_type!(
    /// A work order's storage id (the human-readable number is separate).
    OrderId
);
