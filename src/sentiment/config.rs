//! The sentiment config as written in TOML, and the checked parameters that training accepts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::checks::{at_least, non_negative, positive};
use crate::config::{BackendSection, ExperimentConfig, ExperimentSection, FieldError, Precision};
use crate::experiment::data_path;

/// A whole sentiment config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentConfig {
    pub experiment: ExperimentSection,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub features: FeaturesSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

/// Source of the reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// The files named by `data.train`, `data.val` and `data.test`.
    Files,
    /// Seeded, generated reviews that need no files.
    Synthetic,
}

/// The layout of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// A TSV with a header row, a label column and a text column.
    Reviews,
    /// Headerless `label<TAB>x1<TAB>x2...` rows of numeric features, like the course's toy set.
    Points,
}

/// The character encoding of review files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// ISO 8859-1: every byte is one character, so decoding cannot fail.
    Latin1,
    /// UTF-8; an invalid byte sequence is an error naming the file and line.
    Utf8,
}

/// `[data]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[serde(default = "default_source")]
    pub source: DataSource,
    #[serde(default = "default_format")]
    pub format: DataFormat,
    /// Folder that relative file names are joined to.
    #[serde(default = "default_dir")]
    pub dir: String,
    #[serde(default = "default_train")]
    pub train: String,
    /// Validation file; an empty string means none.
    #[serde(default = "default_val")]
    pub val: String,
    /// Test file; an empty string means none.
    #[serde(default)]
    pub test: String,
    /// Comma-separated training-sample indices visited in this order every epoch; an empty
    /// string means a permutation drawn from the seed.
    #[serde(default)]
    pub order_file: String,
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    #[serde(default = "default_label_column")]
    pub label_column: String,
    #[serde(default = "default_text_column")]
    pub text_column: String,
    /// Number of generated reviews when `source = "synthetic"`, split 3:1 into train and val.
    #[serde(default = "default_synthetic_reviews")]
    pub synthetic_reviews: i64,
}

/// Binary indicators or word counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    Binary,
    Counts,
}

/// `[features]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesSection {
    #[serde(default = "default_kind")]
    pub kind: FeatureKind,
    /// File of words (one a line) left out of the dictionary; an empty string keeps every word.
    #[serde(default)]
    pub stopwords: String,
}

/// The training algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    Perceptron,
    AveragePerceptron,
    Pegasos,
    HingeSgd,
    Logistic,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Perceptron => "perceptron",
            Algorithm::AveragePerceptron => "average-perceptron",
            Algorithm::Pegasos => "pegasos",
            Algorithm::HingeSgd => "hinge-sgd",
            Algorithm::Logistic => "logistic",
        }
    }

    /// Returns true for the course's one-sample-at-a-time algorithms.
    pub fn is_online(self) -> bool {
        matches!(
            self,
            Algorithm::Perceptron | Algorithm::AveragePerceptron | Algorithm::Pegasos
        )
    }
}

/// `[model]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// Passes over the training set (the course's T).
    #[serde(default = "default_epochs")]
    pub epochs: i64,
    /// L2 regularization strength (Pegasos' λ; weight decay for hinge-sgd and logistic).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
}

/// Optimizer for the mini-batch algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Sgd,
    Adam,
}

/// `[train]`: settings of the mini-batch algorithms (`hinge-sgd`, `logistic`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    #[serde(default = "default_optimizer")]
    pub optimizer: Optimizer,
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    #[serde(default = "default_batch_size")]
    pub batch_size: i64,
}

fn default_source() -> DataSource {
    DataSource::Files
}
fn default_format() -> DataFormat {
    DataFormat::Reviews
}
fn default_dir() -> String {
    "data/reviews".into()
}
fn default_train() -> String {
    "reviews_train.tsv".into()
}
fn default_val() -> String {
    "reviews_val.tsv".into()
}
fn default_encoding() -> Encoding {
    Encoding::Latin1
}
fn default_label_column() -> String {
    "sentiment".into()
}
fn default_text_column() -> String {
    "text".into()
}
fn default_synthetic_reviews() -> i64 {
    4000
}
fn default_kind() -> FeatureKind {
    FeatureKind::Binary
}
fn default_algorithm() -> Algorithm {
    Algorithm::Pegasos
}
fn default_epochs() -> i64 {
    25
}
fn default_lambda() -> f64 {
    0.01
}
fn default_optimizer() -> Optimizer {
    Optimizer::Adam
}
fn default_learning_rate() -> f64 {
    0.01
}
fn default_batch_size() -> i64 {
    64
}

impl Default for DataSection {
    fn default() -> Self {
        toml::from_str("").expect("every data key has a default")
    }
}

impl Default for FeaturesSection {
    fn default() -> Self {
        toml::from_str("").expect("every features key has a default")
    }
}

impl Default for ModelSection {
    fn default() -> Self {
        toml::from_str("").expect("every model key has a default")
    }
}

impl Default for TrainSection {
    fn default() -> Self {
        toml::from_str("").expect("every train key has a default")
    }
}

/// Checked parameters of a sentiment run; only this form reaches training code.
#[derive(Debug, Clone)]
pub struct SentimentParams {
    pub data: DataParams,
    pub features: FeatureParams,
    pub model: ModelParams,
    pub train: TrainParams,
}

/// Checked `[data]`: either resolved file paths or a synthetic size.
#[derive(Debug, Clone)]
pub struct DataParams {
    pub source: DataSourceParams,
    pub format: DataFormat,
    pub encoding: Encoding,
    pub label_column: String,
    pub text_column: String,
}

/// Where checked data comes from.
#[derive(Debug, Clone)]
pub enum DataSourceParams {
    Files(DataFiles),
    Synthetic { reviews: usize },
}

/// Resolved data paths; `None` where the config leaves a file out.
#[derive(Debug, Clone)]
pub struct DataFiles {
    pub train: PathBuf,
    pub val: Option<PathBuf>,
    pub test: Option<PathBuf>,
    pub order: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct FeatureParams {
    pub kind: FeatureKind,
    pub stopwords: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub struct ModelParams {
    pub algorithm: Algorithm,
    pub epochs: usize,
    pub lambda: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct TrainParams {
    pub optimizer: Optimizer,
    pub learning_rate: f64,
    pub batch_size: usize,
}

impl ExperimentConfig for SentimentConfig {
    type Checked = SentimentParams;
    const DEFAULT_PRECISION: Precision = Precision::F32;

    fn experiment_mut(&mut self) -> &mut ExperimentSection {
        &mut self.experiment
    }

    fn backend_mut(&mut self) -> &mut BackendSection {
        &mut self.backend
    }

    fn validate(&self) -> Result<SentimentParams, FieldError> {
        Ok(SentimentParams {
            data: self.data.validate()?,
            features: self.features.validate(&self.data)?,
            model: self.model.validate()?,
            train: self.train.validate()?,
        })
    }
}

impl DataSection {
    fn validate(&self) -> Result<DataParams, FieldError> {
        let source = match self.source {
            DataSource::Files => DataSourceParams::Files(self.files()?),
            DataSource::Synthetic => DataSourceParams::Synthetic {
                reviews: at_least("data.synthetic_reviews", self.synthetic_reviews, 20)?,
            },
        };
        if self.format == DataFormat::Points && self.source == DataSource::Synthetic {
            return Err(FieldError::new(
                "data.format",
                "\"points\" needs files; synthetic data is reviews, so use format = \"reviews\"",
            ));
        }
        for (key, column) in [
            ("data.label_column", &self.label_column),
            ("data.text_column", &self.text_column),
        ] {
            if column.trim().is_empty() {
                return Err(FieldError::new(key, "must name a column of the header row"));
            }
        }
        Ok(DataParams {
            source,
            format: self.format,
            encoding: self.encoding,
            label_column: self.label_column.clone(),
            text_column: self.text_column.clone(),
        })
    }

    fn files(&self) -> Result<DataFiles, FieldError> {
        if self.train.trim().is_empty() {
            return Err(FieldError::new(
                "data.train",
                "must name the training file, or set data.source = \"synthetic\"",
            ));
        }
        Ok(DataFiles {
            train: self.path(&self.train),
            val: self.optional_path(&self.val),
            test: self.optional_path(&self.test),
            order: self.optional_path(&self.order_file),
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        data_path(std::path::Path::new(&self.dir), file)
    }

    fn optional_path(&self, file: &str) -> Option<PathBuf> {
        (!file.trim().is_empty()).then(|| self.path(file))
    }
}

impl FeaturesSection {
    fn validate(&self, data: &DataSection) -> Result<FeatureParams, FieldError> {
        let stopwords = (!self.stopwords.trim().is_empty()).then(|| data.path(&self.stopwords));
        Ok(FeatureParams {
            kind: self.kind,
            stopwords,
        })
    }
}

impl ModelSection {
    fn validate(&self) -> Result<ModelParams, FieldError> {
        Ok(ModelParams {
            algorithm: self.algorithm,
            epochs: at_least("model.epochs", self.epochs, 1)?,
            lambda: non_negative("model.lambda", self.lambda)?,
        })
    }
}

impl TrainSection {
    fn validate(&self) -> Result<TrainParams, FieldError> {
        Ok(TrainParams {
            optimizer: self.optimizer,
            learning_rate: positive("train.learning_rate", self.learning_rate)?,
            batch_size: at_least("train.batch_size", self.batch_size, 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigDoc, resolve};

    fn resolve_text(text: &str) -> Result<SentimentParams, String> {
        let doc = ConfigDoc::parse("test.toml", text, Vec::new()).map_err(|e| e.0)?;
        resolve::<SentimentConfig>(&doc)
            .map(|r| r.checked)
            .map_err(|e| e.0)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let params = resolve_text("[experiment]\ntask = \"sentiment\"\n").unwrap();
        assert_eq!(params.model.algorithm, Algorithm::Pegasos);
        assert_eq!(params.model.epochs, 25);
        assert_eq!(params.model.lambda, 0.01);
        let DataSourceParams::Files(files) = params.data.source else {
            panic!("expected files")
        };
        assert_eq!(files.train, PathBuf::from("data/reviews/reviews_train.tsv"));
        assert!(files.test.is_none());
        assert!(files.order.is_none());
    }

    #[test]
    fn misspelled_key_rejected() {
        let err = resolve_text("[experiment]\ntask = \"sentiment\"\n[model]\nepoch = 3\n");
        let err = err.unwrap_err();
        assert!(err.contains("unknown key 'model.epoch'"), "{err}");
        assert!(err.contains("did you mean 'epochs'"), "{err}");
    }

    #[test]
    fn zero_epochs_rejected() {
        let err = resolve_text("[experiment]\ntask = \"sentiment\"\n[model]\nepochs = 0\n");
        let err = err.unwrap_err();
        assert!(err.contains("'model.epochs'"), "{err}");
        assert!(err.contains("test.toml:4"), "{err}");
    }

    #[test]
    fn negative_lambda_rejected() {
        let err = resolve_text("[experiment]\ntask = \"sentiment\"\n[model]\nlambda = -1.0\n");
        assert!(err.unwrap_err().contains("'model.lambda'"));
    }

    #[test]
    fn unknown_algorithm_suggests_name() {
        let text = "[experiment]\ntask = \"sentiment\"\n[model]\nalgorithm = \"pegasus\"\n";
        let err = resolve_text(text).unwrap_err();
        assert!(err.contains("did you mean 'pegasos'"), "{err}");
    }

    #[test]
    fn zero_batch_size_rejected() {
        let text = "[experiment]\ntask = \"sentiment\"\n[train]\nbatch_size = 0\n";
        assert!(
            resolve_text(text)
                .unwrap_err()
                .contains("'train.batch_size'")
        );
    }

    #[test]
    fn synthetic_points_rejected() {
        let text = "[experiment]\ntask = \"sentiment\"\n[data]\nsource = \"synthetic\"\n\
                    format = \"points\"\n";
        assert!(resolve_text(text).unwrap_err().contains("'data.format'"));
    }

    #[test]
    fn empty_train_rejected() {
        let text = "[experiment]\ntask = \"sentiment\"\n[data]\ntrain = \"\"\n";
        assert!(resolve_text(text).unwrap_err().contains("'data.train'"));
    }
}
