//! Table scenarios on the benchmark CSV and its Parquet/Feather copies: full load vs streaming,
//! default vs optimized storage, preview.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use mem_optimize::{OptimizeOptions, batch_memory_size, optimize_batch};
use mem_stream::StreamingLoader;
use serde_json::json;

use super::arg;

/// A loader without a memory limit, default (inferred) types: the "before" of every table row.
fn plain_loader() -> anyhow::Result<StreamingLoader> {
    Ok(StreamingLoader::builder()
        .memory_limit(u64::MAX)
        .optimize(false)
        .build()?)
}

/// Full load of the whole file into one batch, default types (the pandas `read_csv` way).
pub fn load_full(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(arg(args, "--path")?);
    let start = Instant::now();
    let batch = plain_loader()?
        .load(path)
        .with_context(|| format!("loading {}", path.display()))?;
    let elapsed = start.elapsed();
    Ok(json!({
        "rows": batch.num_rows(),
        "arrow_bytes": batch_memory_size(&batch),
        "elapsed_s": elapsed.as_secs_f64(),
    }))
}

/// Streams the whole file at the default chunk size with lossless optimisation, dropping each
/// chunk after looking at it (the way an application processes a big file).
pub fn stream(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(arg(args, "--path")?);
    let loader = StreamingLoader::builder().build()?;
    let start = Instant::now();
    let (mut rows, mut chunks, mut max_chunk_bytes) = (0usize, 0usize, 0usize);
    for chunk in loader.stream(path)? {
        let (batch, meta) = chunk?;
        rows += batch.num_rows();
        chunks += 1;
        max_chunk_bytes = max_chunk_bytes.max(meta.bytes);
    }
    Ok(json!({
        "rows": rows,
        "chunks": chunks,
        "max_chunk_bytes": max_chunk_bytes,
        "elapsed_s": start.elapsed().as_secs_f64(),
    }))
}

/// The whole table in memory with default-inferred types, then optimized losslessly: Arrow bytes
/// before and after, split into the text column and the rest.
pub fn storage(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(arg(args, "--path")?);
    let batch = plain_loader()?.load(path)?;
    let start = Instant::now();
    let (optimized, report) = optimize_batch(&batch, &OptimizeOptions::default())?;
    let optimize_s = start.elapsed().as_secs_f64();
    let (mut text_before, mut text_after) = (0usize, 0usize);
    let mut columns = Vec::new();
    for c in &report.columns {
        if c.name == "text" {
            text_before += c.bytes_before;
            text_after += c.bytes_after;
        }
        columns.push(json!({
            "name": c.name,
            "before": c.type_before.to_string(),
            "after": c.type_after.to_string(),
            "bytes_before": c.bytes_before,
            "bytes_after": c.bytes_after,
        }));
    }
    Ok(json!({
        "rows": batch.num_rows(),
        "bytes_before": batch_memory_size(&batch),
        "bytes_after": batch_memory_size(&optimized),
        "text_bytes_before": text_before,
        "text_bytes_after": text_after,
        "optimize_s": optimize_s,
        "columns": columns,
    }))
}

/// Preview of the first rows: full load then head ("before") or `sample` ("after").
pub fn preview(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(arg(args, "--path")?);
    let rows: usize = arg(args, "--rows")?.parse()?;
    let how = arg(args, "--how")?;
    let start = Instant::now();
    let got = match how {
        "full-then-head" => plain_loader()?.load(path)?.slice(0, rows).num_rows(),
        "sample" => StreamingLoader::builder()
            .build()?
            .sample(path, rows)?
            .0
            .num_rows(),
        other => anyhow::bail!("unknown preview method {other}"),
    };
    Ok(json!({ "rows": got, "elapsed_s": start.elapsed().as_secs_f64() }))
}
