//! Progress reporting: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress display style, from `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    Bar,
    Plain,
    None,
}

/// Reports the progress of one run on stderr.
#[derive(Debug, Clone)]
pub struct Progress {
    mode: ProgressMode,
}

impl Progress {
    /// Resolves `auto` against whether stderr is a terminal.
    pub fn new(mode: ProgressMode) -> Progress {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        };
        Progress { mode }
    }

    /// Returns a reporter that prints nothing, for library callers and tests.
    pub fn hidden() -> Progress {
        Progress {
            mode: ProgressMode::None,
        }
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Starts a counted task such as the batches of one epoch. In plain mode it prints
    /// nothing until [`Task::finish`], which prints the one summary line.
    pub fn task(&self, label: &str, total: u64) -> Task {
        let bar = (self.mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        Task {
            bar,
            mode: self.mode,
        }
    }

    /// Prints one line of progress (an epoch or iteration result) unless progress is off.
    pub fn line(&self, text: &str) {
        if self.mode != ProgressMode::None {
            eprintln!("{text}");
        }
    }
}

/// One counted task started by [`Progress::task`].
pub struct Task {
    bar: Option<ProgressBar>,
    mode: ProgressMode,
}

impl Task {
    pub fn inc(&self, steps: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(steps);
        }
    }

    pub fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// Ends the task and prints its summary line (a bar leaves it in place of itself).
    pub fn finish(self, line: &str) {
        match (self.bar, self.mode) {
            (Some(bar), _) => bar.finish_and_clear(),
            (None, ProgressMode::None) => return,
            (None, _) => {}
        }
        if self.mode != ProgressMode::None {
            eprintln!("{line}");
        }
    }
}
