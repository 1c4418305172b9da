use std::process::ExitCode;

use clap::Parser;
use trainlab::cli::{Cli, run};

/// Tensor temporaries of several MiB are allocated and freed many times per pass. mimalloc
/// keeps such pages for reuse. glibc's allocator returned them to the kernel and faulted them
/// in again, which took over half of a sparse EM pass.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    trainlab::logging::init(cli.verbose, cli.quiet);
    trainlab::interrupt::install();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(trainlab::error::exit_status(&error) as u8)
        }
    }
}

/// Lets a closed pipe (`trainlab predict ... | head`) end the process quietly, as it does for
/// other command-line tools. Rust ignores SIGPIPE by default, which turns the closed pipe into a
/// panic inside `println!`.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any thread starts; setting a signal's disposition
    // to the default action has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
