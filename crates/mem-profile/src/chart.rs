//! The memory-over-time chart, drawn with plotters' SVG backend.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::ProfileError;
use crate::result::{LeakBasis, ProfileResult};

/// Colour of the resident-memory line (`#1F77B4` in the SVG).
pub const RSS_COLOR: RGBColor = RGBColor(0x1F, 0x77, 0xB4);
/// Colour of the live-heap line (`#2CA02C`).
pub const HEAP_COLOR: RGBColor = RGBColor(0x2C, 0xA0, 0x2C);
/// Colour of the peak marker (`#D62728`).
pub const PEAK_COLOR: RGBColor = RGBColor(0xD6, 0x27, 0x28);
/// Colour of the leak trend line (`#FF7F0E`).
pub const TREND_COLOR: RGBColor = RGBColor(0xFF, 0x7F, 0x0E);

fn chart_err<E: std::fmt::Display>(e: E) -> ProfileError {
    ProfileError::Chart(e.to_string())
}

impl ProfileResult {
    /// The chart of memory over time as a standalone SVG document: resident memory (one
    /// polyline point per snapshot), live heap when tracked, the peak marked, and the leak's
    /// trend line when one was found.
    ///
    /// # Errors
    /// [`ProfileError::Chart`] if plotters fails to draw.
    pub fn chart_svg(&self) -> Result<String, ProfileError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
            root.fill(&WHITE).map_err(chart_err)?;
            let snaps = &self.snapshots;
            let x_max = snaps
                .iter()
                .map(|s| s.elapsed_s)
                .fold(0.0, f64::max)
                .max(1e-3);
            let y_max = snaps
                .iter()
                .map(|s| s.rss_mb.max(s.heap_mb.unwrap_or(0.0)))
                .fold(0.0, f64::max)
                .max(1.0)
                * 1.1;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("Memory over time: {}", self.session_name),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..x_max, 0.0..y_max)
                .map_err(chart_err)?;
            chart
                .configure_mesh()
                .x_desc("seconds")
                .y_desc("MB")
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(chart_err)?;
            chart
                .draw_series(LineSeries::new(
                    snaps.iter().map(|s| (s.elapsed_s, s.rss_mb)),
                    RSS_COLOR.stroke_width(2),
                ))
                .map_err(chart_err)?
                .label("resident (RSS)")
                .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], RSS_COLOR.filled()));
            if snaps.iter().all(|s| s.heap_mb.is_some()) && !snaps.is_empty() {
                chart
                    .draw_series(LineSeries::new(
                        snaps
                            .iter()
                            .map(|s| (s.elapsed_s, s.heap_mb.unwrap_or(0.0))),
                        HEAP_COLOR.stroke_width(2),
                    ))
                    .map_err(chart_err)?
                    .label("live heap")
                    .legend(|(x, y)| {
                        Rectangle::new([(x, y - 4), (x + 16, y + 4)], HEAP_COLOR.filled())
                    });
            }
            if let Some(p) = self.peak_snapshot() {
                let label = format!("peak {:.1} MB", p.rss_mb);
                // Near the right edge the label goes left of the marker so it stays visible.
                let right_half = p.elapsed_s > 0.6 * x_max;
                let (dx, h) = if right_half {
                    (-8, HPos::Right)
                } else {
                    (8, HPos::Left)
                };
                let style = ("sans-serif", 14)
                    .into_font()
                    .color(&PEAK_COLOR)
                    .pos(Pos::new(h, VPos::Center));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((p.elapsed_s, p.rss_mb))
                            + Circle::new((0, 0), 5, PEAK_COLOR.filled())
                            + Text::new(label, (dx, -12), style),
                    ))
                    .map_err(chart_err)?;
            }
            let a = &self.leak_analysis;
            if let (true, Some(t0), Some(t1), Some(b)) = (
                a.leak_detected,
                a.leak_start_s,
                a.leak_end_s,
                a.leak_intercept_mb,
            ) {
                let slope = a.rate_mb_per_hour / 3600.0;
                let basis = match self.leak_basis {
                    LeakBasis::Heap => "heap",
                    LeakBasis::Rss => "RSS",
                };
                chart
                    .draw_series(DashedLineSeries::new(
                        [(t0, b + slope * t0), (t1, b + slope * t1)],
                        8,
                        5,
                        TREND_COLOR.stroke_width(2),
                    ))
                    .map_err(chart_err)?
                    .label(format!(
                        "leak trend ({basis}) {:.0} MB/h",
                        a.rate_mb_per_hour
                    ))
                    .legend(|(x, y)| {
                        Rectangle::new([(x, y - 2), (x + 16, y + 2)], TREND_COLOR.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(chart_err)?;
            root.present().map_err(chart_err)?;
        }
        Ok(svg)
    }
}
