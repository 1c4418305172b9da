//! Ctrl-C handling: the first SIGINT requests that the running experiment stop at its next step.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Interrupted;

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler. Training loops call [`check`] between steps, so a run stops cleanly,
/// writes a failed summary and keeps its last checkpoint. A second Ctrl-C exits at once.
pub fn install() {
    let result = ctrlc::set_handler(|| {
        if STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("stopping after the current step (press Ctrl-C again to exit at once)");
    });
    if let Err(error) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {error}");
    }
}

/// Returns `Err(Interrupted)` once Ctrl-C was pressed.
pub fn check() -> Result<(), Interrupted> {
    if STOP_REQUESTED.load(Ordering::SeqCst) {
        Err(Interrupted)
    } else {
        Ok(())
    }
}
