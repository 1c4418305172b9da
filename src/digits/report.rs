//! SVG figures of a run: learning curves from `metrics.csv` and the test confusion matrix.

use plotters::prelude::*;

use crate::plot::{Series, line_chart};
use crate::run::RunDir;

/// Counts of (true label, predicted label) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// `counts[truth][predicted]`.
    pub counts: [[usize; 10]; 10],
}

impl Confusion {
    pub fn new(labels: &[u8], predictions: &[u8]) -> Confusion {
        let mut counts = [[0usize; 10]; 10];
        for (&truth, &predicted) in labels.iter().zip(predictions) {
            counts[truth as usize][predicted as usize] += 1;
        }
        Confusion { counts }
    }

    /// Rows as JSON arrays, for `summary.json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(
            self.counts
                .iter()
                .map(|row| row.to_vec())
                .collect::<Vec<_>>()
        )
    }
}

/// Reads a column of the run's metrics log as `(epoch, value)` points, skipping empty cells.
fn column(rows: &[Vec<String>], index: usize) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|row| {
            let epoch = row.first()?.parse::<f64>().ok()?;
            let value = row.get(index)?.parse::<f64>().ok()?;
            value.is_finite().then_some((epoch, value))
        })
        .collect()
}

/// Writes `learning-curves.svg` (loss) and `accuracy.svg` from the rows of `metrics.csv`.
pub fn write_learning_curves(run: &RunDir, rows: &[Vec<String>]) -> anyhow::Result<()> {
    let header = super::train::METRICS_HEADER;
    let find = |name: &str| header.iter().position(|h| *h == name).unwrap_or(0);
    let chart = |names: [&'static str; 2], title: &str, y: &str| {
        let series: Vec<Series> = names
            .iter()
            .map(|name| Series {
                name,
                points: column(rows, find(name)),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        line_chart(title, "epoch", y, &series)
    };
    let loss = chart(
        ["train_loss", "dev_loss"],
        "cross-entropy per sample",
        "loss",
    );
    run.write("learning-curves.svg", loss.as_bytes())?;
    let accuracy = chart(["train_accuracy", "dev_accuracy"], "accuracy", "accuracy");
    run.write("accuracy.svg", accuracy.as_bytes())
}

/// Renders the confusion matrix as an SVG heat map with counts.
pub fn confusion_svg(confusion: &Confusion, title: &str) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 560)).into_drawing_area();
        draw_confusion(&root, confusion, title).expect("drawing into an SVG string cannot fail");
    }
    svg
}

fn draw_confusion(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    confusion: &Confusion,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(40)
        .build_cartesian_2d(-0.5f64..9.5f64, -0.5f64..9.5f64)?;
    // Row 0 goes at the top, so the y axis shows 9 - y.
    let top_down = |y: &f64| format!("{}", 9 - y.round() as i32);
    let digit = |x: &f64| format!("{}", x.round() as i32);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&digit)
        .y_label_formatter(&top_down)
        .draw()?;
    let largest = confusion
        .counts
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    for (truth, row) in confusion.counts.iter().enumerate() {
        for (predicted, &count) in row.iter().enumerate() {
            let (x, y) = (predicted as f64, 9.0 - truth as f64);
            // Square root shading keeps small off-diagonal counts visible.
            let shade = (count as f64 / largest as f64).sqrt();
            let color = RGBColor(
                (255.0 * (1.0 - shade)) as u8,
                (255.0 * (1.0 - 0.6 * shade)) as u8,
                255,
            );
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                color.filled(),
            )))?;
            let ink = if shade > 0.6 { WHITE } else { BLACK };
            chart.draw_series(std::iter::once(Text::new(
                count.to_string(),
                (x - 0.2, y + 0.15),
                ("sans-serif", 13).into_font().color(&ink),
            )))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts_pairs() {
        let confusion = Confusion::new(&[1, 1, 2], &[1, 7, 2]);
        assert_eq!(confusion.counts[1][1], 1);
        assert_eq!(confusion.counts[1][7], 1);
        assert_eq!(confusion.counts[2][2], 1);
        let svg = confusion_svg(&confusion, "test");
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    }
}
