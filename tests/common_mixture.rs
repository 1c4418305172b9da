//! Helpers shared by the mixture family's integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::Device;
use trainlab::backend::BackendChoice;
use trainlab::config::Precision;
use trainlab::mixture::config::{Algorithm, InitRows};
use trainlab::mixture::data::Ratings;
use trainlab::mixture::em::Layout;
use trainlab::mixture::fit::{
    Blocks, FitSettings, FitState, Restart, fit, initial_mixture, initial_rows,
};

/// Returns the `netflix` folder under the data root named by `TRAINLAB_DATA`.
pub fn netflix_dir() -> PathBuf {
    let root = std::env::var_os("TRAINLAB_DATA").expect(
        "this test needs real data: set TRAINLAB_DATA to the folder holding netflix/ and pass \
         --ignored",
    );
    PathBuf::from(root).join("netflix")
}

/// Builds an f64 device of the named backend.
pub fn device(backend: &str) -> Device {
    BackendChoice::new(backend, 0, Precision::F64)
        .and_then(|choice| choice.device(0))
        .expect("an f64 CPU device")
}

/// Course settings for EM (`min_variance` 0.25, tolerance 1e-6) or K-means.
pub fn settings(algorithm: Algorithm) -> FitSettings {
    FitSettings {
        algorithm,
        min_variance: 0.25,
        tolerance: 1e-6,
        max_iterations: 1000,
    }
}

/// Fits one restart per seed from NumPy-chosen rows, with dense blocks.
pub fn restarts(
    ratings: &Ratings,
    k: usize,
    seeds: &[u64],
    settings: FitSettings,
    chunk: Option<usize>,
    device: &Device,
) -> Vec<Restart> {
    restarts_in(ratings, k, seeds, settings, chunk, Layout::Dense, device)
}

/// Fits one restart per seed from NumPy-chosen rows, with blocks of the given layout.
pub fn restarts_in(
    ratings: &Ratings,
    k: usize,
    seeds: &[u64],
    settings: FitSettings,
    chunk: Option<usize>,
    layout: Layout,
    device: &Device,
) -> Vec<Restart> {
    let mut blocks = Blocks::new(ratings, chunk, layout, device);
    seeds
        .iter()
        .map(|&seed| {
            let rows = initial_rows(InitRows::Numpy, seed, ratings.users, k).unwrap();
            let start = initial_mixture(ratings, &rows, settings.min_variance);
            let from = FitState::start(seed, start);
            fit(&mut blocks, from, settings, &mut |_| Ok(())).unwrap()
        })
        .collect()
}

/// Asserts `|actual − expected| <= tolerance · max(1, |expected|)` for every entry.
pub fn assert_close(label: &str, actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{label}: length");
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        let scale = e.abs().max(1.0);
        assert!(
            (a - e).abs() <= tolerance * scale,
            "{label}[{index}]: got {a}, expected {e} (tolerance {tolerance})"
        );
    }
}

/// Parses the course's printed solutions: every `Name:` block of numbers (NumPy's printed
/// arrays or a number after the colon), keyed `section/Name`. A section is a heading line
/// without numbers, such as `After first E-step:` or `After a run`.
pub fn parse_solutions(text: &str) -> HashMap<String, Vec<f64>> {
    let mut blocks = HashMap::new();
    let mut section = String::new();
    let mut current: Option<(String, Vec<f64>)> = None;
    for line in text.lines() {
        // A heading without a colon, such as "After a run", starts a section too.
        if !line.contains(':') && line.trim().starts_with(char::is_alphabetic) {
            if let Some((key, values)) = current.take() {
                blocks.insert(key, values);
            }
            section = line.trim().to_string();
            continue;
        }
        let (label, rest) = match line.split_once(':') {
            Some((label, rest)) if !label.contains('[') => (Some(label.trim()), rest),
            _ => (None, line),
        };
        if let Some(label) = label {
            if let Some((key, values)) = current.take() {
                blocks.insert(key, values);
            }
            if rest.trim().is_empty() && !is_block_name(label) {
                section = label.to_string();
                continue;
            }
            current = Some((format!("{section}/{label}"), Vec::new()));
        }
        if let Some((_, values)) = current.as_mut() {
            values.extend(numbers(rest));
        }
    }
    if let Some((key, values)) = current.take() {
        blocks.insert(key, values);
    }
    blocks
}

fn is_block_name(label: &str) -> bool {
    matches!(
        label,
        "X" | "Mu" | "Var" | "P" | "post" | "X_gold" | "X_pred" | "LL" | "RMSE" | "K"
    )
}

fn numbers(text: &str) -> impl Iterator<Item = f64> + '_ {
    text.split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .filter(|field| !field.is_empty())
        .map(|field| {
            field
                .parse::<f64>()
                .expect("a number in the solutions file")
        })
}
