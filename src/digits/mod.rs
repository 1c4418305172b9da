//! Digit recognition: the MIT 6.86x MLP and CNN on MNIST-format data, trained with Burn
//! autodiff, checkpointed every epoch, resumable, and exported for PyTorch.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod download;
pub mod export;
mod family;
pub mod idx;
pub mod model;
pub mod predict;
pub mod report;
pub mod synthetic;
pub mod train;

pub use config::{DigitsConfig, DigitsParams};
pub use predict::{evaluate, predict};

use crate::experiment::{Family, Metrics, RunContext};

/// The digits family as the launcher sees it.
pub struct Digits;

impl Family for Digits {
    type Config = DigitsConfig;
    const SWEEP_SELECT: &'static str = "dev_accuracy";
    const SWEEP_PLOT: &'static [&'static str] = &["dev_accuracy", "test_accuracy"];
    const SWEEP_HINT: &'static str = "set data.dev_fraction above 0 so the runs have a dev set";

    fn train(checked: &DigitsParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
        family::train(checked, ctx)
    }

    fn sweep_table(raw: &DigitsConfig) -> Option<&toml::Table> {
        raw.sweep.as_ref()
    }
}
