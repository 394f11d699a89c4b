//! Domain errors. Messages are shown to users, so they are Simplified Chinese; codes are stable
//! English identifiers for programs.

use thiserror::Error;

/// A bad value in one field of the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// The input is malformed or out of range (HTTP 422).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The actor lacks the role or the relationship to the order (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The order's current state does not allow the command (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// A deadline cannot be computed, e.g. the calendar does not cover the date (HTTP 409).
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "state_conflict",
            Self::Calendar(_) => "calendar_not_covered",
        }
    }
}
