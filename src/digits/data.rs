//! Data sets for training: loading train, dev and test splits, and batching them for Burn.
//!
//! Every file is read and checked before training starts, so a bad label or a truncated
//! download stops the run before any epoch. Batches are built by a burn-dataset `Batcher`
//! from small index items, so shuffling moves indices, not pixels.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::{DataParams, ItemRange, Normalize, Source};
use super::idx::{self, Images, PIXELS, SIDE};
use super::{download, synthetic};
use crate::error::input_error;
use crate::experiment::data_path;

/// Images and their labels.
#[derive(Debug, Clone)]
pub struct Split {
    pub images: Arc<Images>,
    pub labels: Arc<Vec<u8>>,
}

impl Split {
    fn new(images: Images, labels: Vec<u8>) -> Split {
        Split {
            images: Arc::new(images),
            labels: Arc::new(labels),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The burn-dataset view: one item per image.
    pub fn dataset(&self) -> InMemDataset<DigitItem> {
        let items = (0..self.len())
            .map(|index| DigitItem {
                index: index as u32,
            })
            .collect();
        InMemDataset::new(items)
    }

    fn slice(&self, start: usize, end: usize) -> Split {
        let pixels = self.images.pixels[start * PIXELS..end * PIXELS].to_vec();
        Split::new(Images { pixels }, self.labels[start..end].to_vec())
    }
}

/// The three splits of one run. `dev` is `None` when `data.dev_fraction = 0`.
pub struct DigitData {
    pub train: Split,
    pub dev: Option<Split>,
    pub test: Split,
}

/// Loads and checks every split the config names.
pub fn load(params: &DataParams, seed: u64) -> anyhow::Result<DigitData> {
    let (train, test) = match params.source {
        Source::Synthetic => synthetic_splits(params, seed),
        Source::Idx => (train_files(params)?, test_files(params)?),
        Source::Mnist => {
            download::ensure_mnist(params)?;
            (train_files(params)?, test_files(params)?)
        }
    };
    let (train, dev) = split_dev(train, params.dev_fraction)?;
    Ok(DigitData { train, dev, test })
}

fn synthetic_splits(params: &DataParams, seed: u64) -> (Split, Split) {
    // Distinct streams, so the test digits are never copies of training digits.
    let (train_images, train_labels) = synthetic::generate(params.synthetic_train, seed);
    let (test_images, test_labels) =
        synthetic::generate(params.synthetic_test, seed ^ 0x5eed_7e57_0000_0001);
    (
        Split::new(train_images, train_labels),
        Split::new(test_images, test_labels),
    )
}

fn file_path(params: &DataParams, file: &str) -> PathBuf {
    data_path(Path::new(&params.dir), file)
}

/// Reads an image file and its label file as one split, with IDX errors as input errors.
pub fn read_split(images: &Path, labels: &Path, range: ItemRange) -> anyhow::Result<Split> {
    let (images, labels) = idx::read_pair(images, labels, range.start, range.end)
        .map_err(|e| input_error(e.to_string()))?;
    Ok(Split::new(images, labels))
}

fn train_files(params: &DataParams) -> anyhow::Result<Split> {
    read_split(
        &file_path(params, &params.train_images),
        &file_path(params, &params.train_labels),
        params.train_range,
    )
}

/// Loads only the test split, for `evaluate`.
pub fn test_files(params: &DataParams) -> anyhow::Result<Split> {
    if params.source == Source::Synthetic {
        return Err(input_error(
            "evaluate needs IDX test files; pass --set data.source=\"idx\" and \
             --set data.test_images=... --set data.test_labels=...",
        ));
    }
    read_split(
        &file_path(params, &params.test_images),
        &file_path(params, &params.test_labels),
        params.test_range,
    )
}

/// Splits off the last `fraction` of the items as the dev set.
fn split_dev(all: Split, fraction: f64) -> anyhow::Result<(Split, Option<Split>)> {
    if fraction == 0.0 {
        return Ok((all, None));
    }
    let train_count = ((1.0 - fraction) * all.len() as f64).round() as usize;
    if train_count == 0 || train_count == all.len() {
        return Err(input_error(format!(
            "data.dev_fraction = {fraction} of {} training items leaves an empty split; use \
             more items or another fraction (0 turns the dev set off)",
            all.len()
        )));
    }
    let dev = all.slice(train_count, all.len());
    Ok((all.slice(0, train_count), Some(dev)))
}

/// One image of a split, by index.
#[derive(Debug, Clone, Copy)]
pub struct DigitItem {
    pub index: u32,
}

/// A batch ready for the network.
#[derive(Debug, Clone)]
pub struct DigitBatch {
    /// `[batch, 1, 28, 28]`.
    pub images: Tensor<4>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
    /// The same labels on the host, for counting.
    pub labels: Vec<u8>,
}

/// Turns index items of one split into normalized image tensors.
#[derive(Clone)]
pub struct DigitBatcher {
    split: Split,
    lookup: Arc<[f32; 256]>,
}

impl DigitBatcher {
    pub fn new(split: &Split, normalize: Normalize) -> DigitBatcher {
        let mut lookup = [0.0f32; 256];
        for (byte, value) in lookup.iter_mut().enumerate() {
            *value = normalize.apply(byte as u8);
        }
        DigitBatcher {
            split: split.clone(),
            lookup: Arc::new(lookup),
        }
    }
}

impl Batcher<DigitItem, DigitBatch> for DigitBatcher {
    fn batch(&self, items: Vec<DigitItem>, device: &Device) -> DigitBatch {
        let mut values = Vec::with_capacity(items.len() * PIXELS);
        let mut labels = Vec::with_capacity(items.len());
        for item in &items {
            let index = item.index as usize;
            values.extend(
                self.split
                    .images
                    .image(index)
                    .iter()
                    .map(|&b| self.lookup[b as usize]),
            );
            labels.push(self.split.labels[index]);
        }
        images_batch(values, labels, device)
    }
}

/// Builds a batch from normalized pixel values (`PIXELS` per image) and labels.
pub fn images_batch(values: Vec<f32>, labels: Vec<u8>, device: &Device) -> DigitBatch {
    let count = labels.len();
    let images = Tensor::<4>::from_data(TensorData::new(values, [count, 1, SIDE, SIDE]), device);
    let ints: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(ints, [count]), device);
    DigitBatch {
        images,
        targets,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(count: usize) -> Split {
        let (images, labels) = synthetic::generate(count, 3);
        Split::new(images, labels)
    }

    #[test]
    fn dev_is_last_tenth() {
        let all = tiny(50);
        let (train, dev) = split_dev(all.clone(), 0.1).unwrap();
        let dev = dev.unwrap();
        assert_eq!(train.len(), 45);
        assert_eq!(dev.len(), 5);
        assert_eq!(dev.labels[..], all.labels[45..]);
    }

    #[test]
    fn zero_fraction_has_no_dev() {
        let (train, dev) = split_dev(tiny(10), 0.0).unwrap();
        assert_eq!(train.len(), 10);
        assert!(dev.is_none());
    }
}
