//! mem-stream's CSV decoder, one column type at a time: MB/s of CSV text for a file of a single
//! int, float, text, date or timestamp column, streamed from memory through the public API
//! (`StreamingLoader::stream_reader`, optimisation off), so a regression in one type's parser
//! shows on its own line.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::fmt::Write as _;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mem_stream::{FileFormat, StreamingLoader};

/// Bytes of CSV text per column file (about; whole rows).
const BYTES: usize = 8 << 20;

/// A deterministic generator (xorshift64*), so every run decodes the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const WORDS: [&str; 12] = [
    "nuvoka", "droveka", "logo", "tita", "gobalo", "kaju", "modeka", "clago", "fikaka", "suza",
    "tibaka", "palo",
];

/// One value of the column `kind` (never empty, so no nulls).
fn value(kind: &str, rng: &mut Rng, out: &mut String) {
    let r = rng.next();
    let _ = match kind {
        "int" => write!(out, "{}", (r % 2_000_000_000) as i64 - 1_000_000_000),
        "float" => write!(out, "{:.6}", (r % 10_000_000) as f64 / 997.0 - 5000.0),
        "text" => {
            // Words, and every eighth value quoted with a comma and a doubled quote inside.
            let words = 3 + (r % 8) as usize;
            let quoted = r.is_multiple_of(8);
            if quoted {
                out.push('"');
            }
            for w in 0..words {
                if w > 0 {
                    out.push(' ');
                }
                out.push_str(WORDS[((r >> (4 * w)) % WORDS.len() as u64) as usize]);
            }
            if quoted {
                out.push_str(", \"\"q\"\"\"");
            }
            Ok(())
        }
        "date" => write!(
            out,
            "{:04}-{:02}-{:02}",
            2000 + r % 30,
            1 + (r >> 8) % 12,
            1 + (r >> 16) % 28
        ),
        "timestamp" => write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            2000 + r % 30,
            1 + (r >> 8) % 12,
            1 + (r >> 16) % 28,
            (r >> 24) % 24,
            (r >> 32) % 60,
            (r >> 40) % 60
        ),
        other => unreachable!("no column kind {other}"),
    };
}

/// A CSV text of one column of `kind`, about [`BYTES`] long.
fn csv(kind: &str) -> Arc<[u8]> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(BYTES + 4096);
    text.push_str(kind);
    text.push('\n');
    while text.len() < BYTES {
        value(kind, &mut rng, &mut text);
        text.push('\n');
    }
    Arc::from(text.into_bytes())
}

/// Streams `text` to the end; the rows decoded.
fn decode(loader: &StreamingLoader, text: &Arc<[u8]>) -> usize {
    let stream = loader
        .stream_reader(Cursor::new(Arc::clone(text)), FileFormat::CSV, "<bench>")
        .expect("stream");
    stream.map(|item| item.expect("chunk").0.num_rows()).sum()
}

fn csv_decode(c: &mut Criterion) {
    let loader = StreamingLoader::builder()
        .optimize(false)
        .build()
        .expect("loader");
    let mut group = c.benchmark_group("csv_decode");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    for kind in ["int", "float", "text", "date", "timestamp"] {
        let text = csv(kind);
        let rows = decode(&loader, &text);
        assert!(rows > 0, "{kind}: no rows decoded");
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(kind), &text, |b, text| {
            b.iter(|| decode(&loader, text));
        });
    }
    group.finish();
}

criterion_group!(benches, csv_decode);
criterion_main!(benches);
