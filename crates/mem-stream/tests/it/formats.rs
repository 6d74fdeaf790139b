//! Parquet, Arrow IPC (file with LZ4/ZSTD, stream), and a workbook, written by real writers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Int64Type};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use mem_stream::{FileFormat, StreamingLoader, detect_format};

use crate::{plain, rows, stream_all};

fn table(n: i64, offset: i64) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(offset..offset + n));
    let names: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 5 != 0).then(|| format!("n{}", i % 9))),
    ));
    let vals: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..n).map(|i| i as f64 * 0.25),
    ));
    RecordBatch::try_from_iter([("id", ids), ("name", names), ("value", vals)]).unwrap()
}

fn write_parquet(dir: &Path) -> PathBuf {
    let p = dir.join("t.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(4000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        table(1, 0).schema(),
        Some(props),
    )
    .unwrap();
    for k in 0..5 {
        w.write(&table(2500, k * 2500)).unwrap();
    }
    w.close().unwrap();
    p
}

fn write_ipc_file(dir: &Path, name: &str, compression: Option<CompressionType>) -> PathBuf {
    let p = dir.join(name);
    let opts = IpcWriteOptions::default()
        .try_with_compression(compression)
        .unwrap();
    let mut w = FileWriter::try_new_with_options(
        std::fs::File::create(&p).unwrap(),
        &table(1, 0).schema(),
        opts,
    )
    .unwrap();
    for k in 0..4 {
        w.write(&table(3000, k * 3000)).unwrap();
    }
    w.finish().unwrap();
    p
}

fn check_ids(batches: &[RecordBatch], n: i64) {
    let all = concat_batches(&batches[0].schema(), batches).unwrap();
    let ids = arrow::compute::cast(all.column(0), &DataType::Int64).unwrap();
    let ids: Vec<i64> = ids.as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
}

#[test]
fn parquet_streams_projects_and_samples() {
    let d = tempfile::tempdir().unwrap();
    let p = write_parquet(d.path());
    assert_eq!(detect_format(&p).unwrap(), FileFormat::Parquet);
    let loader = plain().chunk_size(1000).build().unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert!(b.iter().all(|b| b.num_rows() <= 1000));
    check_ids(&b, 12_500);
    let proj = plain().projection(["value"]).build().unwrap();
    let b = stream_all(&proj, &p).unwrap();
    assert_eq!(b[0].num_columns(), 1);
    assert_eq!(rows(&b), 12_500);
    let limited = plain().chunk_size(1000).limit(2345).build().unwrap();
    assert_eq!(rows(&stream_all(&limited, &p).unwrap()), 2345);
    let (s, _) = StreamingLoader::builder()
        .build()
        .unwrap()
        .sample(&p, 10)
        .unwrap();
    assert_eq!(s.num_rows(), 10);
    // Optimised by default, with one schema for the whole stream.
    let opt = StreamingLoader::builder().chunk_size(3000).build().unwrap();
    let b = stream_all(&opt, &p).unwrap();
    assert!(b.windows(2).all(|w| w[0].schema() == w[1].schema()));
    assert_ne!(b[0].schema().field(0).data_type(), &DataType::Int64);
    check_ids(&b, 12_500);
}

/// A Parquet sample decodes its columns on several threads (where there are cores): the same
/// rows and values as the stream's, in schema order, with and without a projection, across
/// row groups and at a limit that ends mid-group.
#[test]
fn parquet_samples_match_the_stream() {
    let d = tempfile::tempdir().unwrap();
    let p = write_parquet(d.path());
    for columns in [None, Some(vec!["value", "id"]), Some(vec!["name"])] {
        let build = || {
            let b = plain();
            match &columns {
                Some(c) => b.projection(c.iter().copied()),
                None => b,
            }
        };
        let all = stream_all(&build().build().unwrap(), &p).unwrap();
        let all = concat_batches(&all[0].schema(), &all).unwrap();
        for n in [1, 999, 4000, 4321, 12_500] {
            let (s, _) = build().build().unwrap().sample(&p, n).unwrap();
            assert_eq!(s, all.slice(0, n), "{columns:?}, {n} rows");
        }
    }
}

#[test]
fn ipc_files_with_compression_and_streams() {
    let d = tempfile::tempdir().unwrap();
    for (name, c) in [
        ("plain.arrow", None),
        ("lz4.feather", Some(CompressionType::LZ4_FRAME)),
        ("zstd.arrow", Some(CompressionType::ZSTD)),
    ] {
        let p = write_ipc_file(d.path(), name, c);
        assert_eq!(detect_format(&p).unwrap(), FileFormat::ArrowFile);
        let b = stream_all(&plain().chunk_size(1024).build().unwrap(), &p).unwrap();
        assert!(b.iter().all(|b| b.num_rows() <= 1024));
        check_ids(&b, 12_000);
        let proj = stream_all(&plain().projection(["name", "id"]).build().unwrap(), &p).unwrap();
        assert_eq!(proj[0].schema().field(0).name(), "name");
    }
    // An IPC stream, named .arrows and named .arrow (detected by its first bytes).
    for name in ["s.arrows", "s2.arrow"] {
        let p = d.path().join(name);
        let mut w =
            StreamWriter::try_new(std::fs::File::create(&p).unwrap(), &table(1, 0).schema())
                .unwrap();
        w.write(&table(500, 0)).unwrap();
        w.write(&table(500, 500)).unwrap();
        w.finish().unwrap();
        assert_eq!(detect_format(&p).unwrap(), FileFormat::ArrowStream);
        let loader = plain().build().unwrap();
        let mut last = 0.0;
        let mut all = Vec::new();
        for item in loader.stream(&p).unwrap() {
            let (b, m) = item.unwrap();
            last = m.progress;
            all.push(b);
        }
        check_ids(&all, 1000);
        assert!((last - 1.0).abs() < 1e-9 || last > 0.9, "{last}");
    }
}

#[test]
fn load_whole_file_in_one_schema() {
    let d = tempfile::tempdir().unwrap();
    let p = write_ipc_file(d.path(), "l.arrow", None);
    let b = StreamingLoader::builder()
        .chunk_size(2000)
        .build()
        .unwrap()
        .load(&p)
        .unwrap();
    assert_eq!(b.num_rows(), 12_000);
    let est = StreamingLoader::builder()
        .build()
        .unwrap()
        .estimate_memory(&p)
        .unwrap();
    assert!(est > 0);
}

/// A minimal xlsx (inline strings, numbers, booleans), zipped with the `zip` crate.
pub fn write_xlsx(dir: &Path) -> PathBuf {
    let p = dir.join("book.xlsx");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let files: [(&str, String); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned(),
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml()),
    ];
    for (name, body) in files {
        z.start_file(name, opts).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    p
}

fn sheet_xml() -> String {
    let cell_s = |r: usize, c: char, s: &str| {
        format!(r#"<c r="{c}{r}" t="inlineStr"><is><t>{s}</t></is></c>"#)
    };
    let mut rows = format!(
        r#"<row r="1">{}{}{}{}</row>"#,
        cell_s(1, 'A', "id"),
        cell_s(1, 'B', "name"),
        cell_s(1, 'C', "score"),
        cell_s(1, 'D', "ok")
    );
    for i in 0..30usize {
        let r = i + 2;
        let score = if i == 7 {
            String::new()
        } else {
            format!(r#"<c r="C{r}"><v>{}</v></c>"#, i as f64 + 0.5)
        };
        rows.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}"><v>{i}</v></c>{}{score}<c r="D{r}" t="b"><v>{}</v></c></row>"#,
            cell_s(r, 'B', &format!("name {i}")),
            i % 2
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
    )
}

#[test]
fn xlsx_types_sheets_and_chunks() {
    let d = tempfile::tempdir().unwrap();
    let p = write_xlsx(d.path());
    let loader = plain().chunk_size(8).build().unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(b.len(), 4);
    assert_eq!(rows(&b), 30);
    let s = b[0].schema();
    let types: Vec<&DataType> = s.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        vec![
            &DataType::Int64,
            &DataType::Utf8,
            &DataType::Float64,
            &DataType::Boolean
        ]
    );
    assert_eq!(b[0].column(1).as_string::<i32>().value(3), "name 3");
    assert_eq!(b[0].column(2).null_count(), 1);
    let named = plain().sheet("Data").build().unwrap();
    assert_eq!(rows(&stream_all(&named, &p).unwrap()), 30);
    let missing = plain().sheet("Nope").build().unwrap();
    let msg = missing.stream(&p).unwrap_err().to_string();
    assert!(msg.contains("Nope") && msg.contains("Data"), "{msg}");
    let (head, _) = plain().build().unwrap().sample(&p, 3).unwrap();
    assert_eq!(head.num_rows(), 3);
}

#[test]
fn bad_files_are_clean_errors() {
    let d = tempfile::tempdir().unwrap();
    let loader = StreamingLoader::builder().build().unwrap();
    let cases: [(&str, &[u8]); 6] = [
        ("png.parquet", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("empty.parquet", b""),
        ("x.xyz", b"a,b\n1,2\n"),
        ("bin.csv", b"\0\x01\x02binary"),
        ("trunc.arrow", b"ARROW1\0\0\xff\xff"),
        ("bad.xlsx", b"PK\x03\x04garbage"),
    ];
    for (name, bytes) in cases {
        let p = crate::write(d.path(), name, bytes);
        let e = loader.stream(&p).err().map(|e| e.to_string()).or_else(|| {
            loader
                .stream(&p)
                .ok()
                .and_then(|mut s| s.find_map(Result::err))
                .map(|e| e.to_string())
        });
        let e = e.unwrap_or_else(|| panic!("{name} was accepted"));
        assert!(e.contains(name), "{name}: {e}");
    }
    let e = loader
        .stream(d.path().join("missing.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.csv"), "{e}");
    let e = loader.stream(d.path()).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
}

/// A stream decodes its column groups on threads of their own (where there are cores): the same
/// values as Parquet's own reader, with a nested column, with a projection, and with a batch size
/// that changes mid-stream (the group readers are rebuilt at the next row).
#[test]
fn parquet_streams_match_parquets_own_reader() {
    use arrow::array::{Int64Builder, ListBuilder};
    use mem_monitor::{FixedPressure, PressureLevel};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("nested.parquet");
    let with_tags = |k: i64| {
        let base = table(3000, k * 3000);
        let mut tags = ListBuilder::new(Int64Builder::new());
        for i in 0..3000 {
            for t in 0..(i % 4) {
                tags.values().append_value(k * 10 + t);
            }
            tags.append(i % 7 != 0);
        }
        let mut columns = base.columns().to_vec();
        columns.insert(1, Arc::new(tags.finish()) as ArrayRef);
        let names = ["id", "tags", "name", "value"];
        RecordBatch::try_from_iter(names.into_iter().zip(columns)).unwrap()
    };
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(4000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        with_tags(0).schema(),
        Some(props),
    )
    .unwrap();
    for k in 0..4 {
        w.write(&with_tags(k)).unwrap();
    }
    w.close().unwrap();
    let theirs = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&p).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let theirs = concat_batches(&theirs[0].schema(), &theirs).unwrap();
    for columns in [None, Some(vec!["value", "tags"])] {
        let level = Arc::new(FixedPressure::new(PressureLevel::Low));
        let mut b = plain()
            .chunk_size(1000)
            .min_chunk_size(125)
            .pressure(level.clone());
        if let Some(c) = &columns {
            b = b.projection(c.iter().copied());
        }
        let mut ours = Vec::new();
        for (i, chunk) in b.build().unwrap().stream(&p).unwrap().enumerate() {
            ours.push(chunk.unwrap().0);
            match i {
                2 => level.set(PressureLevel::High),
                6 => level.set(PressureLevel::Low),
                _ => {}
            }
        }
        assert!(
            ours.iter().any(|b| b.num_rows() == 125),
            "the batch size never changed"
        );
        let ours = concat_batches(&ours[0].schema(), &ours).unwrap();
        let expected = match &columns {
            // The file's column order, whatever the projection's.
            Some(_) => theirs.project(&[1, 3]).unwrap(),
            None => theirs.clone(),
        };
        assert_eq!(ours, expected, "{columns:?}");
    }
}
