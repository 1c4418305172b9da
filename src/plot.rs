//! SVG charts shared by the families, rendered in memory and written atomically.

use plotters::prelude::*;

/// One named line of a chart: `(x, y)` points in drawing order.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// A drawing area that renders into an in-memory SVG string.
pub type Canvas<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Renders `draw` on a `width` × `height` SVG canvas and returns the SVG text.
pub fn render_svg(
    (width, height): (u32, u32),
    draw: impl FnOnce(&Canvas) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&root)?;
    }
    Ok(svg)
}

/// Renders a line chart with markers as SVG text.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    render_svg((720, 480), |root| {
        draw_lines(root, title, x_label, y_label, series)
    })
    .expect("drawing into an in-memory SVG string cannot fail")
}

fn draw_lines(
    root: &Canvas,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let all = series.iter().flat_map(|s| s.points.iter());
    let (x_range, y_range) = padded_ranges(all.copied());
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()?;
    for (index, line) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))?
            .label(line.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        chart.draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Returns x and y ranges that contain every point with a small margin. A single value gets a
/// unit-wide range, so the axis is never empty.
pub fn padded_ranges(
    points: impl Iterator<Item = (f64, f64)>,
) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    (pad(x_min, x_max), pad(y_min, y_max))
}

fn pad(low: f64, high: f64) -> std::ops::Range<f64> {
    if !low.is_finite() || !high.is_finite() {
        return 0.0..1.0;
    }
    let span = (high - low).max(1e-9);
    let margin = if high - low < 1e-9 { 0.5 } else { span * 0.05 };
    (low - margin)..(high + margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_is_svg_with_labels() {
        let svg = line_chart(
            "accuracy",
            "epoch",
            "accuracy",
            &[Series {
                name: "train",
                points: vec![(1.0, 0.5), (2.0, 0.7)],
            }],
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("train"));
    }
}
