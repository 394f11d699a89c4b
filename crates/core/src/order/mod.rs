//! The work order (工单, DOMAIN §3) and its lifecycle (§4) as one explicit state machine.
//!
//! `Order::decide` is a pure function from (state, command, context) to events or an error;
//! `Order::apply` folds an event into the state. Storage appends the events and saves the folded
//! state in one transaction, and `Order::replay` proves the two agree.

mod decide;
mod event;
mod types;

pub use decide::{Actor, Command, Ctx, DispatchTarget};
pub use event::{ActorRef, Event, EventKind};
pub use types::*;

#[cfg(test)]
mod tests;
