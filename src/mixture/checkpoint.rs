//! Resumable mixture runs. `checkpoint.json` in the run folder holds every finished restart
//! and, for a restart that runs long, its state after the latest iteration. Each write
//! replaces the file atomically, so a killed run leaves the previous complete checkpoint.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::MixtureParams;
use super::data::Ratings;
use super::fit::{FitState, Restart};
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
}

impl Checkpoint {
    /// Returns an empty checkpoint for a fresh run.
    pub fn new(ratings: &Ratings, every: Duration) -> Checkpoint {
        Checkpoint {
            users: ratings.users,
            items: ratings.items,
            observed: ratings.observed(),
            finished: Vec::new(),
            current: None,
            saved_at: Some(Instant::now()),
            every,
        }
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
            return Ok(Checkpoint::new(ratings, params.checkpoint_every));
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
        checkpoint
            .check(ratings, &params.seeds, params.k)
            .map_err(|problem| {
                crate::error::input_error(format!(
                    "{} does not belong to this run: {problem}; start a new run instead of \
                 resuming",
                    path.display()
                ))
            })?;
        Ok(Checkpoint {
            saved_at: Some(Instant::now()),
            every: params.checkpoint_every,
            ..checkpoint
        })
    }

    fn check(&self, ratings: &Ratings, seeds: &[u64], k: usize) -> Result<(), String> {
        let now = (ratings.users, ratings.items, ratings.observed());
        if (self.users, self.items, self.observed) != now {
            return Err(format!(
                "it was made on {} x {} ratings with {} observed, the data now is {} x {} \
                 with {} observed",
                self.users, self.items, self.observed, now.0, now.1, now.2
            ));
        }
        let states = self
            .finished
            .iter()
            .map(|r| (r.seed, &r.mixture))
            .chain(self.current.iter().map(|s| (s.seed, &s.mixture)));
        for (position, (seed, mixture)) in states.enumerate() {
            if seeds.get(position) != Some(&seed) {
                return Err(format!(
                    "restart {position} has seed {seed}, not the configured one"
                ));
            }
            if (mixture.k, mixture.d) != (k, ratings.items) {
                return Err(format!(
                    "seed {seed} has K = {} over {} items, the config asks for K = {k}",
                    mixture.k, mixture.d
                ));
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
        run.write_json(CHECKPOINT_FILE, self)?;
        self.saved_at = Some(Instant::now());
        Ok(())
    }
}
