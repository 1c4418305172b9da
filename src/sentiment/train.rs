//! One sentiment run: prepare the data, fit, score every split and write the outputs.

use burn::tensor::Device;
use serde_json::json;

use super::config::{Algorithm, SentimentParams};
use super::dataset::{self, Prepared, Split};
use super::gradient::{self, MiniBatchTrainer};
use super::model::{LinearClassifier, SparseBatch};
use super::online::{self, LinearWeights};
use super::outputs;
use crate::experiment::{Metrics, RunContext};
use crate::run::MetricsLog;

/// Trains the configured algorithm and returns the summary metrics.
pub fn run(params: &SentimentParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
    let prepared = dataset::prepare(&params.data, &params.features, ctx.seed)?;
    let evaluator = Evaluator::new(&prepared, &ctx.device);
    let mut history = History::new(ctx, prepared.val.is_some(), params.model.algorithm);

    let weights = fit(params, &prepared, &evaluator, ctx, &mut history)?;
    history.log.finish()?;
    let model = LinearClassifier::from_weights(&weights, &ctx.device);
    let compared = compare_online(params, &prepared);

    outputs::save_model(&ctx.run, &model)?;
    outputs::write_run_files(&ctx.run, &prepared, &compared, &history.records)?;
    let mut metrics = summary(params, &prepared, &evaluator, &model, &weights);
    if !compared.is_empty() {
        metrics.insert(
            "algorithms".into(),
            algorithms_metric(&compared, &evaluator, ctx),
        );
    }
    Ok(metrics)
}

/// Fits all three online algorithms with the run's T, λ and visiting order when the data are
/// 2-D points, so one run reports and draws θ, θ0 of each. This costs O(T · n) on a few hundred
/// points. Returns nothing for review data.
fn compare_online(
    params: &SentimentParams,
    prepared: &Prepared,
) -> Vec<(Algorithm, LinearWeights)> {
    if prepared.dictionary.is_some() {
        return Vec::new();
    }
    let algorithms = [
        Algorithm::Perceptron,
        Algorithm::AveragePerceptron,
        Algorithm::Pegasos,
    ];
    let dim = prepared.train.features.dim;
    algorithms
        .into_iter()
        .filter_map(|algorithm| {
            let mut learner = online::learner(algorithm, dim, params.model.lambda)?;
            for _ in 0..params.model.epochs {
                online::run_epoch(
                    learner.as_mut(),
                    &prepared.train.features,
                    &prepared.train.labels,
                    &prepared.order,
                );
            }
            Some((algorithm, learner.weights()))
        })
        .collect()
}

fn algorithms_metric(
    compared: &[(Algorithm, LinearWeights)],
    evaluator: &Evaluator,
    ctx: &RunContext,
) -> serde_json::Value {
    let mut all = serde_json::Map::new();
    for (algorithm, weights) in compared {
        let model = LinearClassifier::from_weights(weights, &ctx.device);
        let (train_accuracy, val_accuracy, _) = evaluator.accuracies(&model);
        let mut entry = json!({
            "theta": weights.theta,
            "theta0": weights.theta0,
            "train_accuracy": train_accuracy,
        });
        if let Some(val) = val_accuracy {
            entry["val_accuracy"] = json!(val);
        }
        all.insert(algorithm.as_str().to_string(), entry);
    }
    serde_json::Value::Object(all)
}

/// Trains on prepared data, reporting each epoch to `history`.
pub fn fit(
    params: &SentimentParams,
    prepared: &Prepared,
    evaluator: &Evaluator,
    ctx: &RunContext,
    history: &mut History,
) -> anyhow::Result<LinearWeights> {
    let model = params.model;
    let Some(mut learner) =
        online::learner(model.algorithm, prepared.train.features.dim, model.lambda)
    else {
        return fit_mini_batch(params, prepared, evaluator, ctx, history);
    };
    for epoch in 1..=model.epochs {
        crate::interrupt::check()?;
        let task = ctx.progress.task("epoch", prepared.order.len() as u64);
        online::run_epoch(
            learner.as_mut(),
            &prepared.train.features,
            &prepared.train.labels,
            &prepared.order,
        );
        task.inc(prepared.order.len() as u64);
        let line = history.record(epoch, &learner.weights(), None, evaluator)?;
        task.finish(&line);
    }
    Ok(learner.weights())
}

fn fit_mini_batch(
    params: &SentimentParams,
    prepared: &Prepared,
    evaluator: &Evaluator,
    ctx: &RunContext,
    history: &mut History,
) -> anyhow::Result<LinearWeights> {
    let trainer = MiniBatchTrainer {
        features: &prepared.train.features,
        labels: &prepared.train.labels,
        model: params.model,
        train: params.train,
        device: ctx.device.clone().autodiff(),
    };
    let mut model = trainer.initial_model();
    let mut optimizer = trainer.optimizer();
    let mut rng = gradient::shuffle_rng(ctx.seed);
    for epoch in 1..=params.model.epochs {
        let task = ctx.progress.task("epoch", 1);
        let (next, loss) = trainer.run_epoch(model, &mut optimizer, &mut rng)?;
        model = next;
        task.inc(1);
        let line = history.record(epoch, &gradient::weights_of(&model), Some(loss), evaluator)?;
        task.finish(&line);
    }
    Ok(gradient::weights_of(&model))
}

/// The labeled splits copied to the device once, for scoring after every epoch.
pub struct Evaluator {
    device: Device,
    train: (SparseBatch, Vec<f64>),
    val: Option<(SparseBatch, Vec<f64>)>,
    test: Option<(SparseBatch, Vec<f64>)>,
}

impl Evaluator {
    pub fn new(prepared: &Prepared, device: &Device) -> Self {
        let copy = |split: &Split| {
            (
                SparseBatch::all(&split.features, device),
                split.labels.clone(),
            )
        };
        Evaluator {
            device: device.clone(),
            train: copy(&prepared.train),
            val: prepared.val.as_ref().map(copy),
            test: prepared.test.as_ref().map(copy),
        }
    }

    /// Returns train, val and test accuracy of `model` (val and test when present).
    pub fn accuracies(&self, model: &LinearClassifier) -> (f64, Option<f64>, Option<f64>) {
        let score = |(batch, labels): &(SparseBatch, Vec<f64>)| model.accuracy(batch, labels);
        (
            score(&self.train),
            self.val.as_ref().map(score),
            self.test.as_ref().map(score),
        )
    }

    /// Returns train and val accuracy of plain weights, scored on the device.
    pub fn epoch_accuracies(&self, weights: &LinearWeights) -> (f64, Option<f64>) {
        let model = LinearClassifier::from_weights(weights, &self.device);
        let score = |(batch, labels): &(SparseBatch, Vec<f64>)| model.accuracy(batch, labels);
        (score(&self.train), self.val.as_ref().map(score))
    }
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
    pub loss: Option<f64>,
}

/// Per-epoch accuracies, kept in memory for the plot and written to `metrics.csv` as they come.
pub struct History {
    log: MetricsLog,
    pub records: Vec<EpochRecord>,
}

impl History {
    pub fn new(ctx: &RunContext, has_val: bool, algorithm: Algorithm) -> Self {
        let mut header = vec!["epoch", "train_accuracy"];
        if has_val {
            header.push("val_accuracy");
        }
        if !algorithm.is_online() {
            header.push("loss");
        }
        History {
            log: MetricsLog::new(&ctx.run, &header),
            records: Vec::new(),
        }
    }

    /// Scores `weights`, appends the row and returns the progress line.
    fn record(
        &mut self,
        epoch: usize,
        weights: &LinearWeights,
        loss: Option<f64>,
        evaluator: &Evaluator,
    ) -> anyhow::Result<String> {
        let (train_accuracy, val_accuracy) = evaluator.epoch_accuracies(weights);
        let mut row = vec![epoch as f64, train_accuracy];
        row.extend(val_accuracy);
        row.extend(loss);
        self.log.push(&row)?;
        self.records.push(EpochRecord {
            epoch,
            train_accuracy,
            val_accuracy,
            loss,
        });
        let mut line = format!("epoch {epoch:>3}  train_accuracy {train_accuracy:.4}");
        if let Some(val) = val_accuracy {
            line.push_str(&format!("  val_accuracy {val:.4}"));
        }
        if let Some(loss) = loss {
            line.push_str(&format!("  loss {loss:.5}"));
        }
        Ok(line)
    }
}

/// Builds the summary metrics: accuracies scored by the final module, the dictionary facts,
/// and θ for point data.
fn summary(
    params: &SentimentParams,
    prepared: &Prepared,
    evaluator: &Evaluator,
    model: &LinearClassifier,
    weights: &LinearWeights,
) -> Metrics {
    let (train, val, test) = evaluator.accuracies(model);
    let mut metrics = Metrics::new();
    metrics.insert("algorithm".into(), json!(params.model.algorithm.as_str()));
    metrics.insert("epochs".into(), json!(params.model.epochs));
    metrics.insert("lambda".into(), json!(params.model.lambda));
    metrics.insert("train_accuracy".into(), json!(train));
    if let Some(val) = val {
        metrics.insert("val_accuracy".into(), json!(val));
    }
    if let Some(test) = test {
        metrics.insert("test_accuracy".into(), json!(test));
    }
    match &prepared.dictionary {
        Some(dictionary) => {
            let (positive, negative) = outputs::top_words(dictionary, &weights.theta, 10);
            metrics.insert("dictionary_size".into(), json!(dictionary.len()));
            metrics.insert("top_positive_words".into(), json!(positive));
            metrics.insert("top_negative_words".into(), json!(negative));
        }
        None => {
            metrics.insert("theta".into(), json!(weights.theta));
            metrics.insert("theta0".into(), json!(weights.theta0));
        }
    }
    metrics
}
