use std::fmt;

/// A rejected config value before its location is known: the dotted key and the reason.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub key: String,
    pub message: String,
}

impl FieldError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        FieldError {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Builds the error for a value outside its allowed range, e.g. `-1 is out of range; allowed:
    /// a number > 0`.
    pub fn out_of_range(key: &str, value: impl fmt::Display, allowed: &str) -> Self {
        FieldError::new(key, format!("{value} is out of range; allowed: {allowed}"))
    }
}

/// A config error with its location, ready to show to the user. Exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
