//! What `cargo xtask bench` measures of a reader, alone in a process, for profiling and for
//! before/after runs: `bench_stream stream PATH` streams a file with the default loader
//! (lossless optimisation on, as `xtask scenario stream` does); `bench_stream sample PATH`
//! reads its first 1,000 rows. Prints rows and seconds.
#![expect(
    clippy::print_stdout,
    reason = "an example program prints what it measured"
)]

use mem_stream::StreamingLoader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let path = std::path::PathBuf::from(std::env::args().nth(2).ok_or("usage: MODE PATH")?);
    let loader = StreamingLoader::builder().build()?;
    let start = std::time::Instant::now();
    let rows = if mode == "sample" {
        loader.sample(&path, 1000)?.0.num_rows()
    } else {
        let mut rows = 0;
        for chunk in loader.stream(&path)? {
            rows += chunk?.0.num_rows();
        }
        rows
    };
    println!(
        "{{\"rows\":{rows},\"elapsed_s\":{}}}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
