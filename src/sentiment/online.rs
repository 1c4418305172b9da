//! The course's online learners (perceptron, average perceptron, Pegasos) on sparse rows.
//!
//! Each step touches only the non-zeros of one sample, so T epochs cost O(T · non-zeros) plus
//! O(dictionary size) per epoch for the snapshot. The arithmetic is f64 whatever the backend
//! precision, so the course numbers do not depend on it.

use super::config::Algorithm;
use super::features::SparseMatrix;

/// θ and θ0 of a linear classifier, in plain f64.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearWeights {
    pub theta: Vec<f64>,
    pub theta0: f64,
}

impl LinearWeights {
    pub fn zeros(dim: usize) -> Self {
        LinearWeights {
            theta: vec![0.0; dim],
            theta0: 0.0,
        }
    }
}

/// A learner that processes one labeled sample at a time.
pub trait OnlineLearner {
    /// Processes one sample given by its non-zero indices and values; `label` is ±1.
    fn step(&mut self, indices: &[u32], values: &[f64], label: f64);

    /// The classifier the algorithm would return if it stopped now.
    fn weights(&self) -> LinearWeights;
}

/// A margin at or below this counts as a perceptron mistake, so a margin that is zero up to
/// rounding still triggers an update (the course's tolerance).
pub const PERCEPTRON_TOLERANCE: f64 = 1e-7;

fn sparse_dot(theta: &[f64], indices: &[u32], values: &[f64]) -> f64 {
    indices
        .iter()
        .zip(values)
        .map(|(&j, &v)| theta[j as usize] * v)
        .sum()
}

/// The perceptron with offset: θ += yx, θ0 += y on a mistake.
pub struct Perceptron {
    weights: LinearWeights,
}

impl Perceptron {
    pub fn new(dim: usize) -> Self {
        Perceptron {
            weights: LinearWeights::zeros(dim),
        }
    }

    /// Applies one step and returns whether it updated.
    fn update(&mut self, indices: &[u32], values: &[f64], label: f64) -> bool {
        let score = sparse_dot(&self.weights.theta, indices, values) + self.weights.theta0;
        if label * score > PERCEPTRON_TOLERANCE {
            return false;
        }
        for (&j, &v) in indices.iter().zip(values) {
            self.weights.theta[j as usize] += label * v;
        }
        self.weights.theta0 += label;
        true
    }
}

impl OnlineLearner for Perceptron {
    fn step(&mut self, indices: &[u32], values: &[f64], label: f64) {
        self.update(indices, values, label);
    }

    fn weights(&self) -> LinearWeights {
        self.weights.clone()
    }
}

/// The average perceptron: the mean of θ, θ0 after every one of the n·T steps.
///
/// Averaging naively costs O(dictionary) per step. Instead, with θ_s the weights after step s
/// and Δ_u the update made at step c_u, the sum over N steps is
/// Σ_s θ_s = (N + 1)·θ_N − Σ_u c_u·Δ_u, so it keeps only the running sum of c_u·Δ_u.
pub struct AveragePerceptron {
    perceptron: Perceptron,
    weighted_updates: LinearWeights,
    steps: u64,
}

impl AveragePerceptron {
    pub fn new(dim: usize) -> Self {
        AveragePerceptron {
            perceptron: Perceptron::new(dim),
            weighted_updates: LinearWeights::zeros(dim),
            steps: 0,
        }
    }
}

impl OnlineLearner for AveragePerceptron {
    fn step(&mut self, indices: &[u32], values: &[f64], label: f64) {
        self.steps += 1;
        if !self.perceptron.update(indices, values, label) {
            return;
        }
        let step = self.steps as f64;
        for (&j, &v) in indices.iter().zip(values) {
            self.weighted_updates.theta[j as usize] += step * label * v;
        }
        self.weighted_updates.theta0 += step * label;
    }

    fn weights(&self) -> LinearWeights {
        let current = &self.perceptron.weights;
        if self.steps == 0 {
            return current.clone();
        }
        let n = self.steps as f64;
        let average = |last: f64, weighted: f64| ((n + 1.0) * last - weighted) / n;
        LinearWeights {
            theta: current
                .theta
                .iter()
                .zip(&self.weighted_updates.theta)
                .map(|(&last, &weighted)| average(last, weighted))
                .collect(),
            theta0: average(current.theta0, self.weighted_updates.theta0),
        }
    }
}

/// Pegasos as in the course: step t (counting every sample visited) uses η = 1/√t, shrinks θ
/// (not θ0) by (1 − ηλ) and adds ηy(x, 1) when y(θ·x + θ0) ≤ 1.
///
/// The shrink would touch every weight, so θ is stored as `scale · w` and a shrink only
/// multiplies `scale`. The scale is folded back into `w` when it nears underflow or hits zero
/// (ηλ = 1), which costs O(dictionary) but happens rarely.
pub struct Pegasos {
    w: Vec<f64>,
    scale: f64,
    theta0: f64,
    lambda: f64,
    t: u64,
}

/// Below this magnitude the Pegasos scale is folded into the weights to avoid underflow.
const MIN_SCALE: f64 = 1e-9;

impl Pegasos {
    pub fn new(dim: usize, lambda: f64) -> Self {
        Pegasos {
            w: vec![0.0; dim],
            scale: 1.0,
            theta0: 0.0,
            lambda,
            t: 0,
        }
    }

    fn fold_scale(&mut self) {
        let scale = self.scale;
        self.w.iter_mut().for_each(|x| *x *= scale);
        self.scale = 1.0;
    }
}

impl OnlineLearner for Pegasos {
    fn step(&mut self, indices: &[u32], values: &[f64], label: f64) {
        self.t += 1;
        let eta = 1.0 / (self.t as f64).sqrt();
        let margin = label * (self.scale * sparse_dot(&self.w, indices, values) + self.theta0);
        self.scale *= 1.0 - eta * self.lambda;
        if self.scale.abs() < MIN_SCALE {
            self.fold_scale();
        }
        if margin <= 1.0 {
            let increment = eta * label / self.scale;
            for (&j, &v) in indices.iter().zip(values) {
                self.w[j as usize] += increment * v;
            }
            self.theta0 += eta * label;
        }
    }

    fn weights(&self) -> LinearWeights {
        LinearWeights {
            theta: self.w.iter().map(|&x| x * self.scale).collect(),
            theta0: self.theta0,
        }
    }
}

/// Builds the learner for an online algorithm; `None` for the mini-batch ones.
pub fn learner(algorithm: Algorithm, dim: usize, lambda: f64) -> Option<Box<dyn OnlineLearner>> {
    match algorithm {
        Algorithm::Perceptron => Some(Box::new(Perceptron::new(dim))),
        Algorithm::AveragePerceptron => Some(Box::new(AveragePerceptron::new(dim))),
        Algorithm::Pegasos => Some(Box::new(Pegasos::new(dim, lambda))),
        Algorithm::HingeSgd | Algorithm::Logistic => None,
    }
}

/// Runs one epoch: every sample once, in `order`.
pub fn run_epoch(
    learner: &mut dyn OnlineLearner,
    features: &SparseMatrix,
    labels: &[f64],
    order: &[usize],
) {
    for &i in order {
        let (indices, values) = features.row(i);
        learner.step(indices, values, labels[i]);
    }
}

/// Trains for `epochs` passes in the same `order` each time and returns the final weights.
pub fn train(
    algorithm: Algorithm,
    lambda: f64,
    features: &SparseMatrix,
    labels: &[f64],
    order: &[usize],
    epochs: usize,
) -> Option<LinearWeights> {
    let mut learner = learner(algorithm, features.dim, lambda)?;
    for _ in 0..epochs {
        run_epoch(learner.as_mut(), features, labels, order);
    }
    Some(learner.weights())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Applies the course's dense update rules, written out literally, as the reference.
    fn dense_reference(
        algorithm: Algorithm,
        lambda: f64,
        x: &[Vec<f64>],
        y: &[f64],
        order: &[usize],
        epochs: usize,
    ) -> LinearWeights {
        let d = x[0].len();
        let (mut theta, mut theta0) = (vec![0.0; d], 0.0);
        let (mut sum, mut sum0, mut t) = (vec![0.0; d], 0.0, 0.0);
        for _ in 0..epochs {
            for &i in order {
                t += 1.0;
                let margin = y[i] * (dot(&theta, &x[i]) + theta0);
                if algorithm == Algorithm::Pegasos {
                    let eta = 1.0 / f64::sqrt(t);
                    for j in 0..d {
                        theta[j] *= 1.0 - eta * lambda;
                        if margin <= 1.0 {
                            theta[j] += eta * y[i] * x[i][j];
                        }
                    }
                    if margin <= 1.0 {
                        theta0 += eta * y[i];
                    }
                } else if margin <= PERCEPTRON_TOLERANCE {
                    (0..d).for_each(|j| theta[j] += y[i] * x[i][j]);
                    theta0 += y[i];
                }
                (0..d).for_each(|j| sum[j] += theta[j]);
                sum0 += theta0;
            }
        }
        if algorithm == Algorithm::AveragePerceptron {
            return LinearWeights {
                theta: sum.iter().map(|s| s / t).collect(),
                theta0: sum0 / t,
            };
        }
        LinearWeights { theta, theta0 }
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn random_problem(seed: u64) -> (Vec<Vec<f64>>, Vec<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (n, d) = (40, 12);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| {
                        if rng.random_bool(0.3) {
                            rng.random_range(-2.0..2.0)
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let y = (0..n)
            .map(|i| if x[i][0] + x[i][1] > 0.0 { 1.0 } else { -1.0 })
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.reverse();
        (x, y, order)
    }

    fn sparse(x: &[Vec<f64>]) -> SparseMatrix {
        let mut matrix = SparseMatrix::new(x[0].len());
        for row in x {
            let entries: Vec<(usize, f64)> = row
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, v)| *v != 0.0)
                .collect();
            matrix.push_row(&entries);
        }
        matrix
    }

    fn assert_close(got: &LinearWeights, want: &LinearWeights) {
        for (g, w) in got.theta.iter().zip(&want.theta) {
            assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "theta {g} != {w}");
        }
        let (g, w) = (got.theta0, want.theta0);
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "theta0 {g} != {w}"
        );
    }

    #[test]
    fn sparse_learners_match_dense_course_rules() {
        let cases = [
            (Algorithm::Perceptron, 0.0),
            (Algorithm::AveragePerceptron, 0.0),
            (Algorithm::Pegasos, 0.01),
            (Algorithm::Pegasos, 1.0),
            (Algorithm::Pegasos, 10.0),
        ];
        for seed in 0..3 {
            let (x, y, order) = random_problem(seed);
            for (algorithm, lambda) in cases {
                let want = dense_reference(algorithm, lambda, &x, &y, &order, 7);
                let got = train(algorithm, lambda, &sparse(&x), &y, &order, 7).unwrap();
                assert_close(&got, &want);
            }
        }
    }

    #[test]
    fn perceptron_updates_on_zero_margin() {
        let mut learner = Perceptron::new(2);
        learner.step(&[0], &[1.0], 1.0);
        assert_eq!(learner.weights().theta, vec![1.0, 0.0]);
        assert_eq!(learner.weights().theta0, 1.0);
    }

    #[test]
    fn mini_batch_algorithms_have_no_learner() {
        assert!(learner(Algorithm::HingeSgd, 3, 0.1).is_none());
        assert!(learner(Algorithm::Logistic, 3, 0.1).is_none());
    }
}
