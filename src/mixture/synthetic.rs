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
pub fn sample(params: &SyntheticParams, seed: u64) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let truth = generating_mixture(params, &mut rng);
    let keep_complete = params.users * params.items <= MAX_COMPLETE_ENTRIES;
    let mut complete = keep_complete.then(|| Vec::with_capacity(params.users * params.items));
    let mut rows = Vec::with_capacity(params.users);
    let mut labels = Vec::with_capacity(params.users);
    for _ in 0..params.users {
        let component = pick(&truth.p, &mut rng);
        labels.push(component);
        let mut row = Vec::new();
        for (item, mean) in truth.mean(component).iter().enumerate() {
            let rating = mean + params.std * standard_normal(&mut rng);
            if let Some(full) = complete.as_mut() {
                full.push(rating);
            }
            if rng.random::<f64>() >= params.missing_share {
                row.push((item as u32, rating));
            }
        }
        rows.push(row);
    }
    Synthetic {
        ratings: Ratings::from_rows(params.items, rows),
        complete,
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
}
