//! The digits config as it appears in TOML, and the checked parameters training accepts.
//!
//! Defaults follow the MIT 6.86x digit project: batch 32, 10 epochs, the last 10% of the
//! training items as the dev set, pixels scaled to [0, 1].

use serde::{Deserialize, Serialize};

use crate::config::checks::{at_least, non_negative, positive, within};
use crate::config::{BackendSection, ExperimentConfig, ExperimentSection, FieldError, Precision};

/// The whole digits config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsConfig {
    pub experiment: ExperimentSection,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

/// Where the digits come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// IDX files (raw or gzip) named by the `data.*_images` / `data.*_labels` keys.
    Idx,
    /// Digits drawn procedurally from the seed: no files, no network.
    Synthetic,
    /// The four MNIST files, downloaded once into `data.dir` and then read as IDX.
    Mnist,
}

/// How pixel bytes become network inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Raw bytes, 0 to 255.
    None,
    /// Bytes divided by 255.
    Unit,
    /// Bytes divided by 255, then standardized with the MNIST training-set mean 0.1307 and
    /// standard deviation 0.3081.
    Mnist,
}

impl Normalize {
    /// Maps one pixel byte to its input value.
    pub fn apply(self, byte: u8) -> f32 {
        let value = byte as f32;
        match self {
            Normalize::None => value,
            Normalize::Unit => value / 255.0,
            Normalize::Mnist => (value / 255.0 - 0.1307) / 0.3081,
        }
    }
}

/// `[data]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
    pub source: Source,
    pub dir: String,
    pub train_images: String,
    pub train_labels: String,
    pub test_images: String,
    pub test_labels: String,
    /// `[start, end)` of the training file's items; all of them when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_range: Option<[i64; 2]>,
    /// `[start, end)` of the test file's items; all of them when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_range: Option<[i64; 2]>,
    /// Share of the training items, taken from the end, that become the dev set.
    pub dev_fraction: f64,
    pub normalize: Normalize,
    /// Number of training digits drawn when `source = "synthetic"`.
    pub synthetic_train: i64,
    /// Number of test digits drawn when `source = "synthetic"`.
    pub synthetic_test: i64,
    /// Base URL the `mnist` source downloads the four files from.
    pub mirror: String,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            source: Source::Idx,
            dir: "data/mnist".into(),
            train_images: "train-images-idx3-ubyte.gz".into(),
            train_labels: "train-labels-idx1-ubyte.gz".into(),
            test_images: "t10k-images-idx3-ubyte.gz".into(),
            test_labels: "t10k-labels-idx1-ubyte.gz".into(),
            train_range: None,
            test_range: None,
            dev_fraction: 0.1,
            normalize: Normalize::Unit,
            synthetic_train: 6000,
            synthetic_test: 1000,
            mirror: "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
        }
    }
}

/// Network architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Mlp,
    Cnn,
}

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    Relu,
    /// Negative slope 0.01, PyTorch's default.
    LeakyRelu,
}

/// `[model]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    pub kind: ModelKind,
    /// Width of the MLP's hidden layer or of the CNN's first fully connected layer.
    pub hidden: i64,
    pub activation: Activation,
    /// Dropout probability before the CNN's last layer (the MLP has no dropout).
    pub dropout: f64,
    pub conv1_channels: i64,
    pub conv2_channels: i64,
    pub kernel_size: i64,
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection {
            kind: ModelKind::Cnn,
            hidden: 128,
            activation: Activation::Relu,
            dropout: 0.5,
            conv1_channels: 32,
            conv2_channels: 64,
            kernel_size: 3,
        }
    }
}

/// Optimizer family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

/// Learning-rate schedule over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Multiply the rate by `train.gamma` every `train.step_size` epochs.
    Step,
    /// Cosine decay from the rate to 0 over `train.epochs`.
    Cosine,
}

/// `[train]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    pub epochs: i64,
    pub batch_size: i64,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    /// SGD momentum; PyTorch-style, with dampening 0.
    pub momentum: f64,
    pub nesterov: bool,
    /// L2 penalty added to the gradient, as PyTorch's `weight_decay`.
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub step_size: i64,
    pub gamma: f64,
    /// Stop after this many epochs without a better dev accuracy; 0 turns it off.
    pub patience: i64,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            epochs: 10,
            batch_size: 32,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.1,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            step_size: 1,
            gamma: 0.1,
            patience: 0,
        }
    }
}

/// An item range `[start, end)` of a file; `None` ends at the last item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRange {
    pub start: usize,
    pub end: Option<usize>,
}

/// Checked data settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataParams {
    pub source: Source,
    pub dir: String,
    pub train_images: String,
    pub train_labels: String,
    pub test_images: String,
    pub test_labels: String,
    pub train_range: ItemRange,
    pub test_range: ItemRange,
    pub dev_fraction: f64,
    pub normalize: Normalize,
    pub synthetic_train: usize,
    pub synthetic_test: usize,
    pub mirror: String,
}

/// Checked architecture settings; also saved next to exported models as `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    pub kind: ModelKind,
    pub hidden: usize,
    pub activation: Activation,
    pub dropout: f64,
    pub conv1_channels: usize,
    pub conv2_channels: usize,
    pub kernel_size: usize,
}

/// Checked optimization settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainParams {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub step_size: usize,
    pub gamma: f64,
    pub patience: usize,
}

/// Everything training needs, after every check passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigitsParams {
    pub data: DataParams,
    pub model: ModelParams,
    pub train: TrainParams,
}

impl ExperimentConfig for DigitsConfig {
    type Checked = DigitsParams;
    const DEFAULT_PRECISION: Precision = Precision::F32;

    fn experiment_mut(&mut self) -> &mut ExperimentSection {
        &mut self.experiment
    }

    fn backend_mut(&mut self) -> &mut BackendSection {
        &mut self.backend
    }

    fn validate(&self) -> Result<DigitsParams, FieldError> {
        Ok(DigitsParams {
            data: self.data.validate()?,
            model: self.model.validate()?,
            train: self.train.validate()?,
        })
    }
}

fn item_range(key: &str, range: Option<[i64; 2]>) -> Result<ItemRange, FieldError> {
    let Some([start, end]) = range else {
        return Ok(ItemRange {
            start: 0,
            end: None,
        });
    };
    if start < 0 || end <= start {
        return Err(FieldError::out_of_range(
            key,
            format!("[{start}, {end}]"),
            "[start, end) with 0 <= start < end",
        ));
    }
    Ok(ItemRange {
        start: start as usize,
        end: Some(end as usize),
    })
}

impl DataSection {
    fn validate(&self) -> Result<DataParams, FieldError> {
        // A dev fraction of 1 would leave nothing to train on.
        let dev_fraction = within("data.dev_fraction", self.dev_fraction, 0.0, 0.9)?;
        let needs_http = self.source == Source::Mnist;
        if needs_http && !self.mirror.ends_with('/') {
            return Err(FieldError::new(
                "data.mirror",
                format!("'{}' must end with '/'", self.mirror),
            ));
        }
        Ok(DataParams {
            source: self.source,
            dir: self.dir.clone(),
            train_images: self.train_images.clone(),
            train_labels: self.train_labels.clone(),
            test_images: self.test_images.clone(),
            test_labels: self.test_labels.clone(),
            train_range: item_range("data.train_range", self.train_range)?,
            test_range: item_range("data.test_range", self.test_range)?,
            dev_fraction,
            normalize: self.normalize,
            synthetic_train: at_least("data.synthetic_train", self.synthetic_train, 10)?,
            synthetic_test: at_least("data.synthetic_test", self.synthetic_test, 1)?,
            mirror: self.mirror.clone(),
        })
    }
}

impl ModelSection {
    fn validate(&self) -> Result<ModelParams, FieldError> {
        let kernel_size = at_least("model.kernel_size", self.kernel_size, 1)?;
        // Two valid convolutions and two 2x2 pools must leave at least one pixel.
        if kernel_size > 5 {
            return Err(FieldError::out_of_range(
                "model.kernel_size",
                kernel_size,
                "1 to 5 (larger kernels leave no pixels after two conv and pool stages)",
            ));
        }
        let dropout = within("model.dropout", self.dropout, 0.0, 0.99)?;
        Ok(ModelParams {
            kind: self.kind,
            hidden: at_least("model.hidden", self.hidden, 1)?,
            activation: self.activation,
            dropout,
            conv1_channels: at_least("model.conv1_channels", self.conv1_channels, 1)?,
            conv2_channels: at_least("model.conv2_channels", self.conv2_channels, 1)?,
            kernel_size,
        })
    }
}

impl TrainSection {
    fn validate(&self) -> Result<TrainParams, FieldError> {
        let momentum = within("train.momentum", self.momentum, 0.0, 0.999)?;
        if self.nesterov && (self.optimizer != OptimizerKind::Sgd || momentum == 0.0) {
            return Err(FieldError::new(
                "train.nesterov",
                "true needs train.optimizer = \"sgd\" and train.momentum > 0",
            ));
        }
        Ok(TrainParams {
            epochs: at_least("train.epochs", self.epochs, 1)?,
            batch_size: at_least("train.batch_size", self.batch_size, 1)?,
            optimizer: self.optimizer,
            learning_rate: positive("train.learning_rate", self.learning_rate)?,
            momentum,
            nesterov: self.nesterov,
            weight_decay: non_negative("train.weight_decay", self.weight_decay)?,
            schedule: self.schedule,
            step_size: at_least("train.step_size", self.step_size, 1)?,
            gamma: within("train.gamma", self.gamma, 0.0, 1.0)?,
            patience: at_least("train.patience", self.patience, 0)?,
        })
    }
}

impl TrainParams {
    /// The learning rate of a 0-based epoch under the configured schedule.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Step => self.learning_rate * self.gamma.powi((epoch / self.step_size) as i32),
            Schedule::Cosine => {
                let progress = epoch as f64 / self.epochs as f64;
                self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DigitsParams, String> {
        let doc = crate::config::ConfigDoc::parse("t.toml", text, Vec::new())
            .map_err(|e| e.to_string())?;
        crate::config::resolve::<DigitsConfig>(&doc)
            .map(|r| r.checked)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let params = parse("[experiment]\ntask = \"digits\"\n").unwrap();
        assert_eq!(params.train.batch_size, 32);
        assert_eq!(params.model.kind, ModelKind::Cnn);
        assert_eq!(params.data.dev_fraction, 0.1);
    }

    #[test]
    fn misspelled_key_rejected() {
        let err = parse("[experiment]\ntask = \"digits\"\n[model]\nhiden = 3\n").unwrap_err();
        assert!(err.contains("hiden"), "{err}");
        assert!(err.contains("hidden"), "{err}");
    }

    #[test]
    fn zero_learning_rate_rejected() {
        let err = parse("[experiment]\ntask = \"digits\"\n[train]\nlearning_rate = 0\n");
        assert!(err.unwrap_err().contains("train.learning_rate"));
    }

    #[test]
    fn nesterov_needs_momentum() {
        let err = parse("[experiment]\ntask = \"digits\"\n[train]\nnesterov = true\n");
        assert!(err.unwrap_err().contains("train.nesterov"));
    }

    #[test]
    fn empty_range_rejected() {
        let err = parse("[experiment]\ntask = \"digits\"\n[data]\ntrain_range = [5, 5]\n");
        assert!(err.unwrap_err().contains("data.train_range"));
    }

    #[test]
    fn normalize_modes_scale_bytes() {
        assert_eq!(Normalize::None.apply(255), 255.0);
        assert_eq!(Normalize::Unit.apply(255), 1.0);
        let zero = Normalize::Mnist.apply(0);
        assert!((zero - (-0.1307 / 0.3081)).abs() < 1e-6, "{zero}");
    }

    #[test]
    fn step_schedule_decays() {
        let mut params = parse("[experiment]\ntask = \"digits\"\n").unwrap().train;
        params.schedule = Schedule::Step;
        params.step_size = 2;
        params.gamma = 0.5;
        assert_eq!(params.learning_rate_at(1), 0.1);
        assert_eq!(params.learning_rate_at(2), 0.05);
    }
}
