//! E-steps, M-steps and K-means steps in Burn tensor ops, on blocks of users.
//!
//! Each pass over the users accumulates sufficient statistics per component, so a block of
//! all users (dense) and a stream of smaller blocks (chunked) give the same M-step. Missing
//! entries carry mask 0 and value 0, so every sum below runs over observed entries only.

use burn::tensor::{Bool, Device, IndexingUpdateOp, Tensor, TensorData};

use super::data::DenseBlock;
use super::model::GaussianMixture;

/// The course adds this to the weights before the log, so an emptied component stays finite.
const WEIGHT_FLOOR: f64 = 1e-16;

/// One block of users on the device.
pub struct Block {
    pub rows: usize,
    pub items: usize,
    /// Ratings (0 at missing entries) and the 0/1 observed mask side by side, `[n, 2d]`, so
    /// the E-step and the M-step each need a single matrix product over the block.
    pub x_and_mask: Tensor<2>,
    /// Sum of each user's squared ratings, `[n, 1]`.
    pub x_sq_sum: Tensor<2>,
    /// Number of observed ratings of each user, `[n, 1]`.
    pub counts: Tensor<2>,
}

impl Block {
    /// Uploads a dense block of `d` columns.
    pub fn upload(dense: DenseBlock, d: usize, device: &Device) -> Block {
        let shape = [dense.rows, d];
        let x = Tensor::<2>::from_data(TensorData::new(dense.values, shape), device);
        let mask = Tensor::<2>::from_data(TensorData::new(dense.mask, shape), device);
        Block {
            rows: dense.rows,
            items: d,
            x_sq_sum: (x.clone() * x.clone()).sum_dim(1),
            counts: mask.clone().sum_dim(1),
            x_and_mask: Tensor::cat(vec![x, mask], 1),
        }
    }

    /// Ratings with 0 at missing entries, `[n, d]`.
    pub fn x(&self) -> Tensor<2> {
        self.x_and_mask.clone().slice([0..self.rows, 0..self.items])
    }

    /// 1 where a rating is observed, `[n, d]`.
    pub fn mask(&self) -> Tensor<2> {
        self.x_and_mask
            .clone()
            .slice([0..self.rows, self.items..2 * self.items])
    }
}

/// Mixture parameters on the device.
#[derive(Clone)]
pub struct DeviceMixture {
    /// `[K, d]`
    pub mu: Tensor<2>,
    /// `[1, K]`
    pub var: Tensor<2>,
    /// `[1, K]`
    pub p: Tensor<2>,
}

impl DeviceMixture {
    pub fn upload(mixture: &GaussianMixture, device: &Device) -> DeviceMixture {
        let row = |values: &[f64]| {
            Tensor::<2>::from_data(TensorData::new(values.to_vec(), [1, mixture.k]), device)
        };
        let mu_data = TensorData::new(mixture.mu.clone(), [mixture.k, mixture.d]);
        DeviceMixture {
            mu: Tensor::from_data(mu_data, device),
            var: row(&mixture.var),
            p: row(&mixture.p),
        }
    }

    pub fn download(&self) -> GaussianMixture {
        let [k, d] = self.mu.dims();
        GaussianMixture {
            k,
            d,
            mu: host(self.mu.clone()),
            var: host(self.var.clone()),
            p: host(self.p.clone()),
        }
    }
}

/// Copies a tensor to the host as f64, whatever the device's float type.
pub fn host<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor
        .try_into_vec_as::<f64>()
        .expect("reading a float tensor back as f64 cannot fail on CPU or GPU backends")
}

/// Returns the squared distance from each user to each mean over the user's observed
/// entries, expanded as Σx² − 2·x·μ + Σ_observed μ² so it runs as two matrix products.
///
/// # Shapes
/// block `[n, d]`, `mu` `[K, d]` → `[n, K]`
pub fn squared_distances(block: &Block, mu: &Tensor<2>) -> Tensor<2> {
    // [x | mask] · [−2μᵀ ; (μ²)ᵀ] = −2·x·μᵀ + mask·(μ²)ᵀ in one product.
    let weights = Tensor::cat(
        vec![mu.clone().mul_scalar(-2.0), mu.clone() * mu.clone()],
        1,
    );
    block.x_sq_sum.clone() + block.x_and_mask.clone().matmul(weights.transpose())
}

/// Returns log(p_j · N(x_observed | μ_j, σ²_j I)) for every user and component.
///
/// # Shapes
/// block `[n, d]` → `[n, K]`
pub fn log_joint(block: &Block, mixture: &DeviceMixture) -> Tensor<2> {
    let sq = squared_distances(block, &mixture.mu);
    let log_weight = mixture.p.clone().add_scalar(WEIGHT_FLOOR).log();
    let log_norm = mixture
        .var
        .clone()
        .mul_scalar(2.0 * std::f64::consts::PI)
        .log();
    let two_var = mixture.var.clone().mul_scalar(2.0);
    log_weight - block.counts.clone() * log_norm.mul_scalar(0.5) - sq / two_var
}

/// Returns log Σ_j exp(a_ij) per row, shifted by the row maximum so no term overflows.
///
/// # Shapes
/// `[n, K]` → `[n, 1]`
pub fn logsumexp_rows(values: Tensor<2>) -> Tensor<2> {
    let top = values.clone().max_dim(1);
    (values - top.clone()).exp().sum_dim(1).log() + top
}

/// E-step on one block: the posterior of each component and each user's log-likelihood.
///
/// # Shapes
/// block `[n, d]` → (`[n, K]`, `[n, 1]`)
pub fn posterior(block: &Block, mixture: &DeviceMixture) -> (Tensor<2>, Tensor<2>) {
    let joint = log_joint(block, mixture);
    let total = logsumexp_rows(joint.clone());
    ((joint - total.clone()).exp(), total)
}

/// Hard assignment of each user to its nearest mean, as a one-hot `[n, K]` posterior.
pub fn nearest(block: &Block, mu: &Tensor<2>) -> Tensor<2> {
    let k = mu.dims()[0];
    let index = squared_distances(block, mu).argmin(1);
    let device = block.x_and_mask.device();
    let ones = Tensor::<2>::ones([block.rows, 1], &device);
    // A scatter instead of `one_hot`, which rejects a single class (K = 1).
    Tensor::<2>::zeros([block.rows, k], &device).scatter(1, index, ones, IndexingUpdateOp::Add)
}

/// Posterior-weighted sums over users, enough for an M-step.
pub struct Stats {
    /// Σ_u post_uj, `[1, K]`.
    pub weight: Tensor<2>,
    /// Σ_u post_uj·m_ul, `[K, d]`.
    pub a0: Tensor<2>,
    /// Σ_u post_uj·x_ul, `[K, d]`.
    pub a1: Tensor<2>,
    /// Σ_u post_uj·Σ_l x²_ul, `[K, 1]`.
    pub a2: Tensor<2>,
    pub log_likelihood: f64,
}

impl Stats {
    /// Returns the statistics of one block given its posterior `[n, K]`.
    pub fn of_block(block: &Block, post: Tensor<2>, log_likelihood: f64) -> Stats {
        let post_t = post.clone().transpose();
        let [k, _] = post_t.dims();
        let sums = post_t.clone().matmul(block.x_and_mask.clone());
        let d = block.items;
        Stats {
            weight: post.sum_dim(0),
            a1: sums.clone().slice([0..k, 0..d]),
            a0: sums.slice([0..k, d..2 * d]),
            a2: post_t.matmul(block.x_sq_sum.clone()),
            log_likelihood,
        }
    }

    /// Adds another block's statistics.
    pub fn merge(self, other: Stats) -> Stats {
        Stats {
            weight: self.weight + other.weight,
            a0: self.a0 + other.a0,
            a1: self.a1 + other.a1,
            a2: self.a2 + other.a2,
            log_likelihood: self.log_likelihood + other.log_likelihood,
        }
    }

    /// Returns the new means: a1/a0 where `keep` is false, the old mean where it is true.
    fn means(&self, old: &Tensor<2>, keep: Tensor<2, Bool>) -> Tensor<2> {
        (self.a1.clone() / self.a0.clone()).mask_where(keep, old.clone())
    }

    /// Returns Σ_u post_uj·‖x_u − μ_j‖² over observed entries and Σ_u post_uj·|C_u|, each
    /// `[1, K]`.
    fn spread(&self, mu: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let cross = mu.clone() * self.a1.clone().mul_scalar(2.0)
            - mu.clone() * mu.clone() * self.a0.clone();
        (
            (self.a2.clone() - cross.sum_dim(1)).transpose(),
            self.a0.clone().sum_dim(1).transpose(),
        )
    }
}

/// EM M-step. A mean coordinate moves only where the posterior weight of its observed
/// ratings is at least 1, variances are floored at `min_variance`, and a component with no
/// weight keeps its old variance instead of becoming 0/0.
pub fn m_step(
    stats: &Stats,
    old: &DeviceMixture,
    min_variance: f64,
    users: usize,
) -> DeviceMixture {
    let mu = stats.means(&old.mu, stats.a0.clone().lower_elem(1.0));
    let (spread, weight) = stats.spread(&mu);
    let var = (spread / weight.clone())
        .clamp_min(min_variance)
        .mask_where(weight.equal_elem(0.0), old.var.clone());
    DeviceMixture {
        mu,
        var,
        p: stats.weight.clone().div_scalar(users as f64),
    }
}

/// K-means M-step: each mean becomes the average of its users (an empty cluster keeps its
/// mean). Returns the mixture and the cost, the sum of squared distances to the new means.
pub fn kmeans_step(stats: &Stats, old: &DeviceMixture, users: usize) -> (DeviceMixture, f64) {
    let mu = stats.means(&old.mu, stats.a0.clone().lower_equal_elem(0.0));
    let (spread, weight) = stats.spread(&mu);
    let cost = host(spread.clone().sum())[0];
    let var = (spread / weight.clone()).mask_where(weight.equal_elem(0.0), old.var.clone());
    let mixture = DeviceMixture {
        mu,
        var,
        p: stats.weight.clone().div_scalar(users as f64),
    };
    (mixture, cost)
}
