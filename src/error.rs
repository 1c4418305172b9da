//! Error kinds that decide the process exit status.
//!
//! Bad input (a config, a data file, a command-line value) exits with status 2 and every other
//! failure with status 1. Code that rejects user input wraps its message in [`InputError`] so
//! `main` can tell the two apart anywhere in an `anyhow` chain.

use std::fmt;

/// An error caused by the user's input: a config, a data file or a command-line value.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Builds an `anyhow::Error` that exits with status 2.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// Returns early with an [`InputError`] built from a format string.
#[macro_export]
macro_rules! bail_input {
    ($($arg:tt)*) => {
        return Err($crate::error::input_error(format!($($arg)*)))
    };
}

/// The run was stopped by Ctrl-C (SIGINT) before it finished.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by Ctrl-C")]
pub struct Interrupted;

/// Returns the exit status for an error: 2 for bad input or config, 130 (the shell's code for
/// SIGINT) for a run stopped by Ctrl-C, 1 otherwise.
pub fn exit_status(error: &anyhow::Error) -> i32 {
    if error.chain().any(|cause| cause.is::<Interrupted>()) {
        return 130;
    }
    let is_input = error
        .chain()
        .any(|cause| cause.is::<InputError>() || cause.is::<crate::config::ConfigError>());
    if is_input { 2 } else { 1 }
}
