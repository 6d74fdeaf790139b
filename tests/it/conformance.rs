//! The public Apache test files in `testdata/conformance`: readable ones stream with the expected
//! rows and columns; unreadable ones give a clean error naming the file.

use std::path::PathBuf;

use membound::stream::StreamingLoader;

fn root() -> PathBuf {
    membound_tests::testdata("conformance")
}

#[test]
fn conformance_files() {
    // Allocates tens of MB: kept out of the way of the tests that measure this process.
    let _serial = crate::serial();
    let expected = root().join("expected.json");
    let text = std::fs::read_to_string(&expected)
        .unwrap_or_else(|e| panic!("{}: {e} (testdata/ of the repository)", expected.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = json["files"].as_array().unwrap();
    assert!(files.len() > 60);
    let loader = StreamingLoader::builder().build().unwrap();
    let plain = StreamingLoader::builder().optimize(false).build().unwrap();
    let mut failures = Vec::new();
    for f in files {
        let name = f["file"].as_str().unwrap();
        let path = root().join(name);
        for l in [&loader, &plain] {
            let result: membound::stream::Result<(usize, Vec<String>)> = (|| {
                let mut s = l.stream(&path)?;
                let mut rows = 0;
                for item in s.by_ref() {
                    rows += item?.0.num_rows();
                }
                Ok((
                    rows,
                    s.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect(),
                ))
            })();
            let readable = f["readable"].as_bool().unwrap_or(false);
            match result {
                Ok((rows, names)) if readable => {
                    let want_rows = f["rows"].as_u64().unwrap() as usize;
                    let want: Vec<String> = f["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["name"].as_str().unwrap().to_owned())
                        .collect();
                    if rows != want_rows || names != want {
                        failures.push(format!(
                            "{name}: {rows} rows {names:?}, expected {want_rows} {want:?}"
                        ));
                    }
                }
                Ok(_) => {} // refusing or reading a bad file are both fine; it must not panic
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(path.file_name().unwrap().to_str().unwrap()),
                        "{msg}"
                    );
                    if readable {
                        failures.push(format!("{name}: {msg}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The two repaired Apache files read with pyarrow's values, not just its row counts.
#[test]
fn repaired_parquet_files_read_pyarrows_values() {
    // Allocates tens of MB: kept out of the way of the tests that measure this process.
    let _serial = crate::serial();
    use arrow::array::{AsArray, RecordBatch};
    use arrow::compute::{concat_batches, sum};
    use arrow::datatypes::Int32Type;

    let read = |name: &str| -> RecordBatch {
        let path = root().join("parquet").join(name);
        let loader = StreamingLoader::builder().optimize(false).build().unwrap();
        let mut stream = loader.stream(&path).unwrap();
        let mut batches = Vec::new();
        for item in stream.by_ref() {
            batches.push(item.unwrap().0);
        }
        concat_batches(&stream.schema(), &batches).unwrap()
    };
    // Footer with a list where `bloom_filter_length` belongs, dictionary page offset 0.
    let b = read("dict-page-offset-zero.parquet");
    let keys = b.column(0).as_primitive::<Int32Type>();
    assert_eq!(
        (keys.len(), keys.value(0), sum(keys)),
        (39, 1552, Some(60528))
    );
    // Dictionary columns whose chunk sizes leave out the dictionary page header.
    let b = read("nation.dict-malformed.parquet");
    assert_eq!(b.num_rows(), 25);
    assert_eq!(sum(b.column(0).as_primitive::<Int32Type>()), Some(300));
    assert_eq!(sum(b.column(2).as_primitive::<Int32Type>()), Some(50));
    let names = b.column(1).as_binary::<i32>();
    assert_eq!(names.value(0), b"ALGERIA");
    assert_eq!(names.value(2), b"BRAZIL");
    let comments = b.column(3).as_binary::<i32>();
    assert!(
        comments
            .value(24)
            .starts_with(b"y final packages. slow foxes c")
    );
}
