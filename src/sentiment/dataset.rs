//! Turns checked data params into feature matrices: read, tokenize, build the dictionary.

use std::collections::HashSet;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::config::{DataFormat, DataParams, DataSourceParams, FeatureParams};
use super::data::{self, Review, ReviewColumns};
use super::features::{Dictionary, SparseMatrix};
use super::synthetic;
use crate::bail_input;

/// Labeled feature rows of one data set.
#[derive(Debug, Clone)]
pub struct Split {
    pub features: SparseMatrix,
    /// +1 or −1 per row.
    pub labels: Vec<f64>,
}

/// Everything training needs: the splits, the dictionary and the visiting order.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The word list for reviews; `None` for points, whose features are coordinates.
    pub dictionary: Option<Dictionary>,
    pub train: Split,
    pub val: Option<Split>,
    pub test: Option<Split>,
    /// Training-sample indices in the order every epoch visits them.
    pub order: Vec<usize>,
}

/// Reads and featurizes the data of a run; `seed` drives synthetic data and the default order.
pub fn prepare(data: &DataParams, features: &FeatureParams, seed: u64) -> anyhow::Result<Prepared> {
    match (&data.source, data.format) {
        (DataSourceParams::Synthetic { reviews }, _) => prepare_synthetic(*reviews, features, seed),
        (DataSourceParams::Files(files), DataFormat::Points) => {
            let train = points_split(&files.train, None)?;
            let dim = train.features.dim;
            let val = files.val.as_deref().map(|p| points_split(p, Some(dim)));
            let test = files.test.as_deref().map(|p| points_split(p, Some(dim)));
            finish(
                None,
                train,
                val.transpose()?,
                test.transpose()?,
                files.order.as_deref(),
                seed,
            )
        }
        (DataSourceParams::Files(files), DataFormat::Reviews) => {
            let columns = ReviewColumns {
                label: &data.label_column,
                text: &data.text_column,
                encoding: data.encoding,
            };
            let train = data::read_reviews(&files.train, &columns)?;
            let read = |path: &Option<std::path::PathBuf>| {
                path.as_deref()
                    .map(|p| data::read_reviews(p, &columns))
                    .transpose()
            };
            let (val, test) = (read(&files.val)?, read(&files.test)?);
            let source = files.train.display().to_string();
            let reviews = ReviewSets { train, val, test };
            let (dictionary, train, val, test) = featurize_reviews(&reviews, features, &source)?;
            finish(
                Some(dictionary),
                train,
                val,
                test,
                files.order.as_deref(),
                seed,
            )
        }
    }
}

struct ReviewSets {
    train: Vec<Review>,
    val: Option<Vec<Review>>,
    test: Option<Vec<Review>>,
}

fn prepare_synthetic(
    count: usize,
    features: &FeatureParams,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let mut reviews = synthetic::reviews(count, seed);
    let val = reviews.split_off(count * 3 / 4);
    let sets = ReviewSets {
        train: reviews,
        val: Some(val),
        test: None,
    };
    let (dictionary, train, val, test) = featurize_reviews(&sets, features, "synthetic reviews")?;
    finish(Some(dictionary), train, val, test, None, seed)
}

type Featurized = (Dictionary, Split, Option<Split>, Option<Split>);

fn featurize_reviews(
    sets: &ReviewSets,
    features: &FeatureParams,
    source: &str,
) -> anyhow::Result<Featurized> {
    let stopwords: HashSet<String> = match &features.stopwords {
        Some(path) => data::read_stopwords(path)?.into_iter().collect(),
        None => HashSet::new(),
    };
    let dictionary = Dictionary::build(sets.train.iter().map(|r| r.text.as_str()), &stopwords);
    if dictionary.is_empty() {
        bail_input!(
            "the training set {source} yields an empty dictionary: every review is empty or made \
             only of stopwords; check data.text_column and features.stopwords"
        )
    }
    let split = |reviews: &[Review]| Split {
        features: dictionary.featurize(reviews.iter().map(|r| r.text.as_str()), features.kind),
        labels: reviews.iter().map(|r| r.label).collect(),
    };
    let train = split(&sets.train);
    let val = sets.val.as_deref().map(split);
    let test = sets.test.as_deref().map(split);
    Ok((dictionary, train, val, test))
}

fn points_split(path: &Path, dim: Option<usize>) -> anyhow::Result<Split> {
    let points = data::read_points(path)?;
    let width = points[0].coordinates.len();
    if let Some(expected) = dim
        && expected != width
    {
        bail_input!(
            "{} has {width} coordinates per point, but the training points have {expected}",
            path.display()
        )
    }
    let rows: Vec<Vec<f64>> = points.iter().map(|p| p.coordinates.clone()).collect();
    Ok(Split {
        features: SparseMatrix::from_dense(&rows, width),
        labels: points.iter().map(|p| p.label).collect(),
    })
}

fn finish(
    dictionary: Option<Dictionary>,
    train: Split,
    val: Option<Split>,
    test: Option<Split>,
    order_file: Option<&Path>,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let n = train.labels.len();
    let order = match order_file {
        Some(path) => data::read_order(path, n)?,
        None => seeded_order(n, seed),
    };
    Ok(Prepared {
        dictionary,
        train,
        val,
        test,
        order,
    })
}

/// Draws a permutation of `0..n` from `seed`.
pub fn seeded_order(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}
