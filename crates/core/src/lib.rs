//! The 12345 work-order domain (DOMAIN.md §1–§5), pure: no I/O, no async, no SQL, no HTTP.
//!
//! Everything that decides what may happen to a work order lives here, so that the rules can be
//! tested exhaustively without a server and every backend obeys the same ones.

pub mod calendar;
pub mod chain;
pub mod deadline;
pub mod dispatch;
pub mod error;
pub mod ids;
pub mod kb;
pub mod mask;
pub mod order;
pub mod org;
pub mod role;
pub mod stats;
pub mod values;

pub use error::{DomainError, FieldError};
pub use ids::{OrderId, TenantId, UnitId, UserId};
