//! The digits family's `train`: load data, fit, score on the test split, export, draw.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::config::{DigitsParams, ModelKind};
use super::data::{self, DigitData};
use super::export::{self, ExportedModel};
use super::model::{Cnn, DigitNet, Mlp};
use super::report::{self, Confusion};
use super::train::{self, Outcome};
use crate::experiment::{Metrics, RunContext};

/// Trains the configured network and returns the summary metrics.
pub fn train(params: &DigitsParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
    // Every file is read and checked here, before the first epoch.
    let data = data::load(&params.data, ctx.seed)?;
    ctx.progress.line(&format!(
        "digits: {} training, {} dev, {} test images",
        data.train.len(),
        data.dev.as_ref().map_or(0, |d| d.len()),
        data.test.len()
    ));
    let device = ctx.device.clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    match params.model.kind {
        ModelKind::Mlp => {
            let model = Mlp::new(&params.model, &mut rng, &device);
            finish(model, params, &data, ctx)
        }
        ModelKind::Cnn => {
            let model = Cnn::new(&params.model, &mut rng, &device);
            finish(model, params, &data, ctx)
        }
    }
}

fn finish<M: DigitNet>(
    model: M,
    params: &DigitsParams,
    data: &DigitData,
    ctx: &RunContext,
) -> anyhow::Result<Metrics> {
    let device = ctx.device.clone().autodiff();
    let outcome = train::fit(model, params, data, ctx, &device)?;
    let best = outcome.best_model.valid();
    let (test, predictions) = train::score(&best, &data.test, params.data.normalize, &ctx.device);
    let confusion = Confusion::new(&data.test.labels, &predictions);
    write_figures(ctx, &confusion)?;
    let info = ExportedModel {
        model: params.model.clone(),
        normalize: params.data.normalize,
        epoch: outcome.state.best_epoch,
    };
    export::export(&ctx.run, &best, &info)?;
    Ok(summary_metrics(&outcome, test))
}

fn write_figures(ctx: &RunContext, confusion: &Confusion) -> anyhow::Result<()> {
    let rows = read_metrics_rows(ctx)?;
    report::write_learning_curves(&ctx.run, &rows)?;
    let svg = report::confusion_svg(confusion, "test confusion matrix");
    ctx.run.write("confusion.svg", svg.as_bytes())?;
    ctx.run.write_json("confusion.json", &confusion.to_json())
}

fn read_metrics_rows(ctx: &RunContext) -> anyhow::Result<Vec<Vec<String>>> {
    let mut reader = csv::Reader::from_path(ctx.run.file("metrics.csv"))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record?.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

fn summary_metrics<M>(outcome: &Outcome<M>, test: train::Tally) -> Metrics {
    let mut metrics = Metrics::new();
    metrics.insert("test_accuracy".into(), test.accuracy().into());
    metrics.insert("test_loss".into(), test.mean_loss().into());
    let dev = outcome
        .state
        .best_dev_accuracy
        .map_or(Value::Null, Value::from);
    metrics.insert("dev_accuracy".into(), dev);
    metrics.insert(
        "train_images_per_second".into(),
        outcome.train_images_per_second.into(),
    );
    metrics.insert("epochs".into(), outcome.state.epochs_done.into());
    metrics.insert("best_epoch".into(), outcome.state.best_epoch.into());
    metrics
}
