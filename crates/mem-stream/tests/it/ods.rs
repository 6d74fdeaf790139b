//! OpenDocument spreadsheets (`.ods`), zipped with the `zip` crate: types, chunks and `--sheet`.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;

use crate::{plain, rows, stream_all};

/// A typed ODS cell.
enum Cell<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Empty,
}

fn cell_xml(c: &Cell<'_>) -> String {
    match c {
        Cell::Text(s) => format!(
            r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#
        ),
        Cell::Number(v) => format!(
            r#"<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>"#
        ),
        Cell::Bool(b) => format!(
            r#"<table:table-cell office:value-type="boolean" office:boolean-value="{b}"><text:p>{b}</text:p></table:table-cell>"#
        ),
        Cell::Empty => "<table:table-cell/>".to_owned(),
    }
}

fn table_xml(name: &str, rows: &[Vec<Cell<'_>>]) -> String {
    let body: String = rows
        .iter()
        .map(|r| {
            let cells: String = r.iter().map(cell_xml).collect();
            format!("<table:table-row>{cells}</table:table-row>")
        })
        .collect();
    format!(r#"<table:table table:name="{name}">{body}</table:table>"#)
}

/// Two sheets: "People" (id, name, score with one empty cell, ok) then "Totals" (region, total).
pub fn write_ods(dir: &Path) -> PathBuf {
    use Cell::{Bool, Empty, Number, Text};
    let names = ["Ann", "Bob", "Cy", "Di", "Ed"];
    let mut people = vec![vec![Text("id"), Text("name"), Text("score"), Text("ok")]];
    for (i, name) in names.iter().enumerate() {
        let score = if i == 2 {
            Empty
        } else {
            Number(i as f64 + 0.25)
        };
        people.push(vec![
            Number(i as f64 + 1.0),
            Text(name),
            score,
            Bool(i % 2 == 0),
        ]);
    }
    let totals = vec![
        vec![Text("region"), Text("total")],
        vec![Text("north"), Number(10.0)],
        vec![Text("south"), Number(-3.0)],
        vec![Text("east"), Number(7.0)],
    ];
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>{}{}</office:spreadsheet></office:body></office:document-content>"#,
        table_xml("People", &people),
        table_xml("Totals", &totals)
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let p = dir.join("book.ods");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    // The mimetype comes first and uncompressed, as the OpenDocument spec requires.
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    for (name, body) in [
        ("META-INF/manifest.xml", manifest),
        ("content.xml", &content),
    ] {
        z.start_file(name, deflated).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    p
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(&batches[0].schema(), batches).unwrap()
}

#[test]
fn ods_first_sheet_types_values_and_chunks() {
    let d = tempfile::tempdir().unwrap();
    let p = write_ods(d.path());
    let loader = plain().chunk_size(2).build().unwrap();
    let batches = stream_all(&loader, &p).unwrap();
    assert_eq!(batches.len(), 3);
    assert_eq!(rows(&batches), 5);
    let b = concat(&batches);
    let schema = b.schema();
    let fields: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    assert_eq!(
        fields,
        [
            ("id", &DataType::Int64),
            ("name", &DataType::Utf8),
            ("score", &DataType::Float64),
            ("ok", &DataType::Boolean)
        ]
    );
    let ids: Vec<i64> = b.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let names: Vec<&str> = b.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, ["Ann", "Bob", "Cy", "Di", "Ed"]);
    let scores: Vec<Option<f64>> = b.column(2).as_primitive::<Float64Type>().iter().collect();
    assert_eq!(
        scores,
        [Some(0.25), Some(1.25), None, Some(3.25), Some(4.25)]
    );
    assert_eq!(b.column(2).null_count(), 1);
    let ok: Vec<Option<bool>> = b.column(3).as_boolean().iter().collect();
    assert_eq!(
        ok,
        [Some(true), Some(false), Some(true), Some(false), Some(true)]
    );
}

#[test]
fn ods_sheet_option_picks_the_second_sheet() {
    let d = tempfile::tempdir().unwrap();
    let p = write_ods(d.path());
    let loader = plain().sheet("Totals").build().unwrap();
    let b = concat(&stream_all(&loader, &p).unwrap());
    assert_eq!(b.num_rows(), 3);
    let schema = b.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["region", "total"]);
    let regions: Vec<&str> = b.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(regions, ["north", "south", "east"]);
    let totals: Vec<i64> = b.column(1).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(totals, [10, -3, 7]);
    let missing = plain().sheet("Nope").build().unwrap();
    let msg = missing.stream(&p).unwrap_err().to_string();
    assert!(msg.contains("Nope") && msg.contains("Totals"), "{msg}");
}
