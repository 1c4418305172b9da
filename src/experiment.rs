//! Shared run machinery of every family: the run context, the train launcher and sweeps.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::tensor::Device;
use serde_json::{Map, Value};

use crate::backend::BackendChoice;
use crate::config::{ConfigDoc, ExperimentConfig, Resolved, expand_sweep, resolve};
use crate::plot::{Series, line_chart};
use crate::progress::Progress;
use crate::run::{RunDir, RunInfo, write_summary};

/// Metrics a run reports in `summary.json` under `metrics`.
pub type Metrics = Map<String, Value>;

/// Everything a family's training code gets besides its checked config.
pub struct RunContext {
    pub run: RunDir,
    pub device: Device,
    pub backend: BackendChoice,
    pub seed: u64,
    pub progress: Progress,
    /// Continue from the run folder's last checkpoint instead of starting afresh.
    pub resume: bool,
}

/// One experiment family: its config and its training entry point.
pub trait Family {
    type Config: ExperimentConfig;

    /// The summary metric that picks the best sweep point; larger is better.
    const SWEEP_SELECT: &'static str;
    /// Summary metrics drawn against each swept key.
    const SWEEP_PLOT: &'static [&'static str];
    /// Advice shown when a run reports no [`Family::SWEEP_SELECT`] metric.
    const SWEEP_HINT: &'static str;

    /// Trains, writes the model and plots into `ctx.run` and returns the summary metrics.
    fn train(
        checked: &<Self::Config as ExperimentConfig>::Checked,
        ctx: &RunContext,
    ) -> anyhow::Result<Metrics>;

    /// Returns the config's `[sweep]` table, when it has one.
    fn sweep_table(raw: &Self::Config) -> Option<&toml::Table>;
}

/// Where a run's folder goes.
#[derive(Debug, Clone)]
pub enum RunLocation {
    /// A new timestamped folder under this artifacts root.
    New(PathBuf),
    /// This folder, which must be empty unless `force`.
    At { path: PathBuf, force: bool },
    /// An existing run folder to resume.
    Resume(PathBuf),
}

/// The result of a finished run: its folder and metrics.
pub struct Finished {
    pub run: RunDir,
    pub metrics: Metrics,
}

/// Resolves the config, checks the backend, creates the run folder, trains and writes the
/// summary. Config and backend errors are raised before the run folder exists.
pub fn launch<F: Family>(
    doc: &ConfigDoc,
    location: &RunLocation,
    progress: &Progress,
) -> anyhow::Result<Finished> {
    let mut resolved = resolve::<F::Config>(doc)?;
    let backend = backend_choice(&mut resolved)?;
    let run = open_run(location, &experiment_name(&mut resolved))?;
    if !matches!(location, RunLocation::Resume(_)) {
        run.write("config.toml", resolved.to_toml().as_bytes())?;
    }
    run_in::<F>(
        &resolved,
        backend,
        run,
        progress,
        matches!(location, RunLocation::Resume(_)),
    )
}

fn run_in<F: Family>(
    resolved: &Resolved<F::Config>,
    backend: BackendChoice,
    run: RunDir,
    progress: &Progress,
    resume: bool,
) -> anyhow::Result<Finished> {
    let mut raw_copy: F::Config = toml::from_str(&resolved.to_toml())?;
    let experiment = raw_copy.experiment_mut().clone();
    let info = RunInfo {
        task: experiment.task.as_str().to_string(),
        experiment: experiment.name.clone(),
        backend: backend.kind.name().to_string(),
        precision: backend.precision.as_str().to_string(),
        seed: experiment.seed,
    };
    let started = Instant::now();
    // A resume that fails must not turn a completed run's summary into a failed one: its
    // outputs on disk are still those of the completed run.
    let keep_completed = resume && summary_is_completed(&run);
    let outcome = backend.device(experiment.seed).and_then(|device| {
        let ctx = RunContext {
            run: run.clone(),
            device,
            backend,
            seed: experiment.seed,
            progress: progress.clone(),
            resume,
        };
        F::train(&resolved.checked, &ctx)
    });
    if outcome.is_ok() || !keep_completed {
        write_summary(&run, &info, &outcome, started.elapsed().as_secs_f64())?;
    }
    let metrics = outcome.with_context(|| {
        if keep_completed {
            format!(
                "resume failed; {} keeps the results of its completed run",
                run.path().display()
            )
        } else {
            format!("run failed; see {}", run.path().display())
        }
    })?;
    Ok(Finished { run, metrics })
}

/// True when the run folder's `summary.json` records a completed run.
fn summary_is_completed(run: &RunDir) -> bool {
    std::fs::read(run.file("summary.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|summary| summary["status"] == "completed")
}

fn backend_choice<C: ExperimentConfig>(
    resolved: &mut Resolved<C>,
) -> anyhow::Result<BackendChoice> {
    let section = resolved.raw.backend_mut().clone();
    let precision = section.precision.unwrap_or(C::DEFAULT_PRECISION);
    BackendChoice::new(&section.name, section.device, precision)
}

fn experiment_name<C: ExperimentConfig>(resolved: &mut Resolved<C>) -> String {
    resolved.raw.experiment_mut().name.clone()
}

fn open_run(location: &RunLocation, experiment: &str) -> anyhow::Result<RunDir> {
    match location {
        RunLocation::New(root) => RunDir::create_new(root, experiment),
        RunLocation::At { path, force } => RunDir::create_at(path, *force),
        RunLocation::Resume(path) => {
            let run = RunDir::open(path)?;
            if run.file("sweep.csv").exists() || run.file("point-001").exists() {
                return Err(crate::error::input_error(format!(
                    "{} is a sweep folder, and --resume continues a single run; resume one of \
                     its point-NNN folders, or run the sweep again",
                    path.display()
                )));
            }
            Ok(run)
        }
    }
}

/// Runs every point of the config's `[sweep]` grid in `point-NNN/` subfolders of one sweep
/// folder, writes `sweep.csv`, one SVG per swept key and the sweep's `summary.json`, and
/// returns the best point by [`Family::SWEEP_SELECT`]; ties go to the earlier grid point.
pub fn sweep<F: Family>(
    doc: &ConfigDoc,
    location: &RunLocation,
    progress: &Progress,
) -> anyhow::Result<SweepResult> {
    let mut base = resolve::<F::Config>(doc)?;
    backend_choice(&mut base)?;
    let Some(table) = F::sweep_table(&base.raw).cloned() else {
        return Err(crate::error::input_error(format!(
            "{} has no [sweep] table; add one such as [sweep] epochs = [1, 5, 10]",
            doc.source()
        )));
    };
    let resolved_value = toml::Value::try_from(&base.raw)?;
    let points = expand_sweep(&table, &resolved_value)?;
    // Check every point's config before training any of them.
    let mut resolved_points = Vec::new();
    for point in &points {
        let point_doc = doc.with_overrides(point.clone())?;
        let mut resolved = resolve::<F::Config>(&point_doc)?;
        let backend = backend_choice(&mut resolved)?;
        resolved_points.push((resolved, backend));
    }
    let root = open_run(location, &experiment_name(&mut base))?;
    root.write("config.toml", base.to_toml().as_bytes())?;
    let mut rows = Vec::new();
    for (index, (resolved, backend)) in resolved_points.iter().enumerate() {
        crate::interrupt::check()?;
        let settings = describe_point(&points[index]);
        progress.line(&format!(
            "sweep point {}/{}: {settings}",
            index + 1,
            points.len()
        ));
        let folder = RunDir::create_at(&root.file(&format!("point-{:03}", index + 1)), false)?;
        folder.write("config.toml", resolved.to_toml().as_bytes())?;
        let finished = run_in::<F>(resolved, *backend, folder, &Progress::hidden(), false)?;
        // Every point reports the same metrics, so the first one shows whether a best point
        // can be chosen at all. Failing here saves training the rest of the grid.
        let selectable = finished
            .metrics
            .get(F::SWEEP_SELECT)
            .and_then(Value::as_f64);
        if selectable.is_none() {
            return Err(crate::error::input_error(format!(
                "this sweep cannot choose a best point: its runs report no '{}'; {}",
                F::SWEEP_SELECT,
                F::SWEEP_HINT
            )));
        }
        rows.push(SweepRow {
            settings: points[index].clone(),
            metrics: finished.metrics,
        });
    }
    let result = SweepResult::new(root, rows, F::SWEEP_SELECT)?;
    result.write(F::SWEEP_PLOT)?;
    Ok(result)
}

fn describe_point(point: &[crate::config::Override]) -> String {
    point
        .iter()
        .map(|o| format!("{}={}", o.key, o.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One finished grid point.
pub struct SweepRow {
    pub settings: Vec<crate::config::Override>,
    pub metrics: Metrics,
}

/// Every point of a sweep and the index of the best one.
pub struct SweepResult {
    pub run: RunDir,
    pub rows: Vec<SweepRow>,
    pub best: usize,
    pub select: &'static str,
}

impl SweepResult {
    fn new(run: RunDir, rows: Vec<SweepRow>, select: &'static str) -> anyhow::Result<Self> {
        let mut best: Option<(usize, f64)> = None;
        for (index, row) in rows.iter().enumerate() {
            let Some(score) = row.metrics.get(select).and_then(Value::as_f64) else {
                continue;
            };
            // Strictly greater, so a tie keeps the earlier grid point.
            if best.is_none_or(|(_, top)| score > top) {
                best = Some((index, score));
            }
        }
        let (best, _) = best.with_context(|| format!("no sweep point reported '{select}'"))?;
        Ok(SweepResult {
            run,
            rows,
            best,
            select,
        })
    }

    pub fn best_settings(&self) -> String {
        describe_point(&self.rows[self.best].settings)
    }

    fn write(&self, plotted: &[&str]) -> anyhow::Result<()> {
        self.write_csv()?;
        self.write_plots(plotted)?;
        let best = &self.rows[self.best];
        let summary = serde_json::json!({
            "status": "completed",
            "select": self.select,
            "tie_break": "the earliest point in grid order",
            "best_point": self.best + 1,
            "best_settings": self.best_settings(),
            "best_metrics": best.metrics,
            "points": self.rows.len(),
            "versions": crate::run::versions(),
        });
        self.run.write_json("summary.json", &summary)
    }

    fn scalar_columns(&self) -> Vec<String> {
        let first = &self.rows[0].metrics;
        first
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn write_csv(&self) -> anyhow::Result<()> {
        let keys: Vec<String> = self.rows[0]
            .settings
            .iter()
            .map(|o| o.key.clone())
            .collect();
        let metrics = self.scalar_columns();
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["point".to_string()];
        header.extend(keys.iter().cloned());
        header.extend(metrics.iter().cloned());
        writer.write_record(&header)?;
        for (index, row) in self.rows.iter().enumerate() {
            let mut record = vec![(index + 1).to_string()];
            record.extend(row.settings.iter().map(|o| plain_value(&o.value)));
            record.extend(
                metrics
                    .iter()
                    .map(|m| row.metrics.get(m).map(plain_json).unwrap_or_default()),
            );
            writer.write_record(&record)?;
        }
        self.run.write("sweep.csv", &writer.into_inner()?)
    }

    /// Draws each swept key against the plotted metrics, holding the other keys at the best
    /// point's values.
    fn write_plots(&self, plotted: &[&str]) -> anyhow::Result<()> {
        let best = &self.rows[self.best].settings;
        for (axis, swept) in best.iter().enumerate() {
            let along: Vec<&SweepRow> = self
                .rows
                .iter()
                .filter(|row| {
                    row.settings
                        .iter()
                        .enumerate()
                        .all(|(i, o)| i == axis || o.value == best[i].value)
                })
                .collect();
            let series: Vec<Series> = plotted
                .iter()
                .map(|metric| Series {
                    name: metric,
                    points: along
                        .iter()
                        .filter_map(|row| {
                            let x = number(&row.settings[axis].value)?;
                            let y = row.metrics.get(*metric)?.as_f64()?;
                            Some((x, y))
                        })
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            if series.is_empty() {
                continue;
            }
            let name = swept.key.replace('.', "-");
            let svg = line_chart(
                &format!("sweep over {}", swept.key),
                &swept.key,
                "value",
                &series,
            );
            self.run
                .write(&format!("sweep-{name}.svg"), svg.as_bytes())?;
        }
        Ok(())
    }
}

fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
}

fn plain_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn plain_json(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Resolves a data file: absolute paths are used as they are, relative ones are joined to
/// `data.dir` (itself relative to the working folder).
pub fn data_path(dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}
