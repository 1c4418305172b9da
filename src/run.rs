//! Run folders: a fresh folder per run, atomic writes, the metrics log and the summary.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::input_error;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// killed process never leaves a partial file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
    let mut file = fs::File::create(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot flush {}", temporary.display()))?;
    drop(file);
    fs::rename(&temporary, path).with_context(|| {
        format!(
            "cannot rename {} to {}",
            temporary.display(),
            path.display()
        )
    })
}

/// Creates a temporary path beside `path` for writers that need a path (safetensors, `.bpk`),
/// then renames the result into place.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!("tmp{}-{file_name}", std::process::id()));
    write(&temporary)?;
    fs::rename(&temporary, path).with_context(|| {
        format!(
            "cannot rename {} to {}",
            temporary.display(),
            path.display()
        )
    })
}

/// The folder that contains one run's outputs.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `artifacts_root/<experiment>/<UTC timestamp>/`, adding `-2`, `-3`, … when two
    /// runs start within the same second, so no earlier run is ever reused.
    pub fn create_new(artifacts_root: &Path, experiment: &str) -> anyhow::Result<RunDir> {
        let parent = artifacts_root.join(experiment);
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create the run folder parent {}", parent.display()))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        for attempt in 1..1000 {
            let name = if attempt == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{attempt}")
            };
            let path = parent.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        anyhow::bail!(
            "cannot find a free run folder name under {}",
            parent.display()
        )
    }

    /// Uses `path` as the run folder. It must be missing or empty unless `force` is set.
    pub fn create_at(path: &Path, force: bool) -> anyhow::Result<RunDir> {
        if path.exists() {
            if !path.is_dir() {
                return Err(input_error(format!(
                    "--out {} exists and is not a folder; choose another path",
                    path.display()
                )));
            }
            let non_empty = fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(input_error(format!(
                    "--out {} is not empty and may hold earlier results; choose a new folder, \
                     or pass --force to write into it anyway",
                    path.display()
                )));
            }
        }
        fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing run folder, for resume, predict and evaluate.
    pub fn open(path: &Path) -> anyhow::Result<RunDir> {
        if !path.join("config.toml").is_file() {
            return Err(input_error(format!(
                "{} is not a trainlab run folder (no config.toml); pass the folder that \
                 `trainlab train` printed",
                path.display()
            )));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file of the run folder atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.file(name), bytes)
    }

    /// Writes a JSON file of the run folder atomically, pretty-printed.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        self.write(name, text.as_bytes())
    }
}

/// How often `metrics.csv` is rewritten while rows keep coming.
const METRICS_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// `metrics.csv`: one row per epoch or iteration, rewritten atomically so the copy on disk is
/// always complete. While rows arrive it is rewritten at most once a second, because an EM
/// iteration on a small matrix takes milliseconds. [`MetricsLog::finish`] and dropping the log
/// write the remaining rows, so an interrupted run keeps every row.
pub struct MetricsLog {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    written_rows: usize,
    last_write: Option<std::time::Instant>,
}

impl MetricsLog {
    pub fn new(run: &RunDir, header: &[&str]) -> MetricsLog {
        MetricsLog {
            path: run.file("metrics.csv"),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            written_rows: 0,
            last_write: None,
        }
    }

    /// Reloads the rows of an earlier, interrupted run so a resumed run appends to them.
    pub fn resume(run: &RunDir, header: &[&str], keep_rows: usize) -> anyhow::Result<MetricsLog> {
        let mut log = MetricsLog::new(run, header);
        if log.path.is_file() {
            let mut reader = csv::Reader::from_path(&log.path)?;
            for record in reader.records().take(keep_rows) {
                log.rows.push(record?.iter().map(str::to_string).collect());
            }
        }
        log.written_rows = log.rows.len();
        Ok(log)
    }

    /// Appends a row (values in header order) and rewrites the file when a second has passed
    /// since the last write.
    pub fn push(&mut self, values: &[f64]) -> anyhow::Result<()> {
        anyhow::ensure!(
            values.len() == self.header.len(),
            "metrics row length mismatch"
        );
        self.rows
            .push(values.iter().map(|v| format_number(*v)).collect());
        let due = self
            .last_write
            .is_none_or(|at| at.elapsed() >= METRICS_FLUSH_EVERY);
        if due { self.write() } else { Ok(()) }
    }

    /// Writes any rows not yet on disk.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if self.written_rows == self.rows.len() && self.last_write.is_some() {
            return Ok(());
        }
        self.write()
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    fn write(&mut self) -> anyhow::Result<()> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&self.header)?;
        for row in &self.rows {
            writer.write_record(row)?;
        }
        write_atomic(&self.path, &writer.into_inner()?)?;
        self.written_rows = self.rows.len();
        self.last_write = Some(std::time::Instant::now());
        Ok(())
    }
}

impl Drop for MetricsLog {
    fn drop(&mut self) {
        if self.written_rows < self.rows.len()
            && let Err(error) = self.write()
        {
            tracing::warn!(
                "failed to write {}: {error:#}; its last rows are missing",
                self.path.display()
            );
        }
    }
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// Run facts that `summary.json` records besides the metrics.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub task: String,
    pub experiment: String,
    pub backend: String,
    pub precision: String,
    pub seed: u64,
}

/// Writes `summary.json` for a finished run.
pub fn write_summary(
    run: &RunDir,
    info: &RunInfo,
    outcome: &Result<Map<String, Value>, anyhow::Error>,
    wall_seconds: f64,
) -> anyhow::Result<()> {
    let mut summary = json!({
        "task": info.task,
        "experiment": info.experiment,
        "backend": info.backend,
        "precision": info.precision,
        "seed": info.seed,
        "wall_seconds": wall_seconds,
        "versions": versions(),
    });
    let fields = summary.as_object_mut().expect("built as an object");
    match outcome {
        Ok(metrics) => {
            fields.insert("status".into(), json!("completed"));
            fields.insert("metrics".into(), Value::Object(metrics.clone()));
        }
        Err(error) => {
            fields.insert("status".into(), json!("failed"));
            fields.insert("error".into(), json!(format!("{error:#}")));
            fields.insert("metrics".into(), json!({}));
        }
    }
    run.write_json("summary.json", &summary)
}

/// Versions of trainlab and of the Burn release it is pinned to in Cargo.toml.
pub fn versions() -> Value {
    json!({ "trainlab": env!("CARGO_PKG_VERSION"), "burn": BURN_VERSION })
}

/// The Burn version pinned with `=` in Cargo.toml.
pub const BURN_VERSION: &str = "0.22.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_runs_get_two_folders() {
        let root = tempfile::tempdir().unwrap();
        let first = RunDir::create_new(root.path(), "exp").unwrap();
        let second = RunDir::create_new(root.path(), "exp").unwrap();
        assert_ne!(first.path(), second.path());
        assert!(first.path().is_dir());
        assert!(second.path().is_dir());
    }

    #[test]
    fn non_empty_out_rejected() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("old.txt"), "keep me").unwrap();
        let err = RunDir::create_at(root.path(), false).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(
            fs::read_to_string(root.path().join("old.txt")).unwrap(),
            "keep me"
        );
        assert!(RunDir::create_at(root.path(), true).is_ok());
    }

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("a.json");
        write_atomic(&target, b"{}").unwrap();
        let names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }
}
