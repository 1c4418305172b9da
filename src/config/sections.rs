use serde::{Deserialize, Serialize};

/// The experiment family a config file runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Sentiment,
    Digits,
    Mixture,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Sentiment, Task::Digits, Task::Mixture];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Sentiment => "sentiment",
            Task::Digits => "digits",
            Task::Mixture => "mixture",
        }
    }
}

/// `[experiment]`: what runs and the seed behind every random choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    pub task: Task,
    /// Run folders go to `artifacts/<name>/`; defaults to `<task>-<config file stem>`.
    #[serde(default)]
    pub name: String,
    /// Drives initialization, shuffling, restarts and synthetic data. Every value, 0 included,
    /// is an ordinary seed.
    #[serde(default)]
    pub seed: u64,
}

/// Floating-point precision of tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// `[backend]`: which compiled Burn backend runs the experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSection {
    #[serde(default = "default_backend_name")]
    pub name: String,
    /// Device index for backends with several devices (GPUs); ignored by CPU backends.
    #[serde(default)]
    pub device: usize,
    /// `f32` or `f64`; each family picks its default when the file leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
}

impl Default for BackendSection {
    fn default() -> Self {
        BackendSection {
            name: default_backend_name(),
            device: 0,
            precision: None,
        }
    }
}

fn default_backend_name() -> String {
    "flex".to_string()
}
