//! The one training loop shared by both networks: optimizer, loss, epochs and scoring.
//!
//! Each epoch draws its shuffle seed and its dropout seed from the run seed and the epoch
//! number, so a run resumed from the checkpoint after epoch k replays epoch k + 1 exactly.

use std::time::Instant;

use anyhow::Context;
use burn::data::dataloader::DataLoaderBuilder;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig,
};
use burn::tensor::{Device, Int, Tensor};

use super::checkpoint::{self, TrainState};
use super::config::{DigitsParams, Normalize, OptimizerKind, TrainParams};
use super::data::{DigitBatcher, DigitData, Split};
use super::model::DigitNet;
use crate::experiment::RunContext;
use crate::run::MetricsLog;

/// Columns of `metrics.csv`.
pub const METRICS_HEADER: [&str; 9] = [
    "epoch",
    "learning_rate",
    "train_loss",
    "train_accuracy",
    "dev_loss",
    "dev_accuracy",
    "seconds",
    "images_per_second",
    "best",
];

/// Batch size used when scoring, where no gradients are kept.
const SCORE_BATCH: usize = 500;

/// Builds the optimizer. SGD momentum uses dampening 0, as PyTorch's `torch.optim.SGD` does
/// (Burn's own default is 0.1), and Adam uses PyTorch's epsilon 1e-8 (Burn's is 1e-5).
pub fn build_optimizer(train: &TrainParams) -> ModuleOptimizer {
    let decay =
        (train.weight_decay > 0.0).then(|| WeightDecayConfig::new(train.weight_decay as f32));
    match train.optimizer {
        OptimizerKind::Sgd => {
            let momentum = (train.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(train.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(train.nesterov)
            });
            SgdConfig::new()
                .with_momentum(momentum)
                .with_weight_decay(decay)
                .init()
        }
        OptimizerKind::Adam => AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(decay)
            .init(),
    }
}

/// Per-sample cross-entropy of logits against class indices, computed stably: the row
/// maximum is subtracted before `exp`, so logits like `[1e8, 1e8]` give ln 2, not NaN.
///
/// # Shapes
/// `logits`: `[batch, classes]`, `targets`: `[batch]` → `[batch]`.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let max = logits.clone().detach().max_dim(1);
    let shifted = logits - max;
    let log_sum_exp = shifted.clone().exp().sum_dim(1).log();
    let picked = shifted.gather(1, targets.unsqueeze_dim(1));
    (log_sum_exp - picked).squeeze_dim(1)
}

/// Loss and accuracy summed per sample, so a last partial batch weighs by its size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
}

impl Tally {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count.max(1) as f64
    }
}

/// Counts correct predictions in a batch and returns the predicted classes.
///
/// # Shapes
/// `logits`: `[batch, classes]`.
fn predicted_classes(logits: Tensor<2>) -> Vec<u8> {
    let classes = logits.argmax(1).into_data();
    classes.iter::<i64>().map(|c| c as u8).collect()
}

fn count_correct(predictions: &[u8], labels: &[u8]) -> usize {
    predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count()
}

/// Scores a model (in eval mode) on a split, and returns the predicted class of every item.
pub fn score<M: DigitNet>(
    model: &M,
    split: &Split,
    normalize: Normalize,
    device: &Device,
) -> (Tally, Vec<u8>) {
    let loader = DataLoaderBuilder::new(DigitBatcher::new(split, normalize))
        .batch_size(SCORE_BATCH)
        .set_device(device.clone())
        .build(split.dataset());
    let mut tally = Tally::default();
    let mut predictions = Vec::with_capacity(split.len());
    for batch in loader.iter() {
        let batch = batch.expect("in-memory digit batches cannot fail");
        let logits = model.forward(batch.images);
        let loss = cross_entropy(logits.clone(), batch.targets).sum();
        let classes = predicted_classes(logits);
        tally.loss_sum += loss.into_scalar::<f64>();
        tally.correct += count_correct(&classes, &batch.labels);
        tally.count += batch.labels.len();
        predictions.extend(classes);
    }
    (tally, predictions)
}

/// Derives the seed of one epoch's shuffle and dropout masks from the run seed.
pub fn epoch_seed(run_seed: u64, epoch: usize) -> u64 {
    // SplitMix64 finalizer: nearby (seed, epoch) pairs get unrelated seeds.
    let mut z = run_seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One epoch's result.
pub struct EpochResult<M> {
    pub model: M,
    pub tally: Tally,
    pub train_seconds: f64,
}

/// Settings and context shared by every epoch of one run.
pub struct Trainer<'a> {
    pub params: &'a DigitsParams,
    pub ctx: &'a RunContext,
    /// The autodiff device training runs on.
    pub device: &'a Device,
}

impl Trainer<'_> {
    /// Runs one epoch of minibatch training and stops at the first non-finite loss.
    fn train_epoch<M: DigitNet>(
        &self,
        mut model: M,
        optimizer: &mut ModuleOptimizer,
        split: &Split,
        state: &mut TrainState,
    ) -> anyhow::Result<EpochResult<M>> {
        let (epoch, train) = (state.epochs_done, &self.params.train);
        let learning_rate = train.learning_rate_at(epoch);
        let seed = epoch_seed(state.seed, epoch);
        // Dropout masks of this epoch come from the device generator.
        self.device.seed(seed);
        let loader = DataLoaderBuilder::new(DigitBatcher::new(split, self.params.data.normalize))
            .batch_size(train.batch_size)
            .shuffle(seed)
            .set_device(self.device.clone())
            .build(split.dataset());
        let label = format!("epoch {}", epoch + 1);
        let task = self.ctx.progress.task(&label, loader.num_items() as u64);
        let started = Instant::now();
        let mut tally = Tally::default();
        for batch in loader.iter() {
            crate::interrupt::check()?;
            let batch = batch.expect("in-memory digit batches cannot fail");
            let size = batch.labels.len();
            let logits = model.forward(batch.images);
            let loss = cross_entropy(logits.clone(), batch.targets).mean();
            let loss_value = loss.clone().into_scalar::<f64>();
            state.global_step += 1;
            check_finite(loss_value, epoch, state.global_step, learning_rate)?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate, model, grads);
            tally.loss_sum += loss_value * size as f64;
            tally.correct += count_correct(&predicted_classes(logits), &batch.labels);
            tally.count += size;
            task.inc(size as u64);
        }
        let train_seconds = started.elapsed().as_secs_f64();
        task.finish(&format!(
            "{label}: train loss {:.4} accuracy {:.4} ({:.0} images/s)",
            tally.mean_loss(),
            tally.accuracy(),
            tally.count as f64 / train_seconds
        ));
        Ok(EpochResult {
            model,
            tally,
            train_seconds,
        })
    }

    /// Trains one epoch, scores the dev split, writes the checkpoint and the metrics row.
    fn run_epoch<M: DigitNet>(
        &self,
        model: M,
        optimizer: &mut ModuleOptimizer,
        data: &DigitData,
        state: &mut TrainState,
        log: &mut MetricsLog,
    ) -> anyhow::Result<EpochResult<M>> {
        let started = Instant::now();
        let learning_rate = self.params.train.learning_rate_at(state.epochs_done);
        let result = self.train_epoch(model, optimizer, &data.train, state)?;
        let normalize = self.params.data.normalize;
        let dev = data
            .dev
            .as_ref()
            .map(|dev| score(&result.model.valid(), dev, normalize, self.device).0);
        let is_best = state.finish_epoch(dev.map(|t| t.accuracy()));
        checkpoint::save(&self.ctx.run, &result.model, optimizer, state, is_best)
            .context("cannot write the checkpoint")?;
        // Without a dev set its columns read NaN.
        let (dev_loss, dev_accuracy) =
            dev.map_or((f64::NAN, f64::NAN), |d| (d.mean_loss(), d.accuracy()));
        log.push(&[
            state.epochs_done as f64,
            learning_rate,
            result.tally.mean_loss(),
            result.tally.accuracy(),
            dev_loss,
            dev_accuracy,
            started.elapsed().as_secs_f64(),
            result.tally.count as f64 / result.train_seconds,
            if is_best { 1.0 } else { 0.0 },
        ])?;
        // Resume keeps as many rows as the checkpoint has epochs, so every row is written now.
        log.finish()?;
        Ok(result)
    }
}

fn check_finite(loss: f64, epoch: usize, step: u64, learning_rate: f64) -> anyhow::Result<()> {
    if loss.is_finite() {
        return Ok(());
    }
    let checkpoint_note = if epoch == 0 {
        "no checkpoint was written yet".to_string()
    } else {
        format!("the checkpoint of epoch {epoch} is kept")
    };
    anyhow::bail!(
        "training diverged: the loss became {loss} at step {step} (epoch {}); lower \
         train.learning_rate (now {learning_rate}). No model was exported, and \
         {checkpoint_note}",
        epoch + 1
    )
}

/// Everything the loop produces besides files.
pub struct Outcome<M> {
    pub best_model: M,
    pub state: TrainState,
    pub train_images_per_second: f64,
}

/// Trains for the configured epochs (or from the last checkpoint when resuming), writing
/// `metrics.csv` and a checkpoint after every epoch.
pub fn fit<M: DigitNet>(
    model: M,
    params: &DigitsParams,
    data: &DigitData,
    ctx: &RunContext,
    device: &Device,
) -> anyhow::Result<Outcome<M>> {
    let mut optimizer = build_optimizer(&params.train);
    let mut model = model;
    let mut state = TrainState::new(ctx.seed);
    let mut log = MetricsLog::new(&ctx.run, &METRICS_HEADER);
    if ctx.resume {
        (model, optimizer, state) =
            checkpoint::restore(&ctx.run, model, optimizer, device, ctx.seed)?;
        log = MetricsLog::resume(&ctx.run, &METRICS_HEADER, state.epochs_done)?;
        let line = format!("resuming after epoch {}", state.epochs_done);
        ctx.progress.line(&line);
    }
    let trainer = Trainer {
        params,
        ctx,
        device,
    };
    let (mut images, mut seconds) = (0usize, 0.0f64);
    let train = &params.train;
    while state.epochs_done < train.epochs && !state.out_of_patience(train.patience) {
        let result = trainer.run_epoch(model, &mut optimizer, data, &mut state, &mut log)?;
        model = result.model;
        images += result.tally.count;
        seconds += result.train_seconds;
    }
    let best_model = checkpoint::load_best(&ctx.run, model, &state)?;
    Ok(Outcome {
        best_model,
        state,
        train_images_per_second: images as f64 / seconds.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn device() -> Device {
        crate::backend::BackendChoice::new("flex", 0, crate::config::Precision::F32)
            .unwrap()
            .device(0)
            .unwrap()
    }

    #[test]
    fn huge_equal_logits_give_ln2() {
        let device = device();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![1e8f32, 1e8], [1, 2]), &device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
        let loss = cross_entropy(logits, targets).into_scalar::<f64>();
        assert!((loss - std::f64::consts::LN_2).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn cross_entropy_matches_formula() {
        let device = device();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device);
        let loss = cross_entropy(logits, targets).into_scalar::<f64>();
        let expected = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 3.0;
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    }

    #[test]
    fn epoch_seeds_differ() {
        assert_ne!(epoch_seed(0, 0), epoch_seed(0, 1));
        assert_ne!(epoch_seed(0, 0), epoch_seed(1, 0));
        assert_eq!(epoch_seed(5, 3), epoch_seed(5, 3));
    }

    #[test]
    fn tally_counts_per_sample() {
        let tally = Tally {
            loss_sum: 3.0,
            correct: 2,
            count: 3,
        };
        assert_eq!(tally.mean_loss(), 1.0);
        assert!((tally.accuracy() - 2.0 / 3.0).abs() < 1e-12);
    }
}
