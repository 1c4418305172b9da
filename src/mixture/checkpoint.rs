//! Resumable mixture runs. `checkpoint.json` in the run folder contains every finished restart
//! and, for a restart that runs long, its state after the latest iteration. Each write
//! replaces the file atomically, so a killed run leaves the previous complete checkpoint.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::{Algorithm, InitRows, MixtureParams};
use super::data::Ratings;
use super::fit::{FitState, Restart};
use super::model::GaussianMixture;
use crate::bail_input;
use crate::run::RunDir;

pub const CHECKPOINT_FILE: &str = "checkpoint.json";

/// The restarts of one run so far.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Shape of the ratings the run started on, compared before resuming.
    users: usize,
    items: usize,
    observed: usize,
    /// The config keys that shape a fit, by name, also compared before resuming.
    settings: BTreeMap<String, String>,
    /// Seconds spent fitting the saved restarts, over every process that worked on the run.
    #[serde(default)]
    fit_seconds: f64,
    /// Finished restarts in `train.seeds` order.
    pub finished: Vec<Restart>,
    /// The restart in progress, if one was saved mid-way.
    pub current: Option<FitState>,
    #[serde(skip)]
    saved_at: Option<Instant>,
    /// How often a restart in progress is saved (`train.checkpoint_seconds`). With the default
    /// 10 s, restarts on the course's matrices finish first and are saved once, when they end,
    /// while an iteration on 100 M ratings takes longer, so such a run is saved after each one.
    #[serde(skip)]
    every: Duration,
    /// `fit_seconds` when this process loaded the checkpoint, and when it started.
    #[serde(skip)]
    base_seconds: f64,
    #[serde(skip)]
    process_started: Option<Instant>,
}

/// Returns the config keys that change what a fit computes, with their values as the config
/// gives them. `train.layout`, `train.chunk_users` and `train.checkpoint_seconds` change only how
/// it runs, so a resume may change them.
fn fit_settings(params: &MixtureParams) -> BTreeMap<String, String> {
    let algorithm = match params.algorithm {
        Algorithm::Em => "em",
        Algorithm::KMeans => "kmeans",
    };
    let init_rows = match params.init_rows {
        InitRows::Numpy => "numpy",
        InitRows::Seeded => "seeded",
        InitRows::KMeansPlusPlus => "kmeans++",
    };
    [
        ("model.algorithm", algorithm.to_string()),
        ("model.k", params.k.to_string()),
        ("model.min_variance", params.min_variance.to_string()),
        ("init.rows", init_rows.to_string()),
        ("train.tolerance", params.tolerance.to_string()),
        ("train.max_iterations", params.max_iterations.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

impl Checkpoint {
    /// Returns an empty checkpoint for a fresh run.
    pub fn new(ratings: &Ratings, params: &MixtureParams) -> Checkpoint {
        Checkpoint {
            users: ratings.users,
            items: ratings.items,
            observed: ratings.observed(),
            settings: fit_settings(params),
            fit_seconds: 0.0,
            finished: Vec::new(),
            current: None,
            saved_at: Some(Instant::now()),
            every: params.checkpoint_every,
            base_seconds: 0.0,
            process_started: Some(Instant::now()),
        }
    }

    /// Seconds spent fitting: the saved runs before this process, plus this process so far.
    pub fn total_fit_seconds(&self) -> f64 {
        self.base_seconds
            + self
                .process_started
                .map_or(0.0, |at| at.elapsed().as_secs_f64())
    }

    /// Reads the run's checkpoint, or returns an empty one when the run saved none yet, and
    /// checks that it belongs to these ratings, seeds and K.
    pub fn load(
        run: &RunDir,
        ratings: &Ratings,
        params: &MixtureParams,
    ) -> anyhow::Result<Checkpoint> {
        let path = run.file(CHECKPOINT_FILE);
        if !path.is_file() {
            return Ok(Checkpoint::new(ratings, params));
        }
        let text = std::fs::read(&path)?;
        let checkpoint: Checkpoint = match serde_json::from_slice(&text) {
            Ok(checkpoint) => checkpoint,
            Err(error) => bail_input!(
                "{} is not a readable checkpoint ({error}); remove it to fit every restart \
                 again, or start a new run",
                path.display()
            ),
        };
        checkpoint.check(ratings, params).map_err(|problem| {
            crate::error::input_error(format!(
                "{} does not belong to this run: {problem}; start a new run instead of \
                 resuming",
                path.display()
            ))
        })?;
        Ok(Checkpoint {
            saved_at: Some(Instant::now()),
            every: params.checkpoint_every,
            base_seconds: checkpoint.fit_seconds,
            process_started: Some(Instant::now()),
            ..checkpoint
        })
    }

    fn check(&self, ratings: &Ratings, params: &MixtureParams) -> Result<(), String> {
        let now = (ratings.users, ratings.items, ratings.observed());
        if (self.users, self.items, self.observed) != now {
            return Err(format!(
                "it was made on {} x {} ratings with {} observed, the data now is {} x {} \
                 with {} observed",
                self.users, self.items, self.observed, now.0, now.1, now.2
            ));
        }
        for (key, value) in fit_settings(params) {
            let saved = self.settings.get(&key).map_or("nothing", String::as_str);
            if saved != value {
                return Err(format!(
                    "it was made with {key} = {saved}, the config now has {value}"
                ));
            }
        }
        for (position, restart) in self.finished.iter().enumerate() {
            check_seed(position, restart.seed, &params.seeds)?;
            check_mixture(restart.seed, &restart.mixture, params.k, ratings.items)?;
            if !restart.objective.is_finite() || restart.iterations > params.max_iterations {
                return Err(format!(
                    "seed {} has an invalid objective or count",
                    restart.seed
                ));
            }
        }
        if let Some(state) = &self.current {
            check_seed(self.finished.len(), state.seed, &params.seeds)?;
            check_mixture(state.seed, &state.mixture, params.k, ratings.items)?;
            let valid = state.iteration < params.max_iterations
                && state.emptied.len() == params.k
                && state.previous.is_none_or(f64::is_finite);
            if !valid {
                return Err(format!("the state of seed {} is invalid", state.seed));
            }
        }
        Ok(())
    }

    /// Rows of `metrics.csv` the saved restarts account for.
    pub fn iterations(&self) -> usize {
        let finished: usize = self.finished.iter().map(|r| r.iterations).sum();
        finished + self.current.as_ref().map_or(0, |state| state.iteration)
    }

    /// Records a finished restart and saves.
    pub fn finish_restart(&mut self, run: &RunDir, restart: Restart) -> anyhow::Result<()> {
        self.current = None;
        self.finished.push(restart);
        self.save(run)
    }

    /// True when the restart in progress should be saved.
    pub fn due(&self) -> bool {
        self.saved_at.is_none_or(|at| at.elapsed() >= self.every)
    }

    /// Saves the state of the restart in progress.
    pub fn save_current(&mut self, run: &RunDir, state: FitState) -> anyhow::Result<()> {
        self.current = Some(state);
        self.save(run)
    }

    fn save(&mut self, run: &RunDir) -> anyhow::Result<()> {
        self.fit_seconds = self.total_fit_seconds();
        run.write_json(CHECKPOINT_FILE, self)?;
        self.saved_at = Some(Instant::now());
        Ok(())
    }
}

fn check_seed(position: usize, seed: u64, seeds: &[u64]) -> Result<(), String> {
    if seeds.get(position) == Some(&seed) {
        Ok(())
    } else {
        Err(format!(
            "restart {position} has seed {seed}, not the configured one"
        ))
    }
}

/// Checks a saved mixture's shape and values, since a hand-edited file can contain anything.
fn check_mixture(seed: u64, mixture: &GaussianMixture, k: usize, d: usize) -> Result<(), String> {
    if (mixture.k, mixture.d) != (k, d) {
        return Err(format!(
            "seed {seed} has K = {} over {} items, the config asks for K = {k} over {d}",
            mixture.k, mixture.d
        ));
    }
    let shapes_match = mixture.mu.len() == k * d && mixture.var.len() == k && mixture.p.len() == k;
    let values_valid = mixture.first_non_finite().is_none()
        && mixture.var.iter().all(|&v| v > 0.0)
        && mixture.p.iter().all(|&p| (0.0..=1.0).contains(&p));
    if !shapes_match || !values_valid {
        return Err(format!(
            "the mixture of seed {seed} has the wrong number of values or a variance, weight or \
             mean out of range"
        ));
    }
    Ok(())
}
