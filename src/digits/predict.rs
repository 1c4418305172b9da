//! `predict` and `evaluate` on a finished run: image files and IDX files in, digits out.

use std::path::Path;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{DigitsConfig, ModelKind, ModelParams, Normalize};
use super::data::{self, Split};
use super::export::{self, ExportedModel};
use super::idx::{self, PIXELS, SIDE};
use super::model::{Cnn, DigitNet, Mlp};
use super::report::{Confusion, confusion_svg};
use super::train::score;
use crate::backend::BackendChoice;
use crate::cli::PredictArgs;
use crate::config::{ConfigDoc, resolve};
use crate::error::input_error;
use crate::experiment::Metrics;
use crate::run::RunDir;

/// A trained network of either kind, loaded from a run folder.
pub enum LoadedNet {
    Mlp(Box<Mlp>),
    Cnn(Box<Cnn>),
}

impl LoadedNet {
    /// # Shapes
    /// `images`: `[batch, 1, 28, 28]` → logits `[batch, 10]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            LoadedNet::Mlp(net) => net.forward(images),
            LoadedNet::Cnn(net) => net.forward(images),
        }
    }
}

/// Builds the network `model.json` describes and loads the exported `.bpk` weights.
pub fn load_net(run: &RunDir, params: &ModelParams, device: &Device) -> anyhow::Result<LoadedNet> {
    // The initial values are replaced by the loaded weights, so any seed does.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    Ok(match params.kind {
        ModelKind::Mlp => {
            let net = Mlp::new(params, &mut rng, device);
            LoadedNet::Mlp(Box::new(export::load_burnpack(run, net)?))
        }
        ModelKind::Cnn => {
            let net = Cnn::new(params, &mut rng, device);
            LoadedNet::Cnn(Box::new(export::load_burnpack(run, net)?))
        }
    })
}

/// Builds the device of the run's saved backend section.
fn run_device(doc: &ConfigDoc) -> anyhow::Result<Device> {
    let resolved = resolve::<DigitsConfig>(doc)?;
    let backend = &resolved.raw.backend;
    let precision = backend.precision.unwrap_or(crate::config::Precision::F32);
    BackendChoice::new(&backend.name, backend.device, precision)?
        .device(resolved.raw.experiment.seed)
}

fn reject_other_inputs(args: &PredictArgs) -> anyhow::Result<()> {
    if !args.text.is_empty() || args.input.is_some() || args.ratings.is_some() {
        return Err(input_error(
            "digits runs classify images; pass image or IDX files, not --text, --input or \
             --ratings",
        ));
    }
    if args.images.is_empty() {
        return Err(input_error(
            "no images given; pass PNG, JPEG, PGM or IDX files after the run folder",
        ));
    }
    Ok(())
}

/// Reads one input file as 28x28 images: every image of an IDX file, or one picture.
pub fn read_images(path: &Path, invert: bool) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = idx::read_bytes(path).map_err(|e| input_error(e.to_string()))?;
    if bytes.len() >= 4 && bytes[..4] == [0, 0, 8, 3] {
        let images = idx::parse_images(path, &bytes).map_err(|e| input_error(e.to_string()))?;
        let mut out: Vec<Vec<u8>> = images.pixels.chunks(PIXELS).map(<[u8]>::to_vec).collect();
        if invert {
            out.iter_mut().for_each(|image| invert_bytes(image));
        }
        return Ok(out);
    }
    let picture = image::load_from_memory(&bytes).map_err(|e| {
        input_error(format!(
            "{}: not a PNG, JPEG, PGM or IDX image file ({e})",
            path.display()
        ))
    })?;
    let gray = picture.to_luma8();
    let small = image::imageops::resize(&gray, SIDE as u32, SIDE as u32, FilterType::Triangle);
    let mut pixels = small.into_raw();
    if invert {
        invert_bytes(&mut pixels);
    }
    Ok(vec![pixels])
}

fn invert_bytes(pixels: &mut [u8]) {
    pixels.iter_mut().for_each(|p| *p = 255 - *p);
}

/// Class probabilities of images.
///
/// # Shapes
/// Returns one `[10]` row per image.
pub fn probabilities(
    net: &LoadedNet,
    images: &[Vec<u8>],
    normalize: Normalize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let values: Vec<f32> = images
        .iter()
        .flatten()
        .map(|&b| normalize.apply(b))
        .collect();
    let input = Tensor::<4>::from_data(
        TensorData::new(values, [images.len(), 1, SIDE, SIDE]),
        device,
    );
    let probs = softmax(net.forward(input), 1).into_data();
    let flat: Vec<f32> = probs.iter::<f32>().collect();
    flat.chunks(10).map(<[f32]>::to_vec).collect()
}

/// `trainlab predict RUN_DIR IMAGE...`: prints the digit and its probability per image.
pub fn predict(run: &RunDir, doc: &ConfigDoc, args: &PredictArgs) -> anyhow::Result<()> {
    reject_other_inputs(args)?;
    let exported = export::read_model_config(run)?;
    let device = run_device(doc)?;
    let net = load_net(run, &exported.model, &device)?;
    for path in &args.images {
        let images = read_images(path, args.invert)?;
        for chunk_start in (0..images.len()).step_by(1000) {
            let chunk = &images[chunk_start..(chunk_start + 1000).min(images.len())];
            let rows = probabilities(&net, chunk, exported.normalize, &device);
            for (offset, row) in rows.iter().enumerate() {
                print_prediction(path, images.len(), chunk_start + offset, row);
            }
        }
    }
    Ok(())
}

fn print_prediction(path: &Path, count: usize, index: usize, row: &[f32]) {
    let (digit, probability) =
        row.iter().enumerate().fold(
            (0, f32::MIN),
            |best, (d, &p)| if p > best.1 { (d, p) } else { best },
        );
    let name = if count > 1 {
        format!("{}[{index}]", path.display())
    } else {
        path.display().to_string()
    };
    println!("{name}\t{digit}\t{probability:.4}");
}

/// `trainlab evaluate RUN_DIR --set data...`: re-scores the exported model on the configured
/// test files and writes `evaluate-confusion.svg`.
pub fn evaluate(run: &RunDir, doc: &ConfigDoc) -> anyhow::Result<Metrics> {
    let params = resolve::<DigitsConfig>(doc)?.checked;
    let exported: ExportedModel = export::read_model_config(run)?;
    let split: Split = data::test_files(&params.data)?;
    let device = run_device(doc)?;
    let (tally, predictions) = match load_net(run, &exported.model, &device)? {
        LoadedNet::Mlp(net) => score(net.as_ref(), &split, exported.normalize, &device),
        LoadedNet::Cnn(net) => score(net.as_ref(), &split, exported.normalize, &device),
    };
    let confusion = Confusion::new(&split.labels, &predictions);
    run.write(
        "evaluate-confusion.svg",
        confusion_svg(&confusion, "confusion matrix (evaluate)").as_bytes(),
    )?;
    let mut metrics = Metrics::new();
    metrics.insert("test_accuracy".into(), tally.accuracy().into());
    metrics.insert("test_loss".into(), tally.mean_loss().into());
    metrics.insert("test_items".into(), tally.count.into());
    Ok(metrics)
}
