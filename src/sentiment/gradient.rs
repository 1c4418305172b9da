//! Mini-batch training of the linear classifier with Burn autodiff (hinge-sgd and logistic).
//!
//! The loss is the mean hinge loss max(0, 1 − y·s) or logistic loss log(1 + e^(−y·s)) over a
//! batch plus (λ/2)·‖θ‖², minimized with SGD or Adam. θ0 is not regularized, as in Pegasos.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::{relu, softplus};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::config::{Algorithm, ModelParams, Optimizer, TrainParams};
use super::features::SparseMatrix;
use super::model::{LinearClassifier, SparseBatch, to_f64_vec};
use super::online::LinearWeights;

/// Training rows with their labels, shuffled into mini-batches each epoch.
pub struct MiniBatchTrainer<'a> {
    pub features: &'a SparseMatrix,
    pub labels: &'a [f64],
    pub model: ModelParams,
    pub train: TrainParams,
    /// An autodiff device: `ctx.device.clone().autodiff()`.
    pub device: Device,
}

impl MiniBatchTrainer<'_> {
    /// Starts from θ = 0, θ0 = 0 on the autodiff device.
    pub fn initial_model(&self) -> LinearClassifier {
        LinearClassifier::zeros(self.features.dim, &self.device)
    }

    pub fn optimizer(&self) -> ModuleOptimizer {
        match self.train.optimizer {
            Optimizer::Sgd => SgdConfig::new().init(),
            Optimizer::Adam => AdamConfig::new().init(),
        }
    }

    /// Runs one epoch over a shuffled copy of the rows and returns the mean batch loss.
    pub fn run_epoch(
        &self,
        model: LinearClassifier,
        optimizer: &mut ModuleOptimizer,
        rng: &mut ChaCha8Rng,
    ) -> anyhow::Result<(LinearClassifier, f64)> {
        let mut order: Vec<usize> = (0..self.features.rows()).collect();
        order.shuffle(rng);
        let mut model = model;
        let mut total = 0.0;
        let chunks = order.chunks(self.train.batch_size);
        let count = chunks.len();
        for chunk in chunks {
            crate::interrupt::check()?;
            let (next, loss) = self.step(model, optimizer, chunk);
            model = next;
            total += loss;
        }
        Ok((model, total / count.max(1) as f64))
    }

    fn step(
        &self,
        model: LinearClassifier,
        optimizer: &mut ModuleOptimizer,
        rows: &[usize],
    ) -> (LinearClassifier, f64) {
        let subset = self.features.select_rows(rows);
        let batch = SparseBatch::all(&subset, &self.device);
        let labels: Vec<f64> = rows.iter().map(|&i| self.labels[i]).collect();
        let labels = Tensor::<1>::from_data(TensorData::new(labels, [rows.len()]), &self.device);
        let loss = self.loss(&model, &batch, labels);
        let value = to_f64_vec(loss.clone())[0];
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optimizer.step(self.train.learning_rate, model, grads);
        (model, value)
    }

    /// Returns the regularized mean loss of one batch.
    ///
    /// # Shapes
    /// `labels`: `[batch.len]`; returns `[1]`
    pub fn loss(
        &self,
        model: &LinearClassifier,
        batch: &SparseBatch,
        labels: Tensor<1>,
    ) -> Tensor<1> {
        let margins = model.scores(batch) * labels;
        let data_loss = match self.model.algorithm {
            // Burn's softplus switches to the identity for large inputs, so e^x cannot overflow.
            Algorithm::Logistic => softplus(margins.neg(), 1.0),
            _ => relu(margins.neg() + 1.0),
        };
        let theta = model.theta.val();
        let penalty = (theta.clone() * theta).sum() * (self.model.lambda / 2.0);
        data_loss.mean() + penalty
    }
}

/// Strips autodiff and reads the weights back.
pub fn weights_of(model: &LinearClassifier) -> LinearWeights {
    model.valid().weights()
}

/// A generator for the mini-batch shuffles, seeded from the run seed.
pub fn shuffle_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
