//! Aggregating case results: progress lines, and the final table of cases per command and
//! class, with the distinct panics and an example input for each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::classify::{Class, PanicInfo};
use super::plan::Command;

/// Examples listed per failure class (other than panics, which are listed by message).
const EXAMPLES: usize = 5;

/// What a worker reports about one case.
#[derive(Debug)]
pub struct CaseResult {
    /// The case index.
    pub index: u64,
    /// What it ran.
    pub command: Command,
    /// How it ended.
    pub class: Class,
    /// The panic, for `Class::Panic` with a message on stderr.
    pub panic: Option<PanicInfo>,
    /// Where the failing input was kept.
    pub kept: Option<PathBuf>,
    /// One line about the failure (status, peak RSS, first stderr line).
    pub note: String,
}

/// One distinct panic.
#[derive(Debug)]
struct PanicEntry {
    count: u64,
    info: PanicInfo,
    first_case: u64,
    example: Option<PathBuf>,
}

/// Counts and examples of a run so far.
#[derive(Debug, Default)]
pub struct Summary {
    counts: BTreeMap<(Command, Class), u64>,
    panics: BTreeMap<String, PanicEntry>,
    examples: BTreeMap<Class, Vec<(u64, Option<PathBuf>, String)>>,
    done: u64,
}

impl Summary {
    /// Adds one case.
    pub fn add(&mut self, r: CaseResult) {
        self.done += 1;
        *self.counts.entry((r.command, r.class)).or_default() += 1;
        if r.class == Class::Ok {
            return;
        }
        if let Some(info) = r.panic {
            let entry = self.panics.entry(info.key()).or_insert_with(|| PanicEntry {
                count: 0,
                info,
                first_case: r.index,
                example: r.kept.clone(),
            });
            entry.count += 1;
            // Keep the lowest case as the example, whatever order the workers finished in.
            if r.index < entry.first_case {
                entry.first_case = r.index;
                entry.example = r.kept.clone();
            }
        }
        let list = self.examples.entry(r.class).or_default();
        list.push((r.index, r.kept, r.note));
        list.sort_by_key(|e| e.0);
        list.truncate(EXAMPLES);
    }

    /// Cases run.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Cases of `class`.
    pub fn count(&self, class: Class) -> u64 {
        self.counts
            .iter()
            .filter(|((_, c), _)| *c == class)
            .map(|(_, n)| n)
            .sum()
    }

    /// Cases that did not end OK.
    pub fn failures(&self) -> u64 {
        self.done - self.count(Class::Ok)
    }

    /// "1500/3000 cases, 61 s, 1475 cases/min; PANIC 3, MEMORY 1".
    pub fn progress_line(&self, total: u64, elapsed: Duration) -> String {
        let mut line = format!(
            "{}/{total} cases, {:.0} s, {:.0} cases/min",
            self.done,
            elapsed.as_secs_f64(),
            per_minute(self.done, elapsed)
        );
        let failing: Vec<String> = Class::ALL
            .iter()
            .filter(|&&c| c != Class::Ok && self.count(c) > 0)
            .map(|&c| format!("{} {}", c.name(), self.count(c)))
            .collect();
        line.push_str(if failing.is_empty() {
            "; no failures"
        } else {
            "; "
        });
        line.push_str(&failing.join(", "));
        line
    }

    /// The final report: the table, the distinct panics and examples of the other classes.
    pub fn render(&self) -> String {
        let mut t = String::new();
        let width = Command::ALL
            .iter()
            .map(|c| c.label().len())
            .max()
            .unwrap_or(10);
        let _ = write!(t, "\n{:<width$} {:>7}", "command", "cases");
        for c in Class::ALL {
            let _ = write!(t, " {:>w$}", c.name(), w = c.name().len().max(5));
        }
        t.push('\n');
        let mut row = |label: &str, count: &dyn Fn(Class) -> u64| {
            let total: u64 = Class::ALL.iter().map(|&c| count(c)).sum();
            let _ = write!(t, "{label:<width$} {total:>7}");
            for c in Class::ALL {
                let _ = write!(t, " {:>w$}", count(c), w = c.name().len().max(5));
            }
            t.push('\n');
        };
        for cmd in Command::ALL {
            row(cmd.label(), &|c| {
                self.counts.get(&(cmd, c)).copied().unwrap_or(0)
            });
        }
        row("total", &|c| self.count(c));

        if !self.panics.is_empty() {
            let mut panics: Vec<&PanicEntry> = self.panics.values().collect();
            panics.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_case.cmp(&b.first_case)));
            let _ = writeln!(t, "\ndistinct panics ({}):", panics.len());
            for p in panics {
                let _ = writeln!(t, "  {:>5}x  {}", p.count, p.info.message);
                let _ = writeln!(t, "          at {}", p.info.location);
                if let Some(path) = &p.example {
                    let _ = writeln!(t, "          e.g. {}", path.display());
                }
            }
        }
        for (class, list) in &self.examples {
            if *class == Class::Panic && !self.panics.is_empty() {
                continue;
            }
            let _ = writeln!(
                t,
                "\n{} (first {} of {}):",
                class.name(),
                list.len(),
                self.count(*class)
            );
            for (index, path, note) in list {
                let where_ = path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let _ = writeln!(t, "  case {index}: {note}\n          {where_}");
            }
        }
        t
    }
}

/// Cases per minute.
pub fn per_minute(cases: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64().max(1e-9);
    cases as f64 * 60.0 / secs
}
