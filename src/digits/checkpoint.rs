//! Checkpoints after every epoch: model, optimizer state, epoch counter and seeds.
//!
//! Each checkpoint is a folder `checkpoints/epoch-NNN/`. Small pointer files `last.json` and
//! `best.json`, replaced atomically once a folder is complete, say which folders count, so a
//! process killed while writing leaves the previous checkpoint in force.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::model::DigitNet;
use crate::run::{RunDir, write_atomic, write_atomic_with};

const FOLDER: &str = "checkpoints";

/// Training progress stored with each checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// The run seed. Each epoch's shuffle and dropout seeds derive from it and the epoch
    /// number, so it and `epochs_done` are the whole random state a resume needs.
    pub seed: u64,
    pub epochs_done: usize,
    /// Optimizer steps taken so far, over all epochs.
    pub global_step: u64,
    pub best_dev_accuracy: Option<f64>,
    pub best_epoch: usize,
    /// Epochs since the dev accuracy last improved, for early stopping.
    pub stale_epochs: usize,
}

impl TrainState {
    pub fn new(seed: u64) -> TrainState {
        TrainState {
            seed,
            epochs_done: 0,
            global_step: 0,
            best_dev_accuracy: None,
            best_epoch: 0,
            stale_epochs: 0,
        }
    }

    /// Counts a finished epoch and returns whether its model is the new best. Without a dev
    /// set every epoch is the best so far, so the best model is the last one.
    pub fn finish_epoch(&mut self, dev_accuracy: Option<f64>) -> bool {
        self.epochs_done += 1;
        let improved = match (dev_accuracy, self.best_dev_accuracy) {
            (None, _) | (Some(_), None) => true,
            (Some(new), Some(best)) => new > best,
        };
        if improved {
            self.best_dev_accuracy = dev_accuracy;
            self.best_epoch = self.epochs_done;
            self.stale_epochs = 0;
        } else {
            self.stale_epochs += 1;
        }
        improved
    }

    /// Returns whether early stopping applies; `patience = 0` turns it off.
    pub fn out_of_patience(&self, patience: usize) -> bool {
        patience > 0 && self.stale_epochs >= patience
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Pointer {
    epoch: usize,
    folder: String,
}

fn root(run: &RunDir) -> PathBuf {
    run.file(FOLDER)
}

fn folder_name(epoch: usize) -> String {
    format!("epoch-{epoch:03}")
}

fn write_pointer(run: &RunDir, name: &str, epoch: usize) -> anyhow::Result<()> {
    let pointer = Pointer {
        epoch,
        folder: folder_name(epoch),
    };
    write_atomic(&root(run).join(name), &serde_json::to_vec_pretty(&pointer)?)
}

fn read_pointer(run: &RunDir, name: &str) -> anyhow::Result<Option<Pointer>> {
    let path = root(run).join(name);
    if !path.is_file() {
        return Ok(None);
    }
    let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let pointer = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a checkpoint pointer", path.display()))?;
    Ok(Some(pointer))
}

/// Writes the checkpoint of the epoch just finished and prunes folders nothing points to.
pub fn save<M: DigitNet>(
    run: &RunDir,
    model: &M,
    optimizer: &ModuleOptimizer,
    state: &TrainState,
    is_best: bool,
) -> anyhow::Result<()> {
    let folder = root(run).join(folder_name(state.epochs_done));
    if folder.exists() {
        // Left by a process killed while writing it; nothing points to it.
        fs::remove_dir_all(&folder)?;
    }
    fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    save_model(model, &folder.join("model.bpk"))?;
    optimizer
        .save(folder.join("optimizer.bpk"))
        .map_err(|e| anyhow::anyhow!("cannot save the optimizer state: {e:?}"))?;
    write_atomic(
        &folder.join("state.json"),
        &serde_json::to_vec_pretty(state)?,
    )?;
    write_pointer(run, "last.json", state.epochs_done)?;
    if is_best {
        write_pointer(run, "best.json", state.epochs_done)?;
    }
    prune(run, state)
}

/// Writes a model as a Burn `.bpk` file, atomically.
pub fn save_model<M: DigitNet>(model: &M, path: &Path) -> anyhow::Result<()> {
    write_atomic_with(path, |temporary| {
        model
            .clone()
            .save_file(temporary)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e:?}", temporary.display()))
    })
}

/// Loads a `.bpk` file into a model of the same architecture.
pub fn load_model<M: DigitNet>(model: M, path: &Path) -> anyhow::Result<M> {
    model.try_load_file(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot load the model {}: {e:?}; was it written by this config?",
            path.display()
        )
    })
}

fn prune(run: &RunDir, state: &TrainState) -> anyhow::Result<()> {
    let keep = [
        folder_name(state.epochs_done),
        folder_name(state.best_epoch),
    ];
    for entry in fs::read_dir(root(run))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() && name.starts_with("epoch-") && !keep.contains(&name) {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Restores model, optimizer and progress from the last checkpoint. A run killed before its
/// first checkpoint starts from the beginning.
pub fn restore<M: DigitNet>(
    run: &RunDir,
    model: M,
    optimizer: ModuleOptimizer,
    device: &Device,
    seed: u64,
) -> anyhow::Result<(M, ModuleOptimizer, TrainState)> {
    let Some(last) = read_pointer(run, "last.json")? else {
        return Ok((model, optimizer, TrainState::new(seed)));
    };
    let folder = root(run).join(&last.folder);
    let model = load_model(model, &folder.join("model.bpk"))?.fork(device);
    let optimizer = optimizer
        .load(folder.join("optimizer.bpk"))
        .map_err(|e| anyhow::anyhow!("cannot load {}: {e:?}", folder.display()))?;
    let state_path = folder.join("state.json");
    let text =
        fs::read(&state_path).with_context(|| format!("cannot read {}", state_path.display()))?;
    let state = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a training state", state_path.display()))?;
    Ok((model, optimizer, state))
}

/// Returns the best checkpoint's model, or `current` when it is the best.
pub fn load_best<M: DigitNet>(run: &RunDir, current: M, state: &TrainState) -> anyhow::Result<M> {
    match read_pointer(run, "best.json")? {
        Some(best) if best.epoch != state.epochs_done => {
            load_model(current, &root(run).join(best.folder).join("model.bpk"))
        }
        _ => Ok(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_dev_makes_last_best() {
        let mut state = TrainState::new(0);
        assert!(state.finish_epoch(None));
        assert!(state.finish_epoch(None));
        assert_eq!(state.best_epoch, 2);
    }

    #[test]
    fn patience_counts_stale_epochs() {
        let mut state = TrainState::new(0);
        assert!(state.finish_epoch(Some(0.5)));
        assert!(!state.finish_epoch(Some(0.5)));
        assert!(!state.finish_epoch(Some(0.4)));
        assert!(state.out_of_patience(2));
        assert!(!state.out_of_patience(0));
        assert_eq!(state.best_epoch, 1);
    }
}
