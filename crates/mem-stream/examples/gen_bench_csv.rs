//! Writes the benchmark CSV: `cargo run --release -p mem-stream --features testdata --example gen_bench_csv -- OUT.csv [MB] [SEED]`.
#![expect(
    clippy::print_stdout,
    reason = "an example program reports what it wrote"
)]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "bench.csv".to_owned());
    let mb: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(42);
    let rows = mem_stream::testdata::rows_for_bytes(mb * 1_000_000);
    let bytes = mem_stream::testdata::write_bench_csv(std::path::Path::new(&out), rows, seed)?;
    println!("wrote {out}: {rows} rows, {bytes} bytes");
    Ok(())
}
