//! Fitting loops: course initialization, EM and K-means iterations, restarts over seeds.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{Algorithm, InitRows};
use super::data::Ratings;
use super::em::{self, Block, DeviceMixture, Layout, Stats};
use super::model::GaussianMixture;
use super::numpy_rng::legacy_choice;
use crate::bail_input;

/// Relative change of the objective below which a decrease counts as rounding noise.
const DECREASE_NOISE: f64 = 1e-10;

/// The users of a matrix as device blocks: one cached block, or blocks of `chunk` users built
/// afresh on every pass so memory stays bounded by the chunk size.
pub struct Blocks<'a> {
    ratings: &'a Ratings,
    chunk: Option<usize>,
    layout: Layout,
    device: Device,
    cached: Option<Block>,
}

impl<'a> Blocks<'a> {
    pub fn new(
        ratings: &'a Ratings,
        chunk: Option<usize>,
        layout: Layout,
        device: &Device,
    ) -> Blocks<'a> {
        Blocks {
            ratings,
            chunk,
            layout,
            device: device.clone(),
            cached: None,
        }
    }

    pub fn ratings(&self) -> &'a Ratings {
        self.ratings
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Calls `visit(first_user, block)` for every block in user order.
    pub fn for_each(
        &mut self,
        mut visit: impl FnMut(usize, &Block) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (ratings, layout, device) = (self.ratings, self.layout, &self.device);
        let users = ratings.users;
        let Some(chunk) = self.chunk else {
            let block = self
                .cached
                .get_or_insert_with(|| Block::upload(ratings, 0, users, layout, device));
            return visit(0, block);
        };
        for start in (0..users).step_by(chunk) {
            crate::interrupt::check()?;
            let end = (start + chunk).min(users);
            visit(start, &Block::upload(ratings, start, end, layout, device))?;
        }
        Ok(())
    }

    /// Runs an E-step over every block and returns the summed statistics.
    pub fn statistics(
        &mut self,
        mixture: &DeviceMixture,
        algorithm: Algorithm,
    ) -> anyhow::Result<Stats> {
        let mut total: Option<Stats> = None;
        self.for_each(|_, block| {
            let stats = block_statistics(block, mixture, algorithm);
            total = Some(match total.take() {
                Some(sum) => sum.merge(stats),
                None => stats,
            });
            Ok(())
        })?;
        Ok(total.expect("a matrix has at least one user, so at least one block"))
    }
}

fn block_statistics(block: &Block, mixture: &DeviceMixture, algorithm: Algorithm) -> Stats {
    match algorithm {
        Algorithm::Em => {
            let (post, log_likelihood) = em::posterior(block, mixture);
            Stats::of_block(block, post, em::host(log_likelihood.sum())[0])
        }
        Algorithm::KMeans => Stats::of_block(block, em::nearest(block, &mixture.mu), 0.0),
    }
}

/// Picks the K initial rows for one restart with any `init.rows` method.
pub fn starting_rows(
    blocks: &mut Blocks,
    rows: InitRows,
    seed: u64,
    k: usize,
) -> anyhow::Result<Vec<usize>> {
    match rows {
        InitRows::KMeansPlusPlus => {
            check_k(k, blocks.ratings().users)?;
            kmeans_plus_plus(blocks, seed, k)
        }
        other => initial_rows(other, seed, blocks.ratings().users, k),
    }
}

/// Picks the K initial rows for one restart with a method that does not look at the ratings.
pub fn initial_rows(
    rows: InitRows,
    seed: u64,
    users: usize,
    k: usize,
) -> anyhow::Result<Vec<usize>> {
    check_k(k, users)?;
    Ok(match rows {
        InitRows::Numpy => legacy_choice(seed as u32, users, k),
        InitRows::Seeded => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rand::seq::index::sample(&mut rng, users, k).into_vec()
        }
        InitRows::KMeansPlusPlus => {
            anyhow::bail!("k-means++ rows depend on the ratings: pick them with starting_rows")
        }
    })
}

fn check_k(k: usize, users: usize) -> anyhow::Result<()> {
    if k > users {
        bail_input!(
            "model.k = {k} is larger than the number of users ({users}); each component starts \
             at a distinct user, so lower model.k to at most {users}"
        );
    }
    Ok(())
}

/// Picks rows by k-means++ seeding: the first row uniformly at random, each next one with probability proportional to its squared distance to the nearest row chosen so
/// far. Distances run over each user's observed entries, as in the E-step. A chosen row has
/// distance 0 to itself, so rows stay distinct. When every remaining distance is 0 (duplicate
/// users, users without ratings), the next row is drawn uniformly from the rows not chosen.
fn kmeans_plus_plus(blocks: &mut Blocks, seed: u64, k: usize) -> anyhow::Result<Vec<usize>> {
    let users = blocks.ratings().users;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = vec![rng.random_range(0..users)];
    let mut nearest = vec![f64::INFINITY; users];
    while chosen.len() < k {
        let newest = chosen[chosen.len() - 1];
        update_nearest(blocks, newest, &mut nearest)?;
        for &row in &chosen {
            nearest[row] = 0.0;
        }
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 && total.is_finite() {
            draw_weighted(&nearest, rng.random::<f64>() * total)
        } else {
            let free: Vec<usize> = (0..users).filter(|row| !chosen.contains(row)).collect();
            free[rng.random_range(0..free.len())]
        };
        chosen.push(next);
    }
    Ok(chosen)
}

/// Lowers `nearest[u]` to user u's squared distance to `row` where that is closer.
fn update_nearest(blocks: &mut Blocks, row: usize, nearest: &mut [f64]) -> anyhow::Result<()> {
    let ratings = blocks.ratings();
    let data = TensorData::new(ratings.dense_row(row), [1, ratings.items]);
    let mean = Tensor::<2>::from_data(data, blocks.device());
    blocks.for_each(|first_user, block| {
        let distances = em::host(em::squared_distances(block, &mean));
        for (offset, distance) in distances.into_iter().enumerate() {
            // The expanded form can round a zero distance to a tiny negative number.
            let slot = &mut nearest[first_user + offset];
            *slot = slot.min(distance.max(0.0));
        }
        Ok(())
    })
}

/// Returns the index where the running sum of `weights` first exceeds `target`, skipping
/// zero weights so a chosen row is never returned.
fn draw_weighted(weights: &[f64], target: f64) -> usize {
    let mut sum = 0.0;
    let mut last_positive = 0;
    for (index, &weight) in weights.iter().enumerate() {
        if weight > 0.0 {
            sum += weight;
            last_positive = index;
            if target < sum {
                return index;
            }
        }
    }
    // Rounding can leave `target` at the very end of the sum.
    last_positive
}

/// Builds the course's starting mixture: the chosen users' rows (0 at missing entries) as
/// means, variance of component j = mean over all n·d entries of (X − μ_j)² with missing
/// entries counted as 0, and uniform weights. Variances are floored at `min_variance` so two
/// identical users cannot start a component at variance 0.
pub fn initial_mixture(ratings: &Ratings, rows: &[usize], min_variance: f64) -> GaussianMixture {
    let d = ratings.items;
    let mut mu = Vec::with_capacity(rows.len() * d);
    for &row in rows {
        mu.extend(ratings.dense_row(row));
    }
    let column_sums = column_sums(ratings);
    let total_sq: f64 = ratings.value.iter().map(|v| v * v).sum();
    let n = ratings.users as f64;
    let var = mu
        .chunks(d.max(1))
        .map(|mean| {
            // Σ_u Σ_l (x_ul − μ_l)² = Σ x² − 2 Σ_l μ_l·colsum_l + n·‖μ‖², over all entries.
            let cross: f64 = mean.iter().zip(&column_sums).map(|(m, s)| m * s).sum();
            let norm: f64 = mean.iter().map(|m| m * m).sum();
            let value = (total_sq - 2.0 * cross + n * norm) / (n * d as f64);
            value.max(min_variance)
        })
        .collect();
    let k = rows.len();
    GaussianMixture {
        k,
        d,
        mu,
        var,
        p: vec![1.0 / k as f64; k],
    }
}

fn column_sums(ratings: &Ratings) -> Vec<f64> {
    let mut sums = vec![0.0; ratings.items];
    for (&item, &value) in ratings.item.iter().zip(&ratings.value) {
        sums[item as usize] += value;
    }
    sums
}

/// Stopping and flooring settings shared by every restart.
#[derive(Debug, Clone, Copy)]
pub struct FitSettings {
    pub algorithm: Algorithm,
    pub min_variance: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
}

/// One finished restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restart {
    pub seed: u64,
    /// EM: the log-likelihood of the last E-step (the course's reported value). K-means: the
    /// cost after the last M-step.
    pub objective: f64,
    pub iterations: usize,
    pub converged: bool,
    pub mixture: GaussianMixture,
    /// Warnings raised along the way: a decreasing log-likelihood, an emptied component.
    pub warnings: Vec<String>,
}

/// The state of a restart between two iterations: enough to continue it exactly as if it had
/// never stopped, because each iteration depends only on the mixture and these counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitState {
    pub seed: u64,
    /// Iterations done so far.
    pub iteration: usize,
    /// Objective of the last iteration, oriented so that larger is better.
    pub previous: Option<f64>,
    pub warnings: Vec<String>,
    /// Components already reported as emptied, so each is reported once.
    pub emptied: Vec<bool>,
    /// The mixture after the last M-step.
    pub mixture: GaussianMixture,
}

impl FitState {
    /// Returns the state of a restart that has not run any iteration yet.
    pub fn start(seed: u64, mixture: GaussianMixture) -> FitState {
        FitState {
            seed,
            iteration: 0,
            previous: None,
            warnings: Vec::new(),
            emptied: vec![false; mixture.k],
            mixture,
        }
    }
}

/// The progress report passed to the iteration hook after each iteration.
pub struct Progress<'p> {
    pub iteration: usize,
    pub objective: f64,
    /// True when this iteration ends the restart.
    pub done: bool,
    seed: u64,
    previous: f64,
    warnings: &'p [String],
    emptied: &'p [bool],
    mixture: &'p DeviceMixture,
}

impl Progress<'_> {
    /// Copies the state after this iteration to the host, for a checkpoint.
    pub fn state(&self) -> FitState {
        FitState {
            seed: self.seed,
            iteration: self.iteration,
            previous: Some(self.previous),
            warnings: self.warnings.to_vec(),
            emptied: self.emptied.to_vec(),
            mixture: self.mixture.download(),
        }
    }
}

/// Called after each iteration.
pub type IterationHook<'h> = &'h mut dyn FnMut(&Progress) -> anyhow::Result<()>;

/// Runs EM or K-means from `from` until the gain is at most `tolerance · |objective|` or
/// `max_iterations` is reached. As in the course, the mixture returned is the one after the
/// last M-step and the EM objective is the log-likelihood of the E-step before it.
pub fn fit(
    blocks: &mut Blocks,
    from: FitState,
    settings: FitSettings,
    hook: IterationHook,
) -> anyhow::Result<Restart> {
    let device = blocks.device.clone();
    let users = blocks.ratings().users;
    let FitState {
        seed,
        iteration: done_before,
        mut previous,
        mut warnings,
        mut emptied,
        mixture: start,
    } = from;
    let mut mixture = DeviceMixture::upload(&start, &device);
    for iteration in done_before + 1..=settings.max_iterations {
        crate::interrupt::check()?;
        let stats = blocks.statistics(&mixture, settings.algorithm)?;
        note_empty_components(&stats, iteration, &mut emptied, &mut warnings);
        let (next, objective) = match settings.algorithm {
            Algorithm::Em => {
                let next = em::m_step(&stats, &mixture, settings.min_variance, users);
                (next, stats.log_likelihood)
            }
            Algorithm::KMeans => em::kmeans_step(&stats, &mixture, users),
        };
        check_finite(objective, iteration, seed)?;
        mixture = next;
        // Both objectives are oriented so that larger is better here.
        let score = oriented(settings.algorithm, objective);
        let mut converged = false;
        if let Some(last) = previous {
            let gain = score - last;
            // Summing a million terms in f64 moves the objective by about 1e-13 of its size,
            // so only a drop beyond that noise is a real decrease worth reporting.
            if gain < -DECREASE_NOISE * objective.abs().max(1.0) {
                warnings.push(format!(
                    "seed {seed}: the objective went from {} to {objective} at iteration \
                     {iteration}; stopping there",
                    oriented(settings.algorithm, last)
                ));
            }
            converged = gain <= settings.tolerance * objective.abs();
        }
        previous = Some(score);
        hook(&Progress {
            iteration,
            objective,
            done: converged || iteration == settings.max_iterations,
            seed,
            previous: score,
            warnings: &warnings,
            emptied: &emptied,
            mixture: &mixture,
        })?;
        if converged {
            return finish(seed, objective, iteration, true, &mixture, warnings);
        }
    }
    let objective = oriented(settings.algorithm, previous.unwrap_or(f64::NAN));
    finish(
        seed,
        objective,
        settings.max_iterations.max(done_before),
        false,
        &mixture,
        warnings,
    )
}

fn oriented(algorithm: Algorithm, objective: f64) -> f64 {
    match algorithm {
        Algorithm::Em => objective,
        Algorithm::KMeans => -objective,
    }
}

fn check_finite(objective: f64, iteration: usize, seed: u64) -> anyhow::Result<()> {
    if objective.is_finite() {
        return Ok(());
    }
    anyhow::bail!(
        "seed {seed}: the objective became {objective} at iteration {iteration}; a component \
         variance probably collapsed: raise model.min_variance or lower model.k"
    )
}

/// Warns once for each component whose posterior weight drops to exactly zero.
fn note_empty_components(
    stats: &Stats,
    iteration: usize,
    emptied: &mut [bool],
    warnings: &mut Vec<String>,
) {
    let weights = em::host(stats.weight.clone());
    for (component, weight) in weights.iter().enumerate() {
        if *weight == 0.0 && !emptied[component] {
            emptied[component] = true;
            warnings.push(format!(
                "component {component} lost all its weight at iteration {iteration}; it keeps \
                 its previous mean and variance (consider a lower model.k)"
            ));
        }
    }
}

fn finish(
    seed: u64,
    objective: f64,
    iterations: usize,
    converged: bool,
    mixture: &DeviceMixture,
    warnings: Vec<String>,
) -> anyhow::Result<Restart> {
    let mixture = mixture.download();
    if let Some((name, component)) = mixture.first_non_finite() {
        anyhow::bail!(
            "seed {seed}: {name} of component {component} is not finite after {iterations} \
             iterations; raise model.min_variance or lower model.k"
        );
    }
    Ok(Restart {
        seed,
        objective,
        iterations,
        converged,
        mixture,
        warnings,
    })
}
