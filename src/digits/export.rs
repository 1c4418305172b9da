//! Export of the best model: safetensors in PyTorch layout, Burn's `.bpk`, and `model.json`.
//!
//! The safetensors names are the module field paths (`conv1.weight`, `fc2.bias`, ...) and
//! Linear weights are written `[out, in]` as `nn.Linear` stores them, so a PyTorch module with
//! the same attribute names loads the file with `load_state_dict`.

use std::path::Path;

use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use serde::{Deserialize, Serialize};

use super::checkpoint::{load_model, save_model};
use super::config::{ModelParams, Normalize};
use super::model::DigitNet;
use crate::run::{RunDir, write_atomic_with};

/// File names inside the run folder.
pub const SAFETENSORS: &str = "model.safetensors";
pub const BURNPACK: &str = "model.bpk";
pub const MODEL_CONFIG: &str = "model.json";

/// What `model.json` records: enough to rebuild the network and its input scaling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedModel {
    pub model: ModelParams,
    pub normalize: Normalize,
    /// The epoch whose weights were exported.
    pub epoch: usize,
}

/// Writes the three export files into the run folder.
pub fn export<M: DigitNet>(run: &RunDir, model: &M, info: &ExportedModel) -> anyhow::Result<()> {
    write_atomic_with(&run.file(SAFETENSORS), |temporary| {
        let mut store = SafetensorsStore::from_file(temporary)
            .with_to_adapter(BurnToPyTorchAdapter)
            .metadata("producer", "trainlab")
            .overwrite(true);
        model
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", temporary.display()))
    })?;
    save_model(model, &run.file(BURNPACK))?;
    run.write_json(MODEL_CONFIG, info)
}

/// Reads `model.json` of a run folder.
pub fn read_model_config(run: &RunDir) -> anyhow::Result<ExportedModel> {
    let path = run.file(MODEL_CONFIG);
    let text = std::fs::read(&path).map_err(|e| {
        crate::error::input_error(format!(
            "cannot read {}: {e}; the run has no exported model (did training finish?)",
            path.display()
        ))
    })?;
    Ok(serde_json::from_slice(&text)?)
}

/// Loads the exported `.bpk` into a freshly built model.
pub fn load_burnpack<M: DigitNet>(run: &RunDir, model: M) -> anyhow::Result<M> {
    load_model(model, &run.file(BURNPACK))
}

/// Loads the PyTorch-layout safetensors file back into a Burn model.
pub fn load_safetensors<M: DigitNet>(path: &Path, mut model: M) -> anyhow::Result<M> {
    let mut store = SafetensorsStore::from_file(path).with_from_adapter(PyTorchToBurnAdapter);
    let result = model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    anyhow::ensure!(
        result.missing.is_empty(),
        "{} lacks tensors {:?}",
        path.display(),
        result.missing
    );
    Ok(model)
}
