//! Run-folder files of a sentiment run: weights, dictionary, plots, and reading them back.

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use plotters::prelude::*;

use super::config::Algorithm;
use super::dataset::Prepared;
use super::features::Dictionary;
use super::model::LinearClassifier;
use super::online::LinearWeights;
use super::train::EpochRecord;
use crate::bail_input;
use crate::plot::{Canvas, Series, line_chart, padded_ranges, render_svg};
use crate::run::{RunDir, write_atomic_with};

pub const MODEL_FILE: &str = "model.safetensors";
pub const DICTIONARY_FILE: &str = "dictionary.txt";

/// Writes θ and θ0 as the safetensors tensors `theta` and `theta0`.
pub fn save_model(run: &RunDir, model: &LinearClassifier) -> anyhow::Result<()> {
    write_atomic_with(&run.file(MODEL_FILE), |path| {
        let mut store = SafetensorsStore::from_file(path).overwrite(true);
        model
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    })
}

/// Loads a saved classifier of `dim` weights onto `device`.
pub fn load_model(run: &RunDir, dim: usize, device: &Device) -> anyhow::Result<LinearClassifier> {
    let path = run.file(MODEL_FILE);
    if !path.is_file() {
        bail_input!(
            "{} has no {MODEL_FILE}; the run did not finish, so train it again",
            run.path().display()
        )
    }
    let mut model = LinearClassifier::zeros(dim, device);
    let mut store = SafetensorsStore::from_file(&path);
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot load {}: {e}", path.display()))?;
    if model.dim() != dim {
        bail_input!(
            "{} holds {} weights, but the dictionary has {dim} words",
            path.display(),
            model.dim()
        )
    }
    Ok(model)
}

/// Writes the files besides the weights: the dictionary, the accuracy plot and, for 2-D
/// points, the decision boundary of each algorithm in `boundaries`.
pub fn write_run_files(
    run: &RunDir,
    prepared: &Prepared,
    boundaries: &[(Algorithm, LinearWeights)],
    records: &[EpochRecord],
) -> anyhow::Result<()> {
    if let Some(dictionary) = &prepared.dictionary {
        let mut text = dictionary.words().join("\n");
        text.push('\n');
        run.write(DICTIONARY_FILE, text.as_bytes())?;
    }
    run.write("accuracy.svg", accuracy_chart(records).as_bytes())?;
    let two_dimensional = boundaries
        .iter()
        .all(|(_, weights)| weights.theta.len() == 2);
    if prepared.dictionary.is_none() && !boundaries.is_empty() && two_dimensional {
        let svg = boundary_chart(prepared, boundaries)?;
        run.write("decision-boundary.svg", svg.as_bytes())?;
    }
    Ok(())
}

/// Reads the dictionary saved by [`write_run_files`].
pub fn load_dictionary(run: &RunDir) -> anyhow::Result<Dictionary> {
    let path = run.file(DICTIONARY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::error::input_error(format!(
            "cannot read {}: {e}; predict needs a run trained on reviews",
            path.display()
        ))
    })?;
    Ok(Dictionary::from_words(text.lines().map(str::to_string)))
}

/// Returns the `count` words with the largest and the smallest weights.
///
/// Ties are broken as the course's `sorted(zip(theta, words))[::-1]` does: among equal
/// weights, the later word in lexical order comes first in the positive list.
pub fn top_words(
    dictionary: &Dictionary,
    theta: &[f64],
    count: usize,
) -> (Vec<String>, Vec<String>) {
    let mut ranked: Vec<(f64, &str)> = theta
        .iter()
        .zip(dictionary.words())
        .map(|(&w, word)| (w, word.as_str()))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    let positive = ranked
        .iter()
        .take(count)
        .map(|(_, w)| w.to_string())
        .collect();
    let negative = ranked
        .iter()
        .rev()
        .take(count)
        .map(|(_, w)| w.to_string())
        .collect();
    (positive, negative)
}

fn accuracy_chart(records: &[EpochRecord]) -> String {
    let train = Series {
        name: "train accuracy",
        points: records
            .iter()
            .map(|r| (r.epoch as f64, r.train_accuracy))
            .collect(),
    };
    let val = Series {
        name: "validation accuracy",
        points: records
            .iter()
            .filter_map(|r| Some((r.epoch as f64, r.val_accuracy?)))
            .collect(),
    };
    let series: Vec<Series> = [train, val]
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    line_chart("accuracy per epoch", "epoch", "accuracy", &series)
}

/// Draws the training points by label and each algorithm's line θ·x + θ0 = 0.
fn boundary_chart(
    prepared: &Prepared,
    boundaries: &[(Algorithm, LinearWeights)],
) -> anyhow::Result<String> {
    let features = &prepared.train.features;
    let points: Vec<(f64, f64, f64)> = (0..features.rows())
        .map(|i| {
            let (_, values) = features.row(i);
            (values[0], values[1], prepared.train.labels[i])
        })
        .collect();
    render_svg((640, 560), |root| draw_boundary(root, &points, boundaries))
        .map_err(|e| anyhow::anyhow!("cannot draw the decision boundary: {e}"))
}

fn draw_boundary(
    root: &Canvas,
    points: &[(f64, f64, f64)],
    boundaries: &[(Algorithm, LinearWeights)],
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let (x_range, y_range) = padded_ranges(points.iter().map(|&(x, y, _)| (x, y)));
    let mut chart = ChartBuilder::on(root)
        .caption("decision boundary", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x_range.clone(), y_range.clone())?;
    chart.configure_mesh().x_desc("x1").y_desc("x2").draw()?;
    for (label, color, name) in [(1.0, BLUE, "+1"), (-1.0, RED, "-1")] {
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.2 == label)
                    .map(|&(x, y, _)| Circle::new((x, y), 3, color.filled())),
            )?
            .label(name)
            .legend(move |(x, y)| Circle::new((x, y), 3, color.filled()));
    }
    let colors = [BLACK, GREEN, MAGENTA];
    for ((algorithm, weights), color) in boundaries.iter().zip(colors.iter().cycle()) {
        let line = boundary_segment(weights, &x_range, &y_range);
        let color = *color;
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(algorithm.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Two points of the line θ1·x + θ2·y + θ0 = 0 spanning the plot; none when θ = 0.
fn boundary_segment(
    weights: &LinearWeights,
    x_range: &std::ops::Range<f64>,
    y_range: &std::ops::Range<f64>,
) -> Vec<(f64, f64)> {
    let (a, b, c) = (weights.theta[0], weights.theta[1], weights.theta0);
    if b.abs() > a.abs() {
        [x_range.start, x_range.end]
            .iter()
            .map(|&x| (x, -(a * x + c) / b))
            .collect()
    } else if a != 0.0 {
        [y_range.start, y_range.end]
            .iter()
            .map(|&y| (-(b * y + c) / a, y))
            .collect()
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_words_order_and_ties() {
        let words = ["a", "b", "c", "d"].map(String::from);
        let dictionary = Dictionary::from_words(words.into_iter());
        let (positive, negative) = top_words(&dictionary, &[1.0, 3.0, 1.0, -2.0], 2);
        assert_eq!(positive, vec!["b", "c"]);
        assert_eq!(negative, vec!["d", "a"]);
    }

    #[test]
    fn boundary_segment_lies_on_line() {
        let weights = LinearWeights {
            theta: vec![1.0, 2.0],
            theta0: -2.0,
        };
        for (x, y) in boundary_segment(&weights, &(-1.0..3.0), &(-5.0..5.0)) {
            assert!((x + 2.0 * y - 2.0).abs() < 1e-12);
        }
    }
}
