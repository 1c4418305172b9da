//! Review sentiment: course-exact linear classifiers on bag-of-words features.
//!
//! Perceptron, average perceptron and Pegasos follow the MIT 6.86x update rules on sparse
//! rows; hinge-sgd and logistic train the same Burn module with autodiff. Runs write the
//! weights as safetensors, the dictionary, `metrics.csv` and SVG plots.

pub mod config;
pub mod data;
pub mod dataset;
pub mod features;
pub mod gradient;
pub mod model;
pub mod online;
pub mod outputs;
pub mod predict;
pub mod synthetic;
pub mod train;

pub use config::{SentimentConfig, SentimentParams};
pub use predict::{evaluate, predict};

use crate::experiment::{Family, Metrics, RunContext};

/// The sentiment family's entry point for the launcher.
pub struct Sentiment;

impl Family for Sentiment {
    type Config = SentimentConfig;
    const SWEEP_SELECT: &'static str = "val_accuracy";
    const SWEEP_PLOT: &'static [&'static str] = &["train_accuracy", "val_accuracy"];
    const SWEEP_HINT: &'static str =
        "set data.val to a validation file so the runs report val_accuracy";

    /// Trains from scratch; `ctx.resume` also retrains, because an online run takes seconds.
    fn train(checked: &SentimentParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
        train::run(checked, ctx)
    }

    fn sweep_table(raw: &SentimentConfig) -> Option<&toml::Table> {
        raw.sweep.as_ref()
    }
}
