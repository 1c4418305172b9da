//! Command-line interface: argument definitions and one function per subcommand.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::backend::{BackendKind, compiled_backends};
use crate::config::{ConfigDoc, Override, Task, resolve};
use crate::experiment::{Family, Finished, RunLocation, launch, sweep};
use crate::progress::{Progress, ProgressMode};
use crate::run::RunDir;
use crate::{digits, mixture, sentiment};

/// Runs classic machine-learning experiments from TOML configs on Burn.
#[derive(Debug, Parser)]
#[command(name = "trainlab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log more (repeat for debug and trace logs).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log only warnings and errors, and show no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Progress display: a bar on a terminal and plain lines otherwise (auto), or forced.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub progress: ProgressMode,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one experiment into a new run folder.
    Train(TrainArgs),
    /// Run every point of the config's [sweep] grid and name the best one.
    Sweep(SweepArgs),
    /// Predict with a trained run (reviews, digit images or rating rows).
    Predict(PredictArgs),
    /// Re-score a trained run on another data set given by --set data.… overrides.
    Evaluate(EvaluateArgs),
    /// Inspect configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the backends compiled into this binary, their devices and precisions.
    Backends,
    /// Train the built-in demo of every family on generated data (no files, no network).
    Demo(DemoArgs),
}

/// Options shared by commands that start runs.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Override a config key, e.g. --set train.epochs=5 (repeatable; values are TOML).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub overrides: Vec<String>,

    /// Backend to run on; the same as --set backend.name=NAME.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,

    /// Run folder to create instead of artifacts/<experiment>/<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write into --out even when it is not empty (files of the same name are replaced).
    #[arg(long, requires = "out")]
    pub force: bool,

    /// Root folder for new run folders.
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    pub artifacts: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Config file (TOML).
    #[arg(required_unless_present_any = ["resume", "builtin"])]
    pub config: Option<PathBuf>,

    /// Train a config compiled into the binary, named like `configs/digits/demo.toml`; `demo`
    /// uses it to run each family in its own process.
    #[arg(long, hide = true, value_name = "NAME", conflicts_with_all = ["config", "resume"])]
    pub builtin: Option<String>,

    /// Continue a killed run from its last checkpoint, with the config saved in RUN_DIR.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "overrides", "backend", "out"])]
    pub resume: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Config file (TOML) with a [sweep] table of lists.
    pub config: PathBuf,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run folder written by `trainlab train`.
    pub run_dir: PathBuf,

    /// Digit images (PNG, JPEG, PGM) or IDX image files to classify.
    pub images: Vec<PathBuf>,

    /// Review text to classify (repeatable).
    #[arg(long)]
    pub text: Vec<String>,

    /// Reviews to classify: a TSV like the training data, one review per line, or - for stdin.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Write predictions to this file as TSV instead of only printing them.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Partial rating rows to complete with a trained mixture (same format as data.matrix).
    #[arg(long, value_name = "FILE")]
    pub ratings: Option<PathBuf>,

    /// Images are dark digits on a light background (scans); invert them to MNIST's convention.
    #[arg(long)]
    pub invert: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Run folder written by `trainlab train`.
    pub run_dir: PathBuf,

    /// Override a data key of the saved config, e.g. --set data.test_images=other.gz.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub overrides: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the fully resolved config: the file, its overrides and every default.
    Show {
        config: PathBuf,
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        overrides: Vec<String>,
        #[arg(long, value_name = "NAME")]
        backend: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Root folder for the demo run folders.
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    pub artifacts: PathBuf,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let progress = Progress::new(if cli.quiet {
        ProgressMode::None
    } else {
        cli.progress
    });
    match cli.command {
        Command::Train(args) => train(args, &progress),
        Command::Sweep(args) => run_sweep(args, &progress),
        Command::Predict(args) => predict(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Config(ConfigCommand::Show {
            config,
            overrides,
            backend,
        }) => {
            let doc = ConfigDoc::load(&config, parse_overrides(&overrides, backend.as_deref())?)?;
            print!("{}", show(&doc)?);
            Ok(())
        }
        Command::Backends => {
            print_backends();
            Ok(())
        }
        Command::Demo(args) => demo(&args.artifacts, &progress),
    }
}

/// Parses `--set` flags, with `--backend NAME` as the last override.
pub fn parse_overrides(flags: &[String], backend: Option<&str>) -> anyhow::Result<Vec<Override>> {
    let mut overrides = flags
        .iter()
        .map(|f| Override::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(name) = backend {
        overrides.push(Override {
            key: "backend.name".into(),
            value: toml::Value::String(name.into()),
            origin: format!("--backend {name}"),
        });
    }
    Ok(overrides)
}

fn location(args: &RunArgs) -> RunLocation {
    match &args.out {
        Some(path) => RunLocation::At {
            path: path.clone(),
            force: args.force,
        },
        None => RunLocation::New(args.artifacts.clone()),
    }
}

fn train(args: TrainArgs, progress: &Progress) -> anyhow::Result<()> {
    let (doc, location) = match (&args.resume, &args.config) {
        _ if args.builtin.is_some() => {
            let name = args.builtin.as_deref().unwrap_or_default();
            let Some((_, text)) = DEMO_CONFIGS.iter().find(|(path, _)| *path == name) else {
                crate::bail_input!("no built-in config named '{name}'");
            };
            let overrides = parse_overrides(&args.run.overrides, args.run.backend.as_deref())?;
            (
                ConfigDoc::parse(name, text, overrides)?,
                location(&args.run),
            )
        }
        (Some(run_dir), _) => {
            let run = RunDir::open(run_dir)?;
            (
                load_run_config(&run, Vec::new())?,
                RunLocation::Resume(run_dir.clone()),
            )
        }
        (None, Some(config)) => {
            let overrides = parse_overrides(&args.run.overrides, args.run.backend.as_deref())?;
            (ConfigDoc::load(config, overrides)?, location(&args.run))
        }
        (None, None) => unreachable!("clap requires a config unless --resume is given"),
    };
    let finished = dispatch_launch(&doc, &location, progress)?;
    print_finished(&finished);
    Ok(())
}

fn dispatch_launch(
    doc: &ConfigDoc,
    location: &RunLocation,
    progress: &Progress,
) -> anyhow::Result<Finished> {
    match doc.task()? {
        Task::Sentiment => launch::<sentiment::Sentiment>(doc, location, progress),
        Task::Digits => launch::<digits::Digits>(doc, location, progress),
        Task::Mixture => launch::<mixture::Mixture>(doc, location, progress),
    }
}

fn run_sweep(args: SweepArgs, progress: &Progress) -> anyhow::Result<()> {
    let overrides = parse_overrides(&args.run.overrides, args.run.backend.as_deref())?;
    let doc = ConfigDoc::load(&args.config, overrides)?;
    let location = location(&args.run);
    let result = match doc.task()? {
        Task::Sentiment => sweep::<sentiment::Sentiment>(&doc, &location, progress)?,
        Task::Digits => sweep::<digits::Digits>(&doc, &location, progress)?,
        Task::Mixture => sweep::<mixture::Mixture>(&doc, &location, progress)?,
    };
    println!(
        "sweep of {} points in {}",
        result.rows.len(),
        result.run.path().display()
    );
    println!(
        "best by {} (ties go to the earliest grid point): point {}: {}",
        result.select,
        result.best + 1,
        result.best_settings()
    );
    print_metrics(&result.rows[result.best].metrics);
    Ok(())
}

/// Loads a run folder's saved config.
pub fn load_run_config(run: &RunDir, overrides: Vec<Override>) -> anyhow::Result<ConfigDoc> {
    Ok(ConfigDoc::load(&run.file("config.toml"), overrides)?)
}

fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let run = RunDir::open(&args.run_dir)?;
    let doc = load_run_config(&run, Vec::new())?;
    match doc.task()? {
        Task::Sentiment => sentiment::predict(&run, &doc, &args),
        Task::Digits => digits::predict(&run, &doc, &args),
        Task::Mixture => mixture::predict(&run, &doc, &args),
    }
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    // The saved model fixes everything but the data, so other keys would be ignored silently.
    if let Some(flag) = args
        .overrides
        .iter()
        .find(|flag| !flag.trim().starts_with("data."))
    {
        crate::bail_input!(
            "evaluate only accepts data keys in --set (data.…), got '{flag}'; the model and its \
             training settings come from the run folder"
        );
    }
    let run = RunDir::open(&args.run_dir)?;
    let doc = load_run_config(&run, parse_overrides(&args.overrides, None)?)?;
    let metrics = match doc.task()? {
        Task::Sentiment => sentiment::evaluate(&run, &doc)?,
        Task::Digits => digits::evaluate(&run, &doc)?,
        Task::Mixture => mixture::evaluate(&run, &doc)?,
    };
    print_metrics(&metrics);
    Ok(())
}

/// Renders the fully resolved config of a document.
pub fn show(doc: &ConfigDoc) -> anyhow::Result<String> {
    fn render<F: Family>(doc: &ConfigDoc) -> anyhow::Result<String> {
        Ok(resolve::<F::Config>(doc)?.to_toml())
    }
    match doc.task()? {
        Task::Sentiment => render::<sentiment::Sentiment>(doc),
        Task::Digits => render::<digits::Digits>(doc),
        Task::Mixture => render::<mixture::Mixture>(doc),
    }
}

fn print_backends() {
    println!(
        "{:<8} {:<9} {:<10} description",
        "backend", "compiled", "precision"
    );
    for kind in BackendKind::ALL {
        let precisions: Vec<&str> = kind.precisions().iter().map(|p| p.as_str()).collect();
        let compiled = if kind.is_compiled() { "yes" } else { "no" };
        println!(
            "{:<8} {:<9} {:<10} {}",
            kind.name(),
            compiled,
            precisions.join(","),
            kind.description()
        );
        if kind.is_compiled() {
            println!("{:<8} devices: {}", "", device_note(kind));
        } else {
            println!(
                "{:<8} build with: cargo build --release --features {}",
                "",
                kind.name()
            );
        }
    }
    println!(
        "compiled into this binary: {}",
        compiled_backends().join(", ")
    );
}

fn device_note(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Flex | BackendKind::Ndarray => "one CPU device (backend.device is ignored)",
        BackendKind::Wgpu => "0 = the adapter wgpu ranks best; N = the N-th discrete GPU",
        BackendKind::Cuda => "N = CUDA device N, checked when the run starts",
    }
}

/// The built-in demo configs, one per family, compiled into the binary so `demo` needs no files.
pub const DEMO_CONFIGS: [(&str, &str); 3] = [
    (
        "configs/sentiment/demo.toml",
        include_str!("../configs/sentiment/demo.toml"),
    ),
    (
        "configs/digits/demo.toml",
        include_str!("../configs/digits/demo.toml"),
    ),
    (
        "configs/mixture/demo.toml",
        include_str!("../configs/mixture/demo.toml"),
    ),
];

/// Trains every built-in demo, each in its own process: Burn fixes a device's float type once
/// per process, and the families default to different precisions.
fn demo(artifacts: &std::path::Path, progress: &Progress) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("cannot find the trainlab executable")?;
    for (name, _) in DEMO_CONFIGS {
        progress.line(&format!("demo: {name}"));
        let status = std::process::Command::new(&program)
            .args(["train", "--builtin", name, "--artifacts"])
            .arg(artifacts)
            .args(["--progress", progress_flag(progress)])
            .status()
            .with_context(|| format!("cannot start {}", program.display()))?;
        if !status.success() {
            anyhow::bail!("the demo {name} failed ({status}); its error is printed above");
        }
    }
    println!(
        "demo results are in {}/<experiment>/<UTC timestamp>/",
        artifacts.display()
    );
    Ok(())
}

fn progress_flag(progress: &Progress) -> &'static str {
    match progress.mode() {
        ProgressMode::Bar => "bar",
        ProgressMode::Plain | ProgressMode::Auto => "plain",
        ProgressMode::None => "none",
    }
}

fn print_finished(finished: &Finished) {
    println!("run folder: {}", finished.run.path().display());
    print_metrics(&finished.metrics);
}

/// Prints scalar metrics as a two-column table on stdout.
pub fn print_metrics(metrics: &crate::experiment::Metrics) {
    let width = metrics.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in metrics {
        let text = match value {
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(x) if n.is_f64() => format!("{x:.6}"),
                _ => n.to_string(),
            },
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) if items.len() <= 12 => {
                items.iter().map(compact).collect::<Vec<_>>().join(", ")
            }
            _ => continue,
        };
        println!("{key:<width$}  {text}");
    }
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_f64() => {
            format!("{:.4}", n.as_f64().unwrap_or(f64::NAN))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn train_parses_repeated_set() {
        let cli = Cli::try_parse_from([
            "trainlab",
            "train",
            "c.toml",
            "--set",
            "a.b=1",
            "--set",
            "c.d=x",
            "--backend",
            "flex",
        ])
        .unwrap();
        let Command::Train(args) = cli.command else {
            panic!("expected train")
        };
        assert_eq!(args.run.overrides, vec!["a.b=1", "c.d=x"]);
        assert_eq!(args.run.backend.as_deref(), Some("flex"));
    }
}
