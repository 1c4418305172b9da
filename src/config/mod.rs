//! Experiment configs: TOML files plus `--set` overrides, checked in two stages.
//!
//! A family's plain serde struct mirrors the TOML (every key has a default), and its `validate`
//! turns it into checked parameters. Only checked parameters reach training code. Every error
//! names the key, where it was set (file and line, or the `--set` flag) and what is allowed.

mod document;
mod error;
mod sections;
mod sweep;

pub use document::{ConfigDoc, Override};
pub use error::{ConfigError, FieldError};
pub use sections::{BackendSection, ExperimentSection, Precision, Task};
pub use sweep::{SweepPoint, expand_sweep};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A family's TOML-facing config: the raw struct and the step that checks it.
pub trait ExperimentConfig: Serialize + DeserializeOwned {
    /// Parameters that passed every check; the only form training code accepts.
    type Checked;

    /// The precision used when the file does not set `backend.precision`.
    const DEFAULT_PRECISION: Precision;

    fn experiment_mut(&mut self) -> &mut ExperimentSection;
    fn backend_mut(&mut self) -> &mut BackendSection;

    /// Checks ranges and combinations of values.
    fn validate(&self) -> Result<Self::Checked, FieldError>;
}

/// A config with every default filled in, next to its checked form.
pub struct Resolved<C: ExperimentConfig> {
    pub raw: C,
    pub checked: C::Checked,
}

impl<C: ExperimentConfig> Resolved<C> {
    /// Renders the fully resolved config as TOML, as `config show` prints it and run folders
    /// store it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.raw).expect("a config struct always serializes to TOML")
    }
}

/// Deserializes, fills defaults and validates a config document as family `C`.
pub fn resolve<C: ExperimentConfig>(doc: &ConfigDoc) -> Result<Resolved<C>, ConfigError> {
    let mut raw: C = doc.deserialize()?;
    let stem = doc.stem();
    let experiment = raw.experiment_mut();
    if experiment.name.is_empty() {
        experiment.name = format!("{}-{}", experiment.task.as_str(), stem);
    }
    check_experiment_name(&experiment.name).map_err(|e| doc.locate(e))?;
    let backend = raw.backend_mut();
    backend.precision.get_or_insert(C::DEFAULT_PRECISION);
    let checked = raw.validate().map_err(|e| doc.locate(e))?;
    Ok(Resolved { raw, checked })
}

/// Rejects experiment names that are not a single plain folder name, because run folders go to
/// `artifacts/<name>/` and a name such as `../x` would write outside the artifacts folder.
fn check_experiment_name(name: &str) -> Result<(), FieldError> {
    let plain = !name.trim().is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err(FieldError::new(
            "experiment.name",
            format!("{name:?} is not a plain folder name; use letters, digits, '-' or '_'"),
        ))
    }
}

/// Shared range checks used by every family's `validate`.
pub mod checks {
    use super::FieldError;

    /// Requires `value > 0`.
    pub fn positive(key: &str, value: f64) -> Result<f64, FieldError> {
        if value > 0.0 && value.is_finite() {
            Ok(value)
        } else {
            Err(FieldError::out_of_range(key, value, "a finite number > 0"))
        }
    }

    /// Requires `value >= 0`.
    pub fn non_negative(key: &str, value: f64) -> Result<f64, FieldError> {
        if value >= 0.0 && value.is_finite() {
            Ok(value)
        } else {
            Err(FieldError::out_of_range(key, value, "a finite number >= 0"))
        }
    }

    /// Requires `low <= value <= high`.
    pub fn within(key: &str, value: f64, low: f64, high: f64) -> Result<f64, FieldError> {
        if (low..=high).contains(&value) {
            Ok(value)
        } else {
            Err(FieldError::out_of_range(
                key,
                value,
                &format!("{low} to {high}"),
            ))
        }
    }

    /// Requires an integer of at least `min`.
    pub fn at_least(key: &str, value: i64, min: i64) -> Result<usize, FieldError> {
        if value >= min {
            Ok(value as usize)
        } else {
            Err(FieldError::out_of_range(
                key,
                value,
                &format!("an integer >= {min}"),
            ))
        }
    }
}
