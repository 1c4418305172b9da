//! Helpers shared by the digits integration tests: running the binary, reading run folders,
//! writing small IDX files and configs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Returns a command for the trainlab binary built for these tests.
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trainlab"));
    command.arg("--progress").arg("plain");
    command
}

/// Runs the binary with `args` and returns its output.
pub fn trainlab(args: &[&str]) -> Output {
    bin()
        .args(args)
        .output()
        .expect("the trainlab binary starts")
}

/// Stdout and stderr of a finished command, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Parses a run folder's `summary.json`.
pub fn summary(run: &Path) -> Value {
    let text = std::fs::read_to_string(run.join("summary.json")).expect("summary.json exists");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// Reads a float metric of `summary.json`.
pub fn metric(run: &Path, name: &str) -> f64 {
    summary(run)["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("summary has no numeric metric {name}"))
}

/// Returns the data root from `TRAINLAB_DATA`, and fails with a clear message without it.
pub fn data_root() -> PathBuf {
    let root = std::env::var("TRAINLAB_DATA").expect(
        "this test needs real data: set TRAINLAB_DATA to the folder holding mnist/ and pass \
         --ignored",
    );
    PathBuf::from(root)
}

/// Writes a config file into `dir` and returns its path.
pub fn write_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("[experiment]\ntask = \"digits\"\n{body}")).unwrap();
    path
}

/// Encodes an uncompressed IDX image file.
pub fn idx_images(pixels: &[u8]) -> Vec<u8> {
    let count = pixels.len() / 784;
    let mut out = Vec::new();
    for value in [2051u32, count as u32, 28, 28] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes an uncompressed IDX label file.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&2049u32.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Reads `metrics.csv` rows as strings, header excluded.
pub fn metrics_rows(run: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(run.join("metrics.csv")).expect("metrics.csv");
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}
