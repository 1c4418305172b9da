//! The 2-D picture of a fit: points coloured by component, each mean with its one-σ circle.

use plotters::prelude::*;

use super::model::GaussianMixture;
use crate::plot::{Canvas, padded_ranges, render_svg};

/// Renders 2-D points `[n, 2]` (row-major) coloured by `labels`, with each component's mean as
/// a cross and a circle of radius √var. The caller checks that the mixture is 2-D.
pub fn mixture_svg(
    title: &str,
    points: &[f64],
    labels: &[usize],
    mixture: &GaussianMixture,
) -> String {
    render_svg((640, 560), |root| {
        draw(root, title, points, labels, mixture)
    })
    .expect("drawing into an in-memory SVG string cannot fail")
}

fn draw(
    root: &Canvas,
    title: &str,
    points: &[f64],
    labels: &[usize],
    mixture: &GaussianMixture,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let pairs: Vec<(f64, f64)> = points.chunks(2).map(|p| (p[0], p[1])).collect();
    let circles: Vec<Vec<(f64, f64)>> = (0..mixture.k).map(|j| circle(mixture, j)).collect();
    let extent = pairs.iter().chain(circles.iter().flatten()).copied();
    let (x_range, y_range) = padded_ranges(extent);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(x_range, y_range)?;
    chart.configure_mesh().x_desc("x1").y_desc("x2").draw()?;
    let colour = |j: usize| Palette99::pick(j).to_rgba();
    chart.draw_series(
        pairs
            .iter()
            .zip(labels)
            .map(|(&p, &j)| Circle::new(p, 3, colour(j).filled())),
    )?;
    for (j, outline) in circles.into_iter().enumerate() {
        let mean = mixture.mean(j);
        chart
            .draw_series(LineSeries::new(outline, colour(j).stroke_width(2)))?
            .label(format!(
                "component {j}: p = {:.3}, σ² = {:.3}",
                mixture.p[j], mixture.var[j]
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour(j)));
        chart.draw_series(std::iter::once(Cross::new(
            (mean[0], mean[1]),
            7,
            BLACK.stroke_width(2),
        )))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn circle(mixture: &GaussianMixture, j: usize) -> Vec<(f64, f64)> {
    let mean = mixture.mean(j);
    let radius = mixture.var[j].sqrt();
    (0..=72)
        .map(|step| {
            let angle = step as f64 / 72.0 * std::f64::consts::TAU;
            (
                mean[0] + radius * angle.cos(),
                mean[1] + radius * angle.sin(),
            )
        })
        .collect()
}
