//! PLACEHOLDER family skeleton: replaced by the real implementation.

use serde::{Deserialize, Serialize};

use crate::cli::PredictArgs;
use crate::config::ConfigDoc;
use crate::config::{BackendSection, ExperimentConfig, ExperimentSection, FieldError, Precision};
use crate::experiment::{Family, Metrics, RunContext};
use crate::run::RunDir;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsConfig {
    pub experiment: ExperimentSection,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

impl ExperimentConfig for DigitsConfig {
    type Checked = ();
    const DEFAULT_PRECISION: Precision = Precision::F32;

    fn experiment_mut(&mut self) -> &mut ExperimentSection {
        &mut self.experiment
    }

    fn backend_mut(&mut self) -> &mut BackendSection {
        &mut self.backend
    }

    fn validate(&self) -> Result<(), FieldError> {
        Ok(())
    }
}

pub struct Digits;

impl Family for Digits {
    type Config = DigitsConfig;
    const SWEEP_SELECT: &'static str = "score";
    const SWEEP_PLOT: &'static [&'static str] = &["score"];

    fn train(_checked: &(), _ctx: &RunContext) -> anyhow::Result<Metrics> {
        anyhow::bail!("the digits family is not implemented yet")
    }

    fn sweep_table(raw: &DigitsConfig) -> Option<&toml::Table> {
        raw.sweep.as_ref()
    }
}

pub fn predict(_run: &RunDir, _doc: &ConfigDoc, _args: &PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("the digits family is not implemented yet")
}

pub fn evaluate(_run: &RunDir, _doc: &ConfigDoc) -> anyhow::Result<Metrics> {
    anyhow::bail!("the digits family is not implemented yet")
}
