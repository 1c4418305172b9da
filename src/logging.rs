//! Log setup: `tracing` to stderr, with `-v`/`-q` choosing the level.

use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber. `RUST_LOG`, when set, wins over the flags.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("trainlab={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
    if cfg!(debug_assertions) {
        tracing::warn!(
            "this trainlab binary was built without optimizations and trains 10-50x slower; \
             build with `cargo build --release`"
        );
    }
}
