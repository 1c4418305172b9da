//! Collaborative filtering with Gaussian mixtures: K-means, EM on complete data and EM with
//! missing entries, BIC model selection and matrix completion, in Burn tensor ops.
//!
//! `config` contains the TOML keys, `data` the readers, `fit` and `em` the algorithms, `complete`
//! the predictions and `train` the run that ties them together.

pub mod checkpoint;
pub mod complete;
pub mod config;
pub mod data;
pub mod em;
pub mod fit;
pub mod model;
pub mod numpy_rng;
pub mod plot;
pub mod synthetic;
pub mod train;

pub use config::{MixtureConfig, MixtureParams};
pub use model::GaussianMixture;

use serde_json::json;

use crate::backend::BackendChoice;
use crate::bail_input;
use crate::cli::PredictArgs;
use crate::config::{ConfigDoc, ExperimentConfig, Resolved, resolve};
use crate::experiment::{Family, Metrics, RunContext};
use crate::run::RunDir;
use complete::{CompletionRequest, complete, rmse};
use fit::Blocks;

/// The Gaussian-mixture family.
pub struct Mixture;

impl Family for Mixture {
    type Config = MixtureConfig;
    // BIC = LL − (p/2)·ln n, larger is better, so a `[sweep] k = [...]` picks K by BIC.
    const SWEEP_SELECT: &'static str = "bic";
    const SWEEP_PLOT: &'static [&'static str] = &["bic", "log_likelihood"];
    const SWEEP_HINT: &'static str =
        "BIC needs model.algorithm = \"em\"; sweep K-means by running each K";

    fn train(checked: &MixtureParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
        train::train(checked, ctx)
    }

    fn sweep_table(raw: &MixtureConfig) -> Option<&toml::Table> {
        raw.sweep.as_ref()
    }
}

fn device_for(resolved: &mut Resolved<MixtureConfig>) -> anyhow::Result<burn::tensor::Device> {
    let backend = resolved.raw.backend_mut().clone();
    let precision = backend
        .precision
        .unwrap_or(MixtureConfig::DEFAULT_PRECISION);
    let choice = BackendChoice::new(&backend.name, backend.device, precision)?;
    choice.device(resolved.raw.experiment.seed)
}

/// Completes the partial rating rows of `--ratings` with the run's mixture and prints them
/// (or writes them to `--output`) in the dense text format.
pub fn predict(run: &RunDir, doc: &ConfigDoc, args: &PredictArgs) -> anyhow::Result<()> {
    if !args.images.is_empty() || !args.text.is_empty() || args.input.is_some() || args.invert {
        bail_input!(
            "a mixture run completes rating rows: pass --ratings FILE (images, --text, --input \
             and --invert are for the other families)"
        );
    }
    let Some(path) = &args.ratings else {
        bail_input!("pass --ratings FILE with the partial rating rows to complete");
    };
    let mut resolved = resolve::<MixtureConfig>(doc)?;
    let mixture = train::load_mixture(run)?;
    let ratings = data::read_matrix(path, resolved.checked.missing)?;
    check_width(path, ratings.items, mixture.d)?;
    let device = device_for(&mut resolved)?;
    let mut blocks = Blocks::new(
        &ratings,
        resolved.checked.chunk_users,
        resolved.checked.layout.pick(&ratings),
        &device,
    );
    let request = CompletionRequest {
        values: true,
        labels: false,
        hard_labels: false,
        clip: resolved.checked.clip,
    };
    let completion = complete(&mut blocks, &mixture, request)?;
    let values = completion.values.expect("values were requested");
    let text = data::format_matrix(ratings.items, &values);
    match &args.output {
        Some(output) => crate::run::write_atomic(output, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn check_width(path: &std::path::Path, items: usize, d: usize) -> anyhow::Result<()> {
    if items != d {
        bail_input!(
            "{} has {items} values per line, but the mixture was trained on {d} items",
            path.display()
        );
    }
    Ok(())
}

/// Scores the run's saved mixture on the configured data: log-likelihood, BIC and, with a
/// complete matrix, RMSE.
pub fn evaluate(run: &RunDir, doc: &ConfigDoc) -> anyhow::Result<Metrics> {
    let mut resolved = resolve::<MixtureConfig>(doc)?;
    let params = resolved.checked.clone();
    let mixture = train::load_mixture(run)?;
    let loaded = train::load(&params, resolved.raw.experiment.seed)?;
    let source = match &params.source {
        config::Source::Matrix(path) | config::Source::Triplets(path) => path.clone(),
        config::Source::Synthetic(_) => std::path::PathBuf::from("the synthetic data"),
    };
    check_width(&source, loaded.ratings.items, mixture.d)?;
    let device = device_for(&mut resolved)?;
    let mut blocks = Blocks::new(
        &loaded.ratings,
        params.chunk_users,
        params.layout.pick(&loaded.ratings),
        &device,
    );
    let request = CompletionRequest {
        values: loaded.complete.is_some(),
        labels: false,
        hard_labels: false,
        clip: params.clip,
    };
    let completion = complete(&mut blocks, &mixture, request)?;
    let mut metrics = Metrics::new();
    let users = loaded.ratings.users;
    metrics.insert("log_likelihood".into(), json!(completion.log_likelihood));
    metrics.insert(
        "bic".into(),
        json!(mixture.bic(completion.log_likelihood, users)),
    );
    if let (Some(truth), Some(values)) = (&loaded.complete, &completion.values) {
        let (overall, missing) = rmse(values, truth, &train::missing_mask(&loaded.ratings));
        metrics.insert("rmse".into(), json!(overall));
        if let Some(value) = missing {
            metrics.insert("rmse_missing".into(), json!(value));
        }
    }
    Ok(metrics)
}
