//! CSV options for real-world files: null values, escape, comment, Latin-1, typed errors.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use mem_stream::{CsvOptions, Encoding, StreamError};

use crate::{plain, rows, stream_all, write};

/// `N/A` in an integer column at data row 200,002 (line 200,003), far beyond inference.
fn late_na(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::with_capacity(4 << 20);
    text.push_str("id,count,label\n");
    for i in 0..300_000u32 {
        let count = if i == 200_001 {
            "N/A".to_owned()
        } else {
            (i % 977).to_string()
        };
        text.push_str(&format!("{i},{count},x{}\n", i % 7));
    }
    write(dir, "late_na.csv", text)
}

#[test]
fn na_at_row_200002_is_a_typed_error_then_streams_with_null_values() {
    let d = tempfile::tempdir().unwrap();
    let p = late_na(d.path());
    let e = stream_all(&plain().build().unwrap(), &p).unwrap_err();
    let StreamError::CsvValue {
        path,
        line,
        column,
        value,
        expected,
        ..
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(path, &p);
    assert_eq!(
        (*line, column.as_str(), value.as_str()),
        (200_003, "count", "N/A")
    );
    assert_eq!(expected, &DataType::Int64);
    let msg = e.to_string();
    assert!(
        msg.contains("CsvOptions::null_values")
            && msg.contains("CsvOptions::column_type")
            && msg.contains("CsvOptions::inference_rows"),
        "{msg}"
    );

    let loader = plain()
        .csv(CsvOptions::new().null_values(["N/A"]))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(rows(&b), 300_000);
    let nulls: usize = b.iter().map(|b| b.column(1).null_count()).sum();
    assert_eq!(nulls, 1);
    assert_eq!(b[0].column(1).data_type(), &DataType::Int64);
    // With the default shrinking on too.
    let shrunk = mem_stream::StreamingLoader::builder()
        .csv(CsvOptions::new().null_values(["N/A"]))
        .build()
        .unwrap();
    assert_eq!(rows(&stream_all(&shrunk, &p).unwrap()), 300_000);
}

#[test]
fn null_values_apply_to_every_column_type() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "n.csv", "a,b,c\n1,x,2.5\nNA,-,NA\n-,y,\n3,NA,1\n");
    let loader = plain()
        .csv(CsvOptions::new().null_values(["NA", "-"]))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    let schema = b[0].schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        [&DataType::Int64, &DataType::Utf8, &DataType::Float64]
    );
    let counts: Vec<usize> = (0..3)
        .map(|c| b.iter().map(|x| x.column(c).null_count()).sum())
        .collect();
    assert_eq!(counts, [2, 2, 2]);
}

#[test]
fn comments_and_escapes_across_parallel_blocks() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("# exported by a tool\n# columns: id, text\nid,text\n");
    for i in 0..50_000 {
        if i % 1000 == 0 {
            text.push_str("# a comment line, with \"quotes\n");
        }
        text.push_str(&format!("{i},\"say \\\"hi\\\"\nline {i}\"\n"));
    }
    let p = write(d.path(), "c.csv", &text);
    let loader = plain()
        .chunk_size(777)
        .csv(CsvOptions::new().comment(b'#').escape(b'\\'))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(rows(&b), 50_000);
    let ids: Vec<i64> = b
        .iter()
        .flat_map(|x| x.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert!(ids.iter().copied().eq(0..50_000));
    // Comment lines count against a block's records: chunks hold at most the chunk size.
    assert!(b.iter().all(|x| x.num_rows() <= 777));
    let texts: Vec<String> = b
        .iter()
        .flat_map(|x| {
            let c = x.column(1).as_string::<i32>();
            (0..c.len())
                .map(|i| c.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(texts[4321], "say \"hi\"\nline 4321");
}

#[test]
fn latin1_is_transcoded_and_invalid_utf8_names_its_line() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = b"name,n\n".to_vec();
    for i in 0..5000 {
        bytes.extend_from_slice(format!("row{i},{i}\n").as_bytes());
    }
    bytes.extend_from_slice(b"caf\xE9 cr\xE8me,1\n");
    let p = write(d.path(), "l.csv", &bytes);
    let e = stream_all(&plain().chunk_size(1000).build().unwrap(), &p).unwrap_err();
    assert!(
        matches!(&e, StreamError::InvalidUtf8 { line: 5002, path } if path == &p),
        "{e:?}"
    );
    assert!(e.to_string().contains("Encoding::Latin1"), "{e}");
    let loader = plain()
        .csv(CsvOptions::new().encoding(Encoding::Latin1))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(rows(&b), 5001);
    let last = b.last().unwrap();
    let names = last.column(0).as_string::<i32>();
    assert_eq!(names.value(names.len() - 1), "café crème");
}

#[test]
fn latin1_header_is_transcoded_too() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "h.csv", b"\xE9t\xE9,n\n\xE0,1\n");
    let loader = plain()
        .csv(CsvOptions::new().encoding(Encoding::Latin1))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(b[0].schema().field(0).name(), "été");
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "à");
}

#[test]
fn conflicting_options_are_refused_at_build() {
    for opts in [
        CsvOptions::new().escape(b'"'),
        CsvOptions::new().comment(b'"'),
        CsvOptions::new().delimiter(b';').comment(b';'),
        CsvOptions::new().null_values(["a\nb"]),
    ] {
        let e = plain().csv(opts).build().unwrap_err();
        assert!(matches!(e, StreamError::InvalidConfig(_)), "{e}");
    }
    // The extension's delimiter is checked when the file is opened.
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "t.tsv", "a\tb\n1\t2\n");
    let loader = plain()
        .csv(CsvOptions::new().comment(b'\t'))
        .build()
        .unwrap();
    let e = loader.stream(&p).unwrap_err();
    assert!(
        matches!(e, StreamError::InvalidConfig(_)) && e.to_string().contains("t.tsv"),
        "{e}"
    );
}
