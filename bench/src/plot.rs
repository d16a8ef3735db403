//! `--plot FILE.svg`: the latency distribution (by percentile, in nines) above the
//! deliveries-per-second timeline, drawn with plotters' SVG backend.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use thiserror::Error;

use super::report::Report;
use super::watch::Phase;

/// The picture's size in pixels.
const SIZE: (u32, u32) = (960, 840);

/// The plot could not be drawn or written.
#[derive(Debug, Error)]
#[error("cannot draw the plot: {0}")]
pub struct PlotError(String);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `report` into an SVG file at `path`.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), PlotError> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    latency_panel(&top, report)?;
    timeline_panel(&bottom, report)?;
    root.present().map_err(failed)
}

fn failed(error: impl std::fmt::Display) -> PlotError {
    PlotError(error.to_string())
}

/// A panel's frame, the same for both: its caption, and axes from zero to the maxima.
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    max_x: f64,
    max_y: f64,
) -> Result<Chart<'a, 'b>, PlotError> {
    ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)
        .map_err(failed)
}

/// Latency against percentile, the percentile axis spaced by nines (90, 99, 99.9, ...).
fn latency_panel(area: &Area<'_>, report: &Report) -> Result<(), PlotError> {
    let points: Vec<(f64, f64)> =
        report.latency_curve.iter().map(|p| (p.nines, p.latency_ms)).collect();
    let max_x = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_y = points.iter().map(|p| p.1).fold(0.001, f64::max) * 1.1;
    let title = format!("end-to-end latency by percentile, {}", scenario(report));
    let mut chart = panel(area, &title, max_x, max_y)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|nines| percentile_label(*nines))
        .draw()
        .map_err(failed)?;
    chart.draw_series(LineSeries::new(points, BLUE.stroke_width(2))).map_err(failed)?;
    Ok(())
}

/// Deliveries per second over time; the measured window lies between the grey lines.
fn timeline_panel(area: &Area<'_>, report: &Report) -> Result<(), PlotError> {
    let points: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .filter(|p| p.phase != Phase::Connect)
        .map(|p| (p.t_s, p.deliveries_per_s))
        .collect();
    let max_x = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_y = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let caption = "deliveries per second (measured between the grey lines)";
    let mut chart = panel(area, caption, max_x, max_y)?;
    chart
        .configure_mesh()
        .x_desc("seconds since sending started")
        .y_desc("deliveries/s")
        .y_label_formatter(&|rate| super::watch::si(*rate))
        .draw()
        .map_err(failed)?;
    let warmup = report.plan.warmup.as_secs_f64();
    let end = warmup + report.plan.duration.as_secs_f64();
    for x in [warmup, end] {
        let line = LineSeries::new([(x, 0.0), (x, max_y)], BLACK.mix(0.3).stroke_width(1));
        chart.draw_series(line).map_err(failed)?;
    }
    chart.draw_series(LineSeries::new(points, RED.stroke_width(2))).map_err(failed)?;
    Ok(())
}

/// "90%", "99%", "99.9%" for 1, 2, 3 nines.
fn percentile_label(nines: f64) -> String {
    let percent = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines - 2.0).ceil().clamp(0.0, 6.0) as usize;
    format!("{percent:.decimals$}%")
}

fn scenario(report: &Report) -> String {
    let p = &report.plan;
    let name = p.preset.map_or("custom".to_string(), |p| format!("{p:?}"));
    format!("{name}: {} clients, {} senders", p.clients, p.senders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_labelled_by_nines() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }
}
