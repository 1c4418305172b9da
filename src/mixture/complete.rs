//! Matrix completion with a fitted mixture, and RMSE against a complete matrix.

use burn::tensor::Int;
use burn::tensor::Tensor;

use super::em::{self, DeviceMixture};
use super::fit::Blocks;
use super::model::GaussianMixture;

/// The result of one E-step pass with a fixed mixture.
pub struct Completion {
    /// Log-likelihood of the data under the mixture.
    pub log_likelihood: f64,
    /// Row-major `[users, items]`: observed ratings kept, missing ones predicted.
    pub values: Option<Vec<f64>>,
    /// Most likely component of each user (nearest mean for K-means).
    pub labels: Option<Vec<usize>>,
}

/// Outputs a completion pass computes besides the log-likelihood.
#[derive(Debug, Clone, Copy)]
pub struct CompletionRequest {
    pub values: bool,
    pub labels: bool,
    /// Label users by nearest mean instead of by posterior.
    pub hard_labels: bool,
    pub clip: Option<(f64, f64)>,
}

/// Fills each missing entry with the posterior-weighted mean Σ_j post_uj·μ_jl. A user with no
/// observed rating has the prior as posterior, so gets the mixture's prior mean.
pub fn complete(
    blocks: &mut Blocks,
    mixture: &GaussianMixture,
    request: CompletionRequest,
) -> anyhow::Result<Completion> {
    let device_mixture = DeviceMixture::upload(mixture, &blocks.device().clone());
    let mut log_likelihood = 0.0;
    let mut values = request.values.then(Vec::new);
    let mut labels = request.labels.then(Vec::new);
    let ratings = blocks.ratings();
    blocks.for_each(|first_user, block| {
        let (post, total) = em::posterior(block, &device_mixture);
        log_likelihood += em::host(total.sum())[0];
        if let Some(values) = values.as_mut() {
            let mut predicted = post.clone().matmul(device_mixture.mu.clone());
            if let Some((low, high)) = request.clip {
                predicted = predicted.clamp(low, high);
            }
            let offset = values.len();
            values.extend(em::host(predicted));
            // Observed ratings are kept as they are, unclipped.
            for user in first_user..first_user + block.rows {
                let row = offset + (user - first_user) * ratings.items;
                let (items, observed) = ratings.row(user);
                for (&item, &rating) in items.iter().zip(observed) {
                    values[row + item as usize] = rating;
                }
            }
        }
        if let Some(labels) = labels.as_mut() {
            let scores = if request.hard_labels {
                em::nearest(block, &device_mixture.mu)
            } else {
                post
            };
            labels.extend(argmax_rows(scores));
        }
        Ok(())
    })?;
    Ok(Completion {
        log_likelihood,
        values,
        labels,
    })
}

fn argmax_rows(scores: Tensor<2>) -> Vec<usize> {
    let index: Tensor<2, Int> = scores.argmax(1);
    index
        .try_into_vec_as::<i64>()
        .expect("reading an index tensor back cannot fail on CPU or GPU backends")
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// RMSE of `predicted` against `truth` over all entries, and over the entries the mask marks
/// missing (`None` when no entry is missing).
pub fn rmse(predicted: &[f64], truth: &[f64], missing: &[bool]) -> (f64, Option<f64>) {
    let mut all = 0.0;
    let (mut hidden, mut hidden_count) = (0.0, 0usize);
    for ((p, t), is_missing) in predicted.iter().zip(truth).zip(missing) {
        let sq = (p - t) * (p - t);
        all += sq;
        if *is_missing {
            hidden += sq;
            hidden_count += 1;
        }
    }
    let overall = (all / predicted.len() as f64).sqrt();
    let over_missing = (hidden_count > 0).then(|| (hidden / hidden_count as f64).sqrt());
    (overall, over_missing)
}
