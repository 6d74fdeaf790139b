//! The tables `cargo xtask bench` prints: rows of measured figures, KPIs with verdicts, and
//! their text, Markdown and JSON forms.

use std::fmt::Write as _;

use serde::Serialize;

/// A measured value, or the honest statement that it was not measured in this run.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A figure with its unit, e.g. `(312.4, "MB")`.
    Value { value: f64, unit: String },
    /// Free text (e.g. a verdict or "n/a").
    Text(String),
}

impl Cell {
    pub fn value(value: f64, unit: &str) -> Self {
        Self::Value {
            value,
            unit: unit.to_owned(),
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn not_measured(why: &str) -> Self {
        Self::Text(format!("not measured yet ({why})"))
    }

    fn render(&self) -> String {
        match self {
            Self::Value { value, unit } => format_value(*value, unit),
            Self::Text(t) => t.clone(),
        }
    }
}

fn format_value(value: f64, unit: &str) -> String {
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else if value.abs() >= 0.1 {
        2
    } else {
        3
    };
    if unit.is_empty() {
        format!("{value:.digits$}")
    } else if unit == "%" {
        format!("{value:.1} %")
    } else {
        format!("{value:.digits$} {unit}")
    }
}

/// One table of the guide, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Notes printed under the table: method, caveats, honest limits.
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, label: &str, cells: Vec<Cell>) {
        let mut row = vec![Cell::text(label)];
        row.extend(cells);
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn rendered(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| r.iter().map(Cell::render).collect())
            .collect()
    }

    pub fn to_text(&self) -> String {
        let rows = self.rendered();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .chain([self.header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("\n{}\n", self.title);
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .fold(String::new(), |mut s, (i, (c, w))| {
                    let pad = w.saturating_sub(c.chars().count());
                    if i == 0 {
                        let _ = write!(s, "  {c}{}", " ".repeat(pad));
                    } else {
                        let _ = write!(s, "  {}{c}", " ".repeat(pad));
                    }
                    s
                })
        };
        let _ = writeln!(out, "{}", line(&self.header));
        let _ = writeln!(
            out,
            "  {}",
            "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1))
        );
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "\n### {}\n\n| {} |\n|{}\n",
            self.title,
            self.header.join(" | "),
            "---|".repeat(self.header.len())
        );
        for r in self.rendered() {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        out
    }
}

/// Which band of the guide's "Performance Benchmarks" table a KPI falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "target")]
    Target,
    #[serde(rename = "good")]
    Good,
    #[serde(rename = "needs improvement")]
    NeedsImprovement,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Good => "good",
            Self::NeedsImprovement => "needs improvement",
        }
    }
}

/// A KPI of the guide with its bands.
#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// The target band as the guide writes it, e.g. "< 2 GB".
    pub target: String,
    pub good: String,
    pub needs_improvement: String,
    pub verdict: Verdict,
    /// How it was measured.
    pub method: String,
}

/// Whether smaller or larger values are better for a KPI.
#[derive(Debug, Clone, Copy)]
pub enum Better {
    Lower,
    Higher,
}

impl Kpi {
    /// A KPI judged against `target` and `good` limits.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per KPI reads best flat"
    )]
    pub fn judged(
        name: &str,
        value: f64,
        unit: &str,
        better: Better,
        target: f64,
        good: f64,
        bands: [&str; 3],
        method: &str,
    ) -> Self {
        let verdict = match better {
            Better::Lower if value < target => Verdict::Target,
            Better::Lower if value < good => Verdict::Good,
            Better::Higher if value > target => Verdict::Target,
            Better::Higher if value > good => Verdict::Good,
            _ => Verdict::NeedsImprovement,
        };
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target: bands[0].to_owned(),
            good: bands[1].to_owned(),
            needs_improvement: bands[2].to_owned(),
            verdict,
            method: method.to_owned(),
        }
    }
}

/// Renders the KPI table.
pub fn kpi_table(kpis: &[Kpi], missing: &[(&str, String)]) -> Table {
    let mut t = Table::new(
        "3. Metrics and KPIs",
        &[
            "Metric",
            "Measured",
            "Target",
            "Good",
            "Needs improvement",
            "Verdict",
        ],
    );
    for k in kpis {
        t.row(
            &k.name,
            vec![
                Cell::value(k.value, &k.unit),
                Cell::text(&k.target),
                Cell::text(&k.good),
                Cell::text(&k.needs_improvement),
                Cell::text(k.verdict.as_str()),
            ],
        );
        t.note(format!("{}: {}", k.name, k.method));
    }
    for (name, why) in missing {
        t.row(
            name,
            vec![
                Cell::not_measured(why),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
            ],
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_bands() {
        let b = ["< 2 GB", "< 3 GB", "> 4 GB"];
        assert_eq!(
            Kpi::judged("m", 1.0, "GB", Better::Lower, 2.0, 3.0, b, "").verdict,
            Verdict::Target
        );
        assert_eq!(
            Kpi::judged("m", 2.5, "GB", Better::Lower, 2.0, 3.0, b, "").verdict,
            Verdict::Good
        );
        assert_eq!(
            Kpi::judged("m", 5.0, "GB", Better::Lower, 2.0, 3.0, b, "").verdict,
            Verdict::NeedsImprovement
        );
        assert_eq!(
            Kpi::judged("h", 85.0, "%", Better::Higher, 80.0, 70.0, b, "").verdict,
            Verdict::Target
        );
        assert_eq!(
            Kpi::judged("h", 65.0, "%", Better::Higher, 80.0, 70.0, b, "").verdict,
            Verdict::NeedsImprovement
        );
    }

    #[test]
    fn text_table_aligns_and_keeps_notes() {
        let mut t = Table::new("T", &["a", "b"]);
        t.row("row", vec![Cell::value(12.345, "MB")]);
        t.note("n1");
        let s = t.to_text();
        assert!(s.contains("12.3 MB") && s.contains("note: n1"));
        assert!(t.to_markdown().contains("| row | 12.3 MB |"));
    }
}
