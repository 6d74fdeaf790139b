//! Streams a table file in chunks and prints each chunk's metadata.
//!
//! `cargo run -p mem-stream --example stream_file -- [PATH]`; without a path it writes a small
//! CSV with quoted fields to a temporary directory and streams that.
#![expect(
    clippy::print_stdout,
    reason = "an example program prints what it reads"
)]

use mem_stream::{MIB, StreamingLoader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("mem-stream-example-{}", std::process::id()));
    let path = match std::env::args().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            std::fs::create_dir_all(&dir)?;
            let p = dir.join("people.csv");
            let mut text = String::from("id,name,city,score\n");
            for i in 0..25_000 {
                text.push_str(&format!(
                    "{i},\"name {i}, jr\",city{},{}\n",
                    i % 40,
                    f64::from(i) / 8.0
                ));
            }
            std::fs::write(&p, text)?;
            p
        }
    };
    let loader = StreamingLoader::builder()
        .chunk_size(5_000)
        .memory_limit(1000 * MIB)
        .build()?;
    let mut stream = loader.stream(&path)?;
    for chunk in stream.by_ref() {
        let (batch, meta) = chunk?;
        println!(
            "chunk {:>3}: rows {:>6} from {:>8}, {:>9} bytes, {:>5.1} % read, RSS {:.1} MB",
            meta.index,
            batch.num_rows(),
            meta.start_row,
            meta.bytes,
            meta.progress * 100.0,
            mem_monitor::bytes_to_mb(meta.rss_bytes)
        );
    }
    for field in stream.schema().fields() {
        println!("{:<10} {}", field.name(), field.data_type());
    }
    let (head, _) = loader.sample(&path, 3)?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&[head])?);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
