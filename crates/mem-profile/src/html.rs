//! The self-contained HTML report: inline CSS and SVG, no scripts, no network.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::ProfileError;
use crate::result::{LeakBasis, ProfileResult};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:960px}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.leak{color:#b00;font-weight:bold}\
.ok{color:#070;font-weight:bold}li{margin:.4em 0}";

impl ProfileResult {
    /// The report as one HTML page with the chart inline: opens in any browser offline.
    ///
    /// # Errors
    /// [`ProfileError::Chart`] if the chart cannot be drawn.
    pub fn to_html(&self) -> Result<String, ProfileError> {
        let svg = self.chart_svg()?;
        let mut h = String::new();
        let name = escape(&self.session_name);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Memory profile: {name}</title><style>{STYLE}</style></head><body>\n\
             <h1>Memory profile: {name}</h1>\n"
        );
        let basis = match self.leak_basis {
            LeakBasis::Heap => "live heap",
            LeakBasis::Rss => "resident memory",
        };
        if self.memory_leak_detected {
            let _ = writeln!(
                h,
                "<p class=\"leak\">Leak detected: {:.1} MB/hour ({basis}).</p>",
                self.leak_rate_mb_per_hour
            );
        } else {
            let _ = writeln!(h, "<p class=\"ok\">No leak detected ({basis}).</p>");
        }
        let _ = writeln!(h, "<p>{}</p>", escape(&self.leak_analysis.reason));
        let _ = writeln!(h, "<figure>{svg}</figure>");
        let _ = writeln!(
            h,
            "<h2>Summary</h2><table><tr><th>figure</th><th>value</th></tr>"
        );
        let mut row = |k: &str, v: String| {
            let _ = writeln!(h, "<tr><td>{k}</td><td>{}</td></tr>", escape(&v));
        };
        row("duration", format!("{:.2} s", self.duration_s));
        row("snapshots", self.snapshots.len().to_string());
        row("start memory", format!("{:.1} MB", self.start_memory_mb));
        row("end memory", format!("{:.1} MB", self.end_memory_mb));
        row("peak memory", format!("{:.1} MB", self.peak_memory_mb));
        row("growth", format!("{:+.1} MB", self.memory_growth_mb));
        row("budget", format!("{:.0} MB", self.memory_budget_mb));
        if let Some(x) = &self.heap {
            row(
                "live heap at end (still allocated)",
                format!("{:.1} MB", x.end_heap_mb),
            );
            row("peak live heap", format!("{:.1} MB", x.peak_heap_mb));
            row(
                "resident but not live heap (allocator keeps)",
                format!("{:.1} MB", x.retained_by_allocator_mb),
            );
            row(
                "allocated during session",
                format!("{:.1} MB in {} allocations", x.allocated_mb, x.allocations),
            );
        }
        row(
            "trend (whole session)",
            format!(
                "{:.1} MB/hour",
                self.leak_analysis.overall_slope_mb_per_hour
            ),
        );
        row("noise", format!("{:.2} MB", self.leak_analysis.noise_mb));
        h.push_str("</table>\n<h2>Recommendations</h2>\n");
        if self.recommendations.is_empty() {
            h.push_str("<p>Nothing to act on.</p>\n");
        } else {
            h.push_str("<ul>\n");
            for r in &self.recommendations {
                let _ = writeln!(h, "<li>{}</li>", escape(r));
            }
            h.push_str("</ul>\n");
        }
        if !self.functions.is_empty() {
            h.push_str("<h2>Profiled functions</h2><table><tr><th>function</th><th>calls</th><th>time s</th><th>allocated</th><th>left behind</th><th>max peak</th></tr>\n");
            for f in &self.functions {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&f.name),
                    f.calls,
                    f.total_elapsed_s,
                    mem_monitor::format_bytes(f.allocated_bytes),
                    f.retained_bytes,
                    mem_monitor::format_bytes(f.max_peak_bytes)
                );
            }
            h.push_str("</table>\n");
        }
        h.push_str("<details><summary>Snapshots</summary><table><tr><th>#</th><th>seconds</th><th>RSS MB</th><th>heap MB</th></tr>\n");
        for (i, s) in self.snapshots.iter().enumerate() {
            let heap = s
                .heap_mb
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            let _ = writeln!(
                h,
                "<tr><td>{i}</td><td>{:.3}</td><td>{:.2}</td><td>{heap}</td></tr>",
                s.elapsed_s, s.rss_mb
            );
        }
        h.push_str("</table></details>\n</body></html>\n");
        Ok(h)
    }

    /// Writes [`ProfileResult::to_html`] to `path`.
    ///
    /// # Errors
    /// [`ProfileError::Write`] naming the path, or [`ProfileError::Chart`].
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<(), ProfileError> {
        let path = path.as_ref();
        let html = self.to_html()?;
        std::fs::write(path, html).map_err(|source| ProfileError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{AnalysisConfig, Snapshot};

    fn result(n: usize, leak: bool) -> ProfileResult {
        let snaps = (0..n)
            .map(|i| {
                let x = i as f64 * 0.25;
                let y = if leak {
                    50.0 + 3.0 * x
                } else {
                    50.0 + (i % 3) as f64
                };
                Snapshot {
                    timestamp: 1e9 + x,
                    elapsed_s: x,
                    rss_mb: y,
                    heap_mb: Some(y * 0.8),
                }
            })
            .collect();
        ProfileResult::from_snapshots("etl <batch> & co", snaps, &AnalysisConfig::default())
    }

    /// Points of the polylines drawn in `color`, largest first.
    fn polyline_points(svg: &str, color: &str) -> Vec<usize> {
        let mut counts: Vec<usize> = svg
            .split("<polyline")
            .skip(1)
            .filter(|p| p.contains(&format!("stroke=\"{color}\"")))
            .filter_map(|p| {
                let rest = p.split("points=\"").nth(1)?;
                let pts = rest.split('"').next()?;
                Some(pts.split_whitespace().filter(|xy| xy.contains(',')).count())
            })
            .collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts
    }

    #[test]
    fn chart_has_one_point_per_snapshot_for_each_series() {
        for n in [2, 17, 120] {
            let r = result(n, false);
            let svg = r.chart_svg().unwrap();
            assert_eq!(
                polyline_points(&svg, "#1F77B4").first(),
                Some(&n),
                "RSS series, n = {n}"
            );
            assert_eq!(
                polyline_points(&svg, "#2CA02C").first(),
                Some(&n),
                "heap series, n = {n}"
            );
            assert!(svg.contains("peak "), "peak label");
            assert!(svg.contains("#D62728"), "peak marker");
        }
    }

    #[test]
    fn trend_line_only_when_a_leak_is_found() {
        let leak = result(60, true);
        assert!(leak.memory_leak_detected);
        assert!(leak.chart_svg().unwrap().contains("#FF7F0E"));
        let flat = result(60, false);
        assert!(!flat.memory_leak_detected);
        assert!(!flat.chart_svg().unwrap().contains("#FF7F0E"));
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let html = result(40, true).to_html().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<svg"));
        assert!(html.contains("etl &lt;batch&gt; &amp; co"));
        assert!(!html.contains("<batch>"));
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "no network resources"
        );
        assert!(!html.contains("<script"));
        assert!(html.contains("Leak detected"));
    }

    #[test]
    fn empty_result_still_renders() {
        let r = ProfileResult::from_snapshots("empty", Vec::new(), &AnalysisConfig::default());
        assert!(r.to_html().is_ok());
    }
}
