//! Tests of CSV type inference and of locating a bad value.

use super::*;

fn infer_str(s: &str) -> SchemaRef {
    infer(
        Path::new("t.csv"),
        s.as_bytes(),
        usize::MAX,
        1,
        b',',
        &CsvOptions::default(),
        &Budget::new(1 << 30),
    )
    .unwrap()
    .schema
}

#[test]
fn infers_types() {
    let s = infer_str(
        "i,big,u,f,b,d,ts,s,n,nan\n\
         1,9000000000,18446744073709551615,1.5,true,2024-01-02,2024-01-02T03:04:05,x,,NaN\n\
         -2,1,1,2,False,2024-12-31,2024-01-02 03:04:05.123,y,,inf\n",
    );
    let types: Vec<DataType> = s.fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Int64,
            DataType::UInt64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Utf8,
            DataType::Utf8,
            DataType::Float64,
        ]
    );
}

#[test]
fn header_names_are_unique() {
    let s = infer_str("a,a,,b\n1,2,3,4\n");
    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, vec!["a", "a.1", "column_3", "b"]);
}

#[test]
fn mixed_kinds_fall_back() {
    let s =
        infer_str("a,b,c,d\n1,2020-01-01,1,-1\nx,2020-01-01T00:00:00,2.5,18446744073709551615\n");
    let types: Vec<DataType> = s.fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(
        types,
        vec![
            DataType::Utf8,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Float64,
            DataType::Decimal128(20, 0)
        ]
    );
}

#[test]
fn locates_bad_value() {
    let schema = infer_str("a,b\n1,x\n");
    let e = locate_mismatch(
        Path::new("t.csv"),
        b"2,y\n\"3\nz\",w\noops,v\n",
        10,
        &schema,
        b',',
        &CsvOptions::default(),
        10,
    )
    .unwrap();
    let msg = e.to_string();
    assert!(msg.contains("line 11") || msg.contains("line 12"), "{msg}");
    let e = locate_mismatch(
        Path::new("t.csv"),
        b"2,y\n3,z\noops,v\n",
        10,
        &schema,
        b',',
        &CsvOptions::default(),
        10,
    )
    .unwrap()
    .to_string();
    assert!(
        e.contains("line 12")
            && e.contains("\"a\"")
            && e.contains("oops")
            && e.contains("CsvOptions::null_values")
            && e.contains("CsvOptions::inference_rows"),
        "{e}"
    );
}

#[test]
fn null_values_are_null_in_inference_and_checks() {
    let opts = CsvOptions::default().null_values(["N/A"]);
    let head = infer(
        Path::new("t.csv"),
        b"a,b\n1,N/A\nN/A,2.5\n",
        usize::MAX,
        1,
        b',',
        &opts,
        &Budget::new(1 << 30),
    )
    .unwrap();
    let types: Vec<&DataType> = head.schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(types, [&DataType::Int64, &DataType::Float64]);
    let check =
        |block: &[u8]| locate_mismatch(Path::new("t.csv"), block, 1, &head.schema, b',', &opts, 2);
    assert!(check(b"N/A,N/A\n3,\n").is_none());
    let e = check(b"1,1\nNA,1\n").unwrap();
    assert!(
        matches!(&e, StreamError::CsvValue { line: 2, column, value, expected: DataType::Int64, .. }
            if column == "a" && value == "NA"),
        "{e:?}"
    );
    let e = check(b"1,1\n2,\xff\n").unwrap();
    assert!(
        matches!(e, StreamError::InvalidUtf8 { line: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn comments_and_escapes_follow_the_options() {
    let opts = CsvOptions::default().comment(b'#').escape(b'\\');
    let head = infer(
        Path::new("t.csv"),
        b"# a comment, with, commas\nx,y\n#1,2,3\n1,\"a\\\"b\"\n",
        usize::MAX,
        1,
        b',',
        &opts,
        &Budget::new(1 << 30),
    )
    .unwrap();
    let names: Vec<&str> = head
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["x", "y"]);
    assert_eq!(head.header_lines, 2);
    assert_eq!(head.rows, 1);
}
