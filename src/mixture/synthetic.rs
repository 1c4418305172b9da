//! Rating matrices sampled from a known mixture, so a config runs with no files and tests can
//! check that EM recovers the generating parameters.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::SyntheticParams;
use super::data::Ratings;
use super::model::GaussianMixture;

/// The full matrix is kept for RMSE only up to this many entries (512 MiB of f64).
const MAX_COMPLETE_ENTRIES: usize = 1 << 26;

/// A sampled matrix: observed ratings, the full matrix when small enough, and the truth.
pub struct Synthetic {
    pub ratings: Ratings,
    /// Row-major `[users, items]`, `None` above [`MAX_COMPLETE_ENTRIES`].
    pub complete: Option<Vec<f64>>,
    pub truth: GaussianMixture,
    /// Component that generated each user.
    pub labels: Vec<usize>,
}

/// Samples a matrix: component means uniform in [1, 5], every component with standard
/// deviation `params.std`, weights uniform on [0.5, 1.5] then normalized, and each entry
/// hidden with probability `params.missing_share`.
///
/// Up to [`MAX_COMPLETE_ENTRIES`] entries every rating is drawn and the complete matrix is
/// kept for RMSE. Above that only the observed ratings are drawn, which a matrix of the real
/// Netflix shape (480,189 × 17,770, 98.8% missing) needs, because drawing all 8.5 G entries
/// would take minutes (an estimate from three random draws per entry). The two paths use the random stream differently, so they give different matrices.
pub fn sample(params: &SyntheticParams, seed: u64) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let truth = generating_mixture(params, &mut rng);
    if params.users * params.items > MAX_COMPLETE_ENTRIES {
        return sample_observed(params, truth, &mut rng);
    }
    let mut complete = Vec::with_capacity(params.users * params.items);
    let mut rows = Vec::with_capacity(params.users);
    let mut labels = Vec::with_capacity(params.users);
    for _ in 0..params.users {
        let component = pick(&truth.p, &mut rng);
        labels.push(component);
        let mut row = Vec::new();
        for (item, mean) in truth.mean(component).iter().enumerate() {
            let rating = mean + params.std * standard_normal(&mut rng);
            complete.push(rating);
            if rng.random::<f64>() >= params.missing_share {
                row.push((item as u32, rating));
            }
        }
        rows.push(row);
    }
    Synthetic {
        ratings: Ratings::from_rows(params.items, rows),
        complete: Some(complete),
        truth,
        labels,
    }
}

/// Draws only the observed ratings, straight into the row store. The number of hidden
/// entries before the next observed one is geometric, so each entry is still observed
/// independently with probability `1 − missing_share`.
fn sample_observed(
    params: &SyntheticParams,
    truth: GaussianMixture,
    rng: &mut ChaCha8Rng,
) -> Synthetic {
    let expected =
        (params.users as f64 * params.items as f64 * (1.0 - params.missing_share)) as usize;
    let capacity = expected + expected / 100;
    let (mut item, mut value) = (Vec::with_capacity(capacity), Vec::with_capacity(capacity));
    let mut row_start = Vec::with_capacity(params.users + 1);
    let mut labels = Vec::with_capacity(params.users);
    let log_missing = params.missing_share.ln();
    // ln(U) / ln(missing_share) with U in (0, 1]: a geometric count of hidden entries.
    let skip = |rng: &mut ChaCha8Rng| ((1.0 - rng.random::<f64>()).ln() / log_missing) as usize;
    row_start.push(0);
    for _ in 0..params.users {
        let component = pick(&truth.p, rng);
        labels.push(component);
        let mean = truth.mean(component);
        let mut column = skip(rng);
        while column < params.items {
            item.push(column as u32);
            value.push(mean[column] + params.std * standard_normal(rng));
            column = column.saturating_add(1 + skip(rng));
        }
        row_start.push(item.len());
    }
    Synthetic {
        ratings: Ratings {
            users: params.users,
            items: params.items,
            row_start,
            item,
            value,
        },
        complete: None,
        truth,
        labels,
    }
}

fn generating_mixture(params: &SyntheticParams, rng: &mut ChaCha8Rng) -> GaussianMixture {
    let (k, d) = (params.components, params.items);
    let mu = (0..k * d).map(|_| rng.random_range(1.0..5.0)).collect();
    let raw: Vec<f64> = (0..k).map(|_| rng.random_range(0.5..1.5)).collect();
    let total: f64 = raw.iter().sum();
    GaussianMixture {
        k,
        d,
        mu,
        var: vec![params.std * params.std; k],
        p: raw.iter().map(|w| w / total).collect(),
    }
}

fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut draw = rng.random::<f64>();
    for (index, weight) in weights.iter().enumerate() {
        if draw < *weight {
            return index;
        }
        draw -= weight;
    }
    weights.len() - 1
}

/// Box-Muller transform: one standard normal draw from two uniforms.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SyntheticParams {
        SyntheticParams {
            users: 400,
            items: 10,
            components: 3,
            missing_share: 0.5,
            std: 0.5,
        }
    }

    #[test]
    fn same_seed_same_matrix() {
        let first = sample(&params(), 7);
        let second = sample(&params(), 7);
        assert_eq!(first.ratings, second.ratings);
        assert_ne!(first.ratings, sample(&params(), 8).ratings);
    }

    #[test]
    fn missing_share_is_respected() {
        let data = sample(&params(), 1);
        let share = 1.0 - data.ratings.observed() as f64 / 4000.0;
        assert!((share - 0.5).abs() < 0.05, "missing share {share}");
        assert_eq!(data.complete.as_ref().map(Vec::len), Some(4000));
    }

    #[test]
    fn observed_only_sampling_keeps_share_and_order() {
        let params = SyntheticParams {
            users: 2000,
            items: 300,
            components: 3,
            missing_share: 0.97,
            std: 0.5,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let truth = generating_mixture(&params, &mut rng);
        let data = sample_observed(&params, truth, &mut rng);
        let ratings = &data.ratings;
        let share = 1.0 - ratings.observed() as f64 / (2000.0 * 300.0);
        assert!((share - 0.97).abs() < 0.002, "missing share {share}");
        assert_eq!(ratings.row_start.len(), 2001);
        assert_eq!(data.labels.len(), 2000);
        for user in 0..ratings.users {
            let (items, values) = ratings.row(user);
            assert!(
                items.windows(2).all(|w| w[0] < w[1]),
                "user {user}: {items:?}"
            );
            assert!(items.iter().all(|&i| (i as usize) < 300));
            assert!(values.iter().all(|v| v.is_finite()));
        }
        // Every item is reachable, the first included: the first skip can be 0.
        let mut seen = vec![false; 300];
        ratings.item.iter().for_each(|&i| seen[i as usize] = true);
        assert!(seen.iter().all(|&s| s));
    }
}
