//! SVG plot of a run: throughput (top) and per-second p99 latencies (bottom) over time, with orange
//! vertical lines where the warm-up and the measured phase end.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::report::{RunResult, SecondPoint};

/// Colour of the phase-boundary lines.
const MARK: RGBColor = RGBColor(255, 140, 0);

/// One line of a panel: label, colour and how to read its value from a point.
type Series<'a> = (&'a str, RGBColor, fn(&SecondPoint) -> f64);

/// Draws one panel; `marks` are the times (seconds) of the phase boundaries, drawn as orange
/// vertical lines. With `skip_zero`, zero values (seconds without a sample) are left out.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    points: &[SecondPoint],
    lines: &[Series<'_>],
    marks: &[f64],
    skip_zero: bool,
) -> Result<()> {
    let t_max = points.iter().map(|p| p.t_s).fold(1.0, f64::max);
    let y_max = points
        .iter()
        .flat_map(|p| lines.iter().map(move |(_, _, f)| f(p)))
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)
        .map_err(|e| anyhow!("plot: {e}"))?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc(y_label)
        .y_label_formatter(&|v| {
            let decimals = if y_max >= 100.0 { 0 } else { 2 };
            format!("{v:.decimals$}")
        })
        .x_label_formatter(&|v| {
            let decimals = if t_max >= 10.0 { 0 } else { 1 };
            format!("{v:.decimals$}")
        })
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))?;
    for &m in marks.iter().filter(|m| **m > 0.0 && **m < t_max) {
        chart
            .draw_series(LineSeries::new(
                [(m, 0.0), (m, y_max)],
                MARK.mix(0.8).stroke_width(2),
            ))
            .map_err(|e| anyhow!("plot: {e}"))?;
    }
    for (label, color, f) in lines {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points
                    .iter()
                    .filter(|p| !skip_zero || f(p) > 0.0)
                    .map(|p| (p.t_s, f(p))),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("plot: {e}"))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))?;
    Ok(())
}

/// Writes the plot of `result`'s per-second series to `path` (SVG).
pub fn write_svg(result: &RunResult, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
    let (top, bottom) = root.split_vertically(360);
    // Orange lines: end of the warm-up and end of the measured phase.
    let warmup = result.workload.warmup_s;
    let marks = [warmup, warmup + result.measured_s];
    let title = format!("{}: throughput", result.workload.name);
    panel(
        &top,
        &title,
        "msg/s",
        &result.series,
        &[
            ("produced msg/s", BLUE, |p| p.produced_msg_s),
            ("consumed msg/s", RED, |p| p.consumed_msg_s),
        ],
        &marks,
        false,
    )?;
    panel(
        &bottom,
        "p99 latency per second",
        "ms",
        &result.series,
        &[
            ("publish p99 ms", BLUE, |p| p.publish_p99_ms),
            ("end-to-end p99 ms", RED, |p| p.e2e_p99_ms),
        ],
        &marks,
        true,
    )?;
    root.present().map_err(|e| anyhow!("plot: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_svg() {
        let mut r = RunResult::default();
        for i in 1..=5 {
            r.series.push(SecondPoint {
                t_s: i as f64,
                produced_msg_s: 1000.0 * i as f64,
                consumed_msg_s: 900.0 * i as f64,
                publish_p99_ms: 1.5,
                e2e_p99_ms: 2.5,
                ..SecondPoint::default()
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.svg");
        write_svg(&r, &p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("<svg"));
        assert!(text.contains("<polyline"));
    }
}
