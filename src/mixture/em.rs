//! E-steps, M-steps and K-means steps in Burn tensor ops, on blocks of users.
//!
//! Each pass over the users accumulates sufficient statistics per component, so one block of
//! all users and a stream of smaller blocks give the same M-step. A block holds its ratings
//! densely (missing entries carry mask 0 and value 0) or as a list of observed ratings. Either
//! way, every sum below runs over observed entries only.

use burn::tensor::{Bool, DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::data::Ratings;
use super::model::GaussianMixture;

/// The course adds this to the weights before the log, so an emptied component stays finite.
const WEIGHT_FLOOR: f64 = 1e-16;

/// The form in which a block keeps its ratings on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Ratings (0 at missing entries) and the 0/1 observed mask side by side, `[n, 2d]`: each
    /// pass is two matrix products, the fastest form when most entries are observed.
    Dense,
    /// One entry per observed rating: each pass gathers and scatter-adds `K` values per
    /// rating, so its cost and memory follow the number of ratings, not users × items.
    Sparse,
}

/// The largest number of ratings in one [`Entries`] batch. Its `[batch, 2K]` temporaries stay
/// near 12 MiB at K = 12. On 10 M synthetic ratings, batches of 2^18 made a pass about 20%
/// slower than 2^16, and batches of 2^14 were no faster.
pub const ENTRY_BATCH: usize = 1 << 16;

/// Observed ratings in coordinate form, sorted by user.
pub struct Entries {
    /// User of each rating, counted from the block's first user, `[nnz]`.
    pub user: Tensor<1, Int>,
    /// Item of each rating, `[nnz]`.
    pub item: Tensor<1, Int>,
    /// `[nnz, 1]`
    pub value: Tensor<2>,
}

/// The ratings of a block in one of the two layouts.
// A block exists once per pass, so the size of the dense variant's tensor handle does not matter.
#[allow(clippy::large_enum_variant)]
pub enum BlockData {
    /// `[n, 2d]`: ratings with 0 at missing entries, then the 0/1 mask.
    Dense(Tensor<2>),
    /// Batches of at most [`ENTRY_BATCH`] ratings. A user's ratings may span two batches,
    /// which is fine because every per-user sum is accumulated. Empty when no user of the
    /// block has a rating.
    Sparse(Vec<Entries>),
}

/// One block of users on the device.
pub struct Block {
    pub rows: usize,
    pub items: usize,
    pub data: BlockData,
    /// Sum of each user's squared ratings, `[n, 1]`.
    pub x_sq_sum: Tensor<2>,
    /// Number of observed ratings of each user, `[n, 1]`.
    pub counts: Tensor<2>,
}

impl Block {
    /// Uploads users `start..end` of `ratings` in the given layout.
    pub fn upload(
        ratings: &Ratings,
        start: usize,
        end: usize,
        layout: Layout,
        device: &Device,
    ) -> Block {
        let rows = end - start;
        let column =
            |values: Vec<f64>| Tensor::<2>::from_data(TensorData::new(values, [rows, 1]), device);
        let (mut sq_sums, mut counts) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for user in start..end {
            let (_, values) = ratings.row(user);
            sq_sums.push(values.iter().map(|v| v * v).sum());
            counts.push(values.len() as f64);
        }
        let data = match layout {
            Layout::Dense => BlockData::Dense(Tensor::from_data(
                TensorData::new(
                    ratings.dense_with_mask(start, end),
                    [rows, 2 * ratings.items],
                ),
                device,
            )),
            Layout::Sparse => BlockData::Sparse(upload_entries(ratings, start, end, device)),
        };
        Block {
            rows,
            items: ratings.items,
            data,
            x_sq_sum: column(sq_sums),
            counts: column(counts),
        }
    }

    fn device(&self) -> Device {
        self.counts.device()
    }
}

fn upload_entries(ratings: &Ratings, start: usize, end: usize, device: &Device) -> Vec<Entries> {
    let first = ratings.row_start[start];
    let last = ratings.row_start[end];
    // Indices go up as i32, the int type of the flex backend, so no conversion pass runs on
    // every upload. Users of a block and items of a matrix both stay far below i32::MAX.
    let mut user = Vec::with_capacity(last - first);
    for row in start..end {
        let count = ratings.row_start[row + 1] - ratings.row_start[row];
        user.extend(std::iter::repeat_n((row - start) as i32, count));
    }
    let index = |values: Vec<i32>| {
        let len = values.len();
        Tensor::<1, Int>::from_data(TensorData::new(values, [len]), device)
    };
    (first..last)
        .step_by(ENTRY_BATCH)
        .map(|batch_start| {
            let batch = batch_start..(batch_start + ENTRY_BATCH).min(last);
            let local = batch.start - first..batch.end - first;
            let items = ratings.item[batch.clone()].iter().map(|&i| i as i32);
            Entries {
                user: index(user[local].to_vec()),
                item: index(items.collect()),
                value: Tensor::from_data(
                    TensorData::new(ratings.value[batch.clone()].to_vec(), [batch.len(), 1]),
                    device,
                ),
            }
        })
        .collect()
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
/// entries, expanded as Σx² − 2·x·μ + Σ_observed μ² so the data is read once.
///
/// # Shapes
/// block `[n, d]`, `mu` `[K, d]` → `[n, K]`
pub fn squared_distances(block: &Block, mu: &Tensor<2>) -> Tensor<2> {
    let k = mu.dims()[0];
    let cross = match &block.data {
        BlockData::Dense(x_and_mask) => {
            // [x | mask] · [−2μᵀ ; (μ²)ᵀ] = −2·x·μᵀ + mask·(μ²)ᵀ in one product.
            let weights = Tensor::cat(
                vec![mu.clone().mul_scalar(-2.0), mu.clone() * mu.clone()],
                1,
            );
            x_and_mask.clone().matmul(weights.transpose())
        }
        BlockData::Sparse(batches) => {
            let mu_t = mu.clone().transpose();
            batches.iter().fold(
                Tensor::zeros([block.rows, k], &block.device()),
                |sums, entries| {
                    // Per rating x of item l: μ_jl² − 2·x·μ_jl = μ_jl·(μ_jl − 2x), summed per user.
                    let means = mu_t.clone().select(0, entries.item.clone());
                    let terms = means.clone() * (means - entries.value.clone().mul_scalar(2.0));
                    sums.select_assign(0, entries.user.clone(), terms, IndexingUpdateOp::Add)
                },
            )
        }
    };
    block.x_sq_sum.clone() + cross
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
    (flush_subnormals((joint - total.clone()).exp()), total)
}

/// Sets entries below the smallest normal number of the tensor's float type to 0.
///
/// A posterior of 1e-310 adds nothing visible to any sum, but x86 CPUs multiply subnormal
/// numbers through a slow microcode path: on the course's Netflix matrix 114 such posteriors
/// made the M-step matrix product twice as slow.
pub fn flush_subnormals(values: Tensor<2>) -> Tensor<2> {
    let smallest_normal = match values.dtype() {
        DType::F64 => f64::MIN_POSITIVE,
        _ => f64::from(f32::MIN_POSITIVE),
    };
    let tiny = values.clone().lower_elem(smallest_normal);
    values.mask_fill(tiny, 0.0)
}

/// Hard assignment of each user to its nearest mean, as a one-hot `[n, K]` posterior.
pub fn nearest(block: &Block, mu: &Tensor<2>) -> Tensor<2> {
    let k = mu.dims()[0];
    let index = squared_distances(block, mu).argmin(1);
    let device = block.device();
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
        let [_, k] = post.dims();
        let d = block.items;
        let (a1, a0) = match &block.data {
            BlockData::Dense(x_and_mask) => {
                let sums = post.clone().transpose().matmul(x_and_mask.clone());
                (
                    sums.clone().slice([0..k, 0..d]),
                    sums.slice([0..k, d..2 * d]),
                )
            }
            BlockData::Sparse(batches) => {
                // Each rating adds post_uj·x to a1[j, l] and post_uj to a0[j, l].
                let sums = batches
                    .iter()
                    .fold(
                        Tensor::<2>::zeros([d, 2 * k], &block.device()),
                        |sums, entries| {
                            let weights = post.clone().select(0, entries.user.clone());
                            let terms = Tensor::cat(
                                vec![weights.clone() * entries.value.clone(), weights],
                                1,
                            );
                            sums.select_assign(
                                0,
                                entries.item.clone(),
                                terms,
                                IndexingUpdateOp::Add,
                            )
                        },
                    )
                    .transpose();
                (
                    sums.clone().slice([0..k, 0..d]),
                    sums.slice([k..2 * k, 0..d]),
                )
            }
        };
        Stats {
            weight: post.clone().sum_dim(0),
            a1,
            a0,
            a2: post.transpose().matmul(block.x_sq_sum.clone()),
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
