//! The mixture family's TOML config and the checked parameters training code receives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::data::Ratings;
use super::em::Layout;
use crate::config::checks::{at_least, positive};
use crate::config::{BackendSection, ExperimentConfig, ExperimentSection, FieldError, Precision};

/// The TOML-facing config: `[experiment]`, `[backend]`, `[data]`, `[model]`, `[init]`,
/// `[train]`, `[output]` and an optional `[sweep]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureConfig {
    pub experiment: ExperimentSection,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub init: InitSection,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

/// `[data]`: where the rating matrix comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// `file` (a dense matrix or triplets) or `synthetic`.
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default = "default_dir")]
    pub dir: String,
    /// Dense text matrix: whitespace-separated, one user a line.
    #[serde(default)]
    pub matrix: String,
    /// Sparse triplets `user,item,rating` (CSV, or TSV for `.tsv` files).
    #[serde(default)]
    pub ratings: String,
    /// The same matrix with every entry present, for RMSE.
    #[serde(default)]
    pub complete: String,
    /// The value that marks a missing entry, or `"none"` when every entry is observed.
    #[serde(default = "default_missing")]
    pub missing_value: MissingValue,
    #[serde(default)]
    pub synthetic: SyntheticSection,
}

/// `data.missing_value`: a number, or the word `none`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MissingValue {
    Marker(f64),
    Word(String),
}

/// `[data.synthetic]`: a rating matrix sampled from a known mixture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSection {
    #[serde(default = "default_synthetic_users")]
    pub users: i64,
    #[serde(default = "default_synthetic_items")]
    pub items: i64,
    /// Number of components of the generating mixture.
    #[serde(default = "default_synthetic_components")]
    pub components: i64,
    /// Share of entries hidden as missing, 0 to below 1.
    #[serde(default = "default_missing_share")]
    pub missing_share: f64,
    /// Standard deviation of every generating component.
    #[serde(default = "default_synthetic_std")]
    pub std: f64,
}

/// `[model]`: the algorithm and the number of components.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `em` (Gaussian mixture) or `kmeans`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    #[serde(default = "default_k")]
    pub k: i64,
    /// Floor of every component variance after each M-step (the course uses 0.25).
    #[serde(default = "default_min_variance")]
    pub min_variance: f64,
}

/// `[init]`: how each restart picks its initial means.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSection {
    /// `numpy` (NumPy's legacy `choice`, as the course), `seeded` (uniform rows from trainlab's
    /// generator) or `kmeans++` (rows drawn with probability growing with their squared
    /// distance to the rows already chosen).
    #[serde(default = "default_rows")]
    pub rows: String,
}

/// `[train]`: restarts and stopping.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// One restart per seed; the best restart is kept.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<i64>,
    /// Stop when the gain is at most `tolerance · |new objective|`.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default = "default_max_iterations")]
    pub max_iterations: i64,
    /// Users per block in each pass; 0 keeps the whole matrix in memory as one block.
    #[serde(default)]
    pub chunk_users: i64,
    /// The block layout of the ratings: `dense`, `sparse`, or `auto` (sparse when few entries
    /// are observed).
    #[serde(default = "default_layout")]
    pub layout: String,
    /// Seconds between checkpoints of a restart in progress. With 0, every iteration is saved.
    /// Finished restarts are always saved.
    #[serde(default = "default_checkpoint_seconds")]
    pub checkpoint_seconds: f64,
}

/// `[output]`: optional outputs.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Write `completed.txt`, the matrix with every missing entry predicted.
    #[serde(default)]
    pub completed_matrix: bool,
    /// `[low, high]` bounds applied to predicted entries; empty means no clipping.
    #[serde(default)]
    pub clip: Vec<f64>,
}

fn default_source() -> String {
    "file".into()
}
fn default_dir() -> String {
    "data/netflix".into()
}
fn default_missing() -> MissingValue {
    MissingValue::Marker(0.0)
}
fn default_synthetic_users() -> i64 {
    1000
}
fn default_synthetic_items() -> i64 {
    200
}
fn default_synthetic_components() -> i64 {
    4
}
fn default_missing_share() -> f64 {
    0.8
}
fn default_synthetic_std() -> f64 {
    0.5
}
fn default_algorithm() -> String {
    "em".into()
}
fn default_k() -> i64 {
    12
}
fn default_min_variance() -> f64 {
    0.25
}
fn default_rows() -> String {
    "numpy".into()
}
fn default_checkpoint_seconds() -> f64 {
    10.0
}
fn default_layout() -> String {
    "auto".into()
}
fn default_seeds() -> Vec<i64> {
    vec![0, 1, 2, 3, 4]
}
fn default_tolerance() -> f64 {
    1e-6
}
fn default_max_iterations() -> i64 {
    1000
}

impl Default for DataSection {
    fn default() -> Self {
        toml::from_str("").expect("every data key has a default")
    }
}
impl Default for SyntheticSection {
    fn default() -> Self {
        toml::from_str("").expect("every synthetic key has a default")
    }
}
impl Default for ModelSection {
    fn default() -> Self {
        toml::from_str("").expect("every model key has a default")
    }
}
impl Default for InitSection {
    fn default() -> Self {
        toml::from_str("").expect("every init key has a default")
    }
}
impl Default for TrainSection {
    fn default() -> Self {
        toml::from_str("").expect("every train key has a default")
    }
}

/// The checked origin of the ratings.
#[derive(Debug, Clone)]
pub enum Source {
    Matrix(PathBuf),
    Triplets(PathBuf),
    Synthetic(SyntheticParams),
}

/// Checked `[data.synthetic]`.
#[derive(Debug, Clone)]
pub struct SyntheticParams {
    pub users: usize,
    pub items: usize,
    pub components: usize,
    pub missing_share: f64,
    pub std: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Em,
    KMeans,
}

/// `train.layout`: a fixed block layout, or one picked from the share of observed entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutChoice {
    Auto,
    Fixed(Layout),
}

impl LayoutChoice {
    /// Below this share of observed entries `auto` picks the sparse layout. On 2 CPU cores
    /// (flex, f64, K = 12) a sparse pass costs about 90 ns per observed rating and a dense pass
    /// about 4.5 ns per entry, so they break even near 5%: on a 20,000 × 2,000 synthetic
    /// matrix one iteration took 185 ms dense vs 75 ms sparse at 2% observed, 177 vs 180 ms at
    /// 5% and 181 vs 335 ms at 10%.
    pub const SPARSE_BELOW: f64 = 0.05;

    pub fn pick(self, ratings: &Ratings) -> Layout {
        match self {
            LayoutChoice::Fixed(layout) => layout,
            LayoutChoice::Auto => {
                let entries = (ratings.users * ratings.items).max(1) as f64;
                if (ratings.observed() as f64) < Self::SPARSE_BELOW * entries {
                    Layout::Sparse
                } else {
                    Layout::Dense
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitRows {
    Numpy,
    Seeded,
    KMeansPlusPlus,
}

/// Checked parameters: the only form training code accepts.
#[derive(Debug, Clone)]
pub struct MixtureParams {
    pub source: Source,
    pub complete: Option<PathBuf>,
    /// `None` when every entry is observed.
    pub missing: Option<f64>,
    pub algorithm: Algorithm,
    pub k: usize,
    pub min_variance: f64,
    pub init_rows: InitRows,
    pub seeds: Vec<u64>,
    pub tolerance: f64,
    pub max_iterations: usize,
    /// Users per block; `None` means one block holding every user.
    pub chunk_users: Option<usize>,
    pub layout: LayoutChoice,
    pub checkpoint_every: std::time::Duration,
    pub completed_matrix: bool,
    pub clip: Option<(f64, f64)>,
}

impl ExperimentConfig for MixtureConfig {
    type Checked = MixtureParams;
    const DEFAULT_PRECISION: Precision = Precision::F64;

    fn experiment_mut(&mut self) -> &mut ExperimentSection {
        &mut self.experiment
    }

    fn backend_mut(&mut self) -> &mut BackendSection {
        &mut self.backend
    }

    fn validate(&self) -> Result<MixtureParams, FieldError> {
        let init_rows = check_init_rows(&self.init.rows)?;
        Ok(MixtureParams {
            source: check_source(&self.data)?,
            complete: non_empty(&self.data.dir, &self.data.complete),
            missing: check_missing(&self.data.missing_value)?,
            algorithm: check_algorithm(&self.model.algorithm)?,
            k: at_least("model.k", self.model.k, 1)?,
            min_variance: positive("model.min_variance", self.model.min_variance)?,
            init_rows,
            seeds: check_seeds(&self.train.seeds, init_rows)?,
            tolerance: check_tolerance(self.train.tolerance)?,
            max_iterations: at_least("train.max_iterations", self.train.max_iterations, 1)?,
            chunk_users: check_chunk(self.train.chunk_users)?,
            layout: check_layout(&self.train.layout)?,
            checkpoint_every: check_checkpoint_seconds(self.train.checkpoint_seconds)?,
            completed_matrix: self.output.completed_matrix,
            clip: check_clip(&self.output.clip)?,
        })
    }
}

fn non_empty(dir: &str, file: &str) -> Option<PathBuf> {
    (!file.is_empty()).then(|| crate::experiment::data_path(std::path::Path::new(dir), file))
}

fn check_source(data: &DataSection) -> Result<Source, FieldError> {
    match data.source.as_str() {
        "file" => check_files(data),
        "synthetic" => Ok(Source::Synthetic(check_synthetic(&data.synthetic)?)),
        other => Err(FieldError::new(
            "data.source",
            format!("invalid value '{other}'; allowed: \"file\" or \"synthetic\""),
        )),
    }
}

fn check_files(data: &DataSection) -> Result<Source, FieldError> {
    let matrix = non_empty(&data.dir, &data.matrix);
    let ratings = non_empty(&data.dir, &data.ratings);
    match (matrix, ratings) {
        (Some(path), None) => Ok(Source::Matrix(path)),
        (None, Some(path)) => Ok(Source::Triplets(path)),
        (Some(_), Some(_)) => Err(FieldError::new(
            "data.ratings",
            "data.matrix and data.ratings are both set; keep one of them",
        )),
        (None, None) => Err(FieldError::new(
            "data.matrix",
            "no ratings given; set data.matrix (dense text matrix) or data.ratings (triplets), \
             or data.source = \"synthetic\"",
        )),
    }
}

fn check_synthetic(section: &SyntheticSection) -> Result<SyntheticParams, FieldError> {
    let share = section.missing_share;
    if !(0.0..1.0).contains(&share) {
        return Err(FieldError::out_of_range(
            "data.synthetic.missing_share",
            share,
            "0 to below 1",
        ));
    }
    Ok(SyntheticParams {
        users: at_least("data.synthetic.users", section.users, 1)?,
        items: at_least("data.synthetic.items", section.items, 1)?,
        components: at_least("data.synthetic.components", section.components, 1)?,
        missing_share: share,
        std: positive("data.synthetic.std", section.std)?,
    })
}

fn check_missing(value: &MissingValue) -> Result<Option<f64>, FieldError> {
    match value {
        MissingValue::Marker(x) if x.is_finite() => Ok(Some(*x)),
        MissingValue::Word(word) if word == "none" => Ok(None),
        other => Err(FieldError::new(
            "data.missing_value",
            format!("invalid value {other:?}; allowed: a finite number such as 0, or \"none\""),
        )),
    }
}

fn check_algorithm(name: &str) -> Result<Algorithm, FieldError> {
    match name {
        "em" => Ok(Algorithm::Em),
        "kmeans" => Ok(Algorithm::KMeans),
        other => Err(FieldError::new(
            "model.algorithm",
            format!("invalid value '{other}'; allowed: \"em\" or \"kmeans\""),
        )),
    }
}

fn check_init_rows(name: &str) -> Result<InitRows, FieldError> {
    match name {
        "numpy" => Ok(InitRows::Numpy),
        "seeded" => Ok(InitRows::Seeded),
        "kmeans++" => Ok(InitRows::KMeansPlusPlus),
        other => Err(FieldError::new(
            "init.rows",
            format!("invalid value '{other}'; allowed: \"numpy\", \"seeded\" or \"kmeans++\""),
        )),
    }
}

fn check_seeds(seeds: &[i64], rows: InitRows) -> Result<Vec<u64>, FieldError> {
    if seeds.is_empty() {
        return Err(FieldError::new(
            "train.seeds",
            "the list is empty; give at least one seed, e.g. [0]",
        ));
    }
    // NumPy's legacy seeding takes a 32-bit unsigned integer.
    let max = match rows {
        InitRows::Numpy => i64::from(u32::MAX),
        InitRows::Seeded | InitRows::KMeansPlusPlus => i64::MAX,
    };
    for &seed in seeds {
        if !(0..=max).contains(&seed) {
            return Err(FieldError::out_of_range(
                "train.seeds",
                seed,
                &format!("integers from 0 to {max}"),
            ));
        }
    }
    for (position, seed) in seeds.iter().enumerate() {
        if seeds[..position].contains(seed) {
            return Err(FieldError::new(
                "train.seeds",
                format!("seed {seed} is listed twice and would fit the same restart again"),
            ));
        }
    }
    Ok(seeds.iter().map(|&s| s as u64).collect())
}

fn check_tolerance(value: f64) -> Result<f64, FieldError> {
    if value >= 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(FieldError::out_of_range(
            "train.tolerance",
            value,
            "a finite number >= 0",
        ))
    }
}

fn check_checkpoint_seconds(value: f64) -> Result<std::time::Duration, FieldError> {
    if value.is_finite() && value >= 0.0 {
        Ok(std::time::Duration::from_secs_f64(value))
    } else {
        Err(FieldError::out_of_range(
            "train.checkpoint_seconds",
            value,
            "a finite number of seconds >= 0",
        ))
    }
}

fn check_layout(name: &str) -> Result<LayoutChoice, FieldError> {
    match name {
        "auto" => Ok(LayoutChoice::Auto),
        "dense" => Ok(LayoutChoice::Fixed(Layout::Dense)),
        "sparse" => Ok(LayoutChoice::Fixed(Layout::Sparse)),
        other => Err(FieldError::new(
            "train.layout",
            format!("invalid value '{other}'; allowed: \"auto\", \"dense\" or \"sparse\""),
        )),
    }
}

fn check_chunk(value: i64) -> Result<Option<usize>, FieldError> {
    match value {
        0 => Ok(None),
        v if v > 0 => Ok(Some(v as usize)),
        v => Err(FieldError::out_of_range(
            "train.chunk_users",
            v,
            "0 (one block) or a positive number of users",
        )),
    }
}

fn check_clip(clip: &[f64]) -> Result<Option<(f64, f64)>, FieldError> {
    match clip {
        [] => Ok(None),
        [low, high] if low.is_finite() && high.is_finite() && low < high => Ok(Some((*low, *high))),
        other => Err(FieldError::new(
            "output.clip",
            format!("invalid value {other:?}; allowed: [] or [low, high] with low < high"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MixtureParams, FieldError> {
        let config: MixtureConfig =
            toml::from_str(&format!("[experiment]\ntask = \"mixture\"\n{text}")).unwrap();
        config.validate()
    }

    #[test]
    fn defaults_follow_the_course() {
        let params = parse("[data]\nmatrix = \"m.txt\"").unwrap();
        assert_eq!(params.k, 12);
        assert_eq!(params.min_variance, 0.25);
        assert_eq!(params.seeds, vec![0, 1, 2, 3, 4]);
        assert_eq!(params.missing, Some(0.0));
        assert_eq!(params.init_rows, InitRows::Numpy);
        assert!(params.chunk_users.is_none());
    }

    #[test]
    fn missing_value_none_word() {
        let params = parse("[data]\nmatrix = \"m.txt\"\nmissing_value = \"none\"").unwrap();
        assert_eq!(params.missing, None);
        let err = parse("[data]\nmatrix = \"m.txt\"\nmissing_value = \"zero\"").unwrap_err();
        assert_eq!(err.key, "data.missing_value");
    }

    #[test]
    fn rejects_bad_values() {
        let cases = [
            ("[model]\nk = 0", "model.k"),
            ("[model]\nmin_variance = 0.0", "model.min_variance"),
            ("[model]\nalgorithm = \"gmm\"", "model.algorithm"),
            ("[init]\nrows = \"random\"", "init.rows"),
            ("[train]\nseeds = []", "train.seeds"),
            ("[train]\nseeds = [-1]", "train.seeds"),
            ("[train]\nseeds = [4294967296]", "train.seeds"),
            ("[train]\nseeds = [0, 3, 0]", "train.seeds"),
            ("[train]\nchunk_users = -5", "train.chunk_users"),
            ("[train]\nlayout = \"csr\"", "train.layout"),
            (
                "[train]\ncheckpoint_seconds = -1.0",
                "train.checkpoint_seconds",
            ),
            ("[output]\nclip = [5.0, 1.0]", "output.clip"),
        ];
        for (text, key) in cases {
            let err = parse(&format!("[data]\nmatrix = \"m.txt\"\n{text}")).unwrap_err();
            assert_eq!(err.key, key, "{text}");
        }
    }

    #[test]
    fn layout_auto_follows_the_observed_share() {
        let params = parse("[data]\nmatrix = \"m.txt\"").unwrap();
        assert_eq!(params.layout, LayoutChoice::Auto);
        // 10 users x 100 items: 40 ratings (4%) is sparse, 60 (6%) is dense.
        let ratings = |count: u32| {
            let rows = (0..10)
                .map(|user| (0..count / 10).map(|item| (item + user, 3.0)).collect())
                .collect();
            Ratings::from_rows(100, rows)
        };
        assert_eq!(params.layout.pick(&ratings(40)), Layout::Sparse);
        assert_eq!(params.layout.pick(&ratings(60)), Layout::Dense);
        let fixed = parse("[data]\nmatrix = \"m.txt\"\n[train]\nlayout = \"dense\"").unwrap();
        assert_eq!(fixed.layout.pick(&ratings(40)), Layout::Dense);
        let kmeans = parse("[data]\nmatrix = \"m.txt\"\n[init]\nrows = \"kmeans++\"").unwrap();
        assert_eq!(kmeans.init_rows, InitRows::KMeansPlusPlus);
    }

    #[test]
    fn needs_exactly_one_ratings_file() {
        assert_eq!(parse("").unwrap_err().key, "data.matrix");
        let both = parse("[data]\nmatrix = \"a\"\nratings = \"b\"").unwrap_err();
        assert_eq!(both.key, "data.ratings");
    }

    #[test]
    fn misspelled_key_rejected() {
        let text = "[experiment]\ntask = \"mixture\"\n[model]\nkk = 3\n";
        assert!(toml::from_str::<MixtureConfig>(text).is_err());
    }
}
