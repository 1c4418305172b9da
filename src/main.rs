use std::process::ExitCode;

use clap::Parser;
use trainlab::cli::{Cli, run};

fn main() -> ExitCode {
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
