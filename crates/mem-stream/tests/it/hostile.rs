//! Hostile Arrow IPC and Parquet files: lengths and offsets that lie, mutants that used to panic
//! inside arrow-rs or parquet. Each ends in one readable error line naming the file, never a
//! panic, and nothing is allocated because a file says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use mem_stream::{MIB, StreamError, StreamingLoader};

/// Streams `path` to the end and takes a sample; the first error of either, if any.
fn read(loader: &StreamingLoader, path: &Path) -> Option<StreamError> {
    let streamed = loader
        .stream(path)
        .and_then(|mut s| s.try_for_each(|item| item.map(|_| ())));
    let sampled = loader.sample(path, 5).map(|_| ());
    streamed.err().or(sampled.err())
}

/// The error must be one readable line naming the file, and not a caught panic.
fn assert_clean(e: &StreamError, path: &Path) {
    let msg = e.to_string();
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(name.as_ref()), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    for debug in ["ErrorTrace", " { ", "Some(", "\\\""] {
        assert!(!msg.contains(debug), "Debug formatting in {msg}");
    }
    assert!(
        !matches!(e, StreamError::DecoderPanic { .. }),
        "a decoder panic the checks should have prevented: {msg}"
    );
}

/// A conformance file shipped with the crate (`tests/fixtures`, same layout as the
/// repository's `testdata/conformance`).
fn conformance(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Single-byte mutants of the conformance files found by flipping bytes, each of which panicked
/// inside arrow-rs or parquet (or, for the first, allocated 2 GB) before the checks existed; the
/// comment names the upstream panic. `prevented`: the checks refuse it before decoding
/// (otherwise the panic is caught and reported as `DecoderPanic`).
/// A conformance file, the bytes to overwrite (offset, value), and whether it is prevented.
type Mutant = (&'static str, &'static [(usize, u8)], bool);

const MUTANTS: &[Mutant] = &[
    // A zstd buffer's body length: 2 GB zero-filled by arrow-ipc's `read_block`.
    (
        "arrow-ipc/2.0.0-compression/generated_zstd.arrow",
        &[(240, 0x10), (1211, 0x7f)],
        true,
    ),
    // arrow-buffer immutable.rs:299 "the offset of the new Buffer cannot exceed the existing length".
    (
        "arrow-ipc/1.0.0-littleendian/generated_custom_metadata.arrow",
        &[(1210, 0x7f), (1283, 0xcc), (1300, 0x14)],
        true,
    ),
    // arrow-ipc reader.rs:967 `unwrap()` of a negative block length.
    (
        "arrow-ipc/2.0.0-compression/generated_uncompressible_lz4.arrow",
        &[(85, 0x11), (408, 0x80), (679, 0x80)],
        true,
    ),
    // Not a panic, but arrow-ipc's error printed a `Field { .. }` Debug structure: a null column
    // whose array claims fewer nulls than values.
    (
        "arrow-ipc/1.0.0-littleendian/generated_null.arrow",
        &[(589, 0x7f), (840, 0x7f)],
        true,
    ),
    // parquet file/metadata/mod.rs:1043 "column start and length should not be negative".
    (
        "parquet/alltypes_dictionary.parquet",
        &[(182, 0x05), (1426, 0x7f)],
        true,
    ),
    // arrow-buffer immutable.rs:334 (`typed_data` of a misaligned offsets buffer, in
    // `ArrayData::validate` called by arrow-ipc).
    (
        "arrow-ipc/1.0.0-littleendian/generated_map.arrow",
        &[(472, 0x1d)],
        false,
    ),
    // parquet arrow/decoder/delta_byte_array.rs:101 "slice index starts at N but ends at N-1".
    (
        "parquet/delta_byte_array.parquet",
        &[(12514, 0x80), (35451, 0x7f), (64213, 0x8f)],
        false,
    ),
    // parquet column/reader/decoder.rs:374 "Decoder for dict should have been set".
    (
        "parquet/overflow_i16_page_cnt.parquet",
        &[
            (266019, 0x1b),
            (294980, 0x04),
            (312902, 0x80),
            (561628, 0x92),
        ],
        false,
    ),
    // parquet arrow/array_reader/map_array.rs:101 `unwrap()` "Not all children array length are
    // the same!".
    (
        "parquet/nested_maps.snappy.parquet",
        &[(159, 0x11), (1284, 0x7f)],
        false,
    ),
    // arrow-buffer util/bit_chunk_iterator.rs:235 "offset + len out of bounds" (parquet
    // definition levels).
    (
        "parquet/byte_array_decimal.parquet",
        &[(27, 0x7f), (180, 0x60), (198, 0x7f), (309, 0x00)],
        false,
    ),
    // parquet column/page.rs:365 `unwrap()` of a missing data page header (in the chunk repair's
    // page walk).
    (
        "parquet/alltypes_dictionary.parquet",
        &[(5, 0x00), (802, 0x80)],
        false,
    ),
    // parquet column/page.rs:378 `unwrap()` of a missing v2 data page header.
    (
        "parquet/plain-dict-uncompressed-checksum.parquet",
        &[(72, 0x80), (186, 0x7f), (321, 0x00), (774, 0x13)],
        false,
    ),
];

#[test]
fn mutants_that_panicked_upstream_end_in_one_error_line() {
    let d = tempfile::tempdir().unwrap();
    let loader = StreamingLoader::builder().chunk_size(7).build().unwrap();
    for (i, (rel, patches, prevented)) in MUTANTS.iter().enumerate() {
        let mut bytes = std::fs::read(conformance(rel)).unwrap();
        for &(at, v) in *patches {
            bytes[at] = v;
        }
        let name = Path::new(rel).file_name().unwrap().to_string_lossy();
        let p = d.path().join(format!("m{i}-{name}"));
        std::fs::write(&p, &bytes).unwrap();
        let Some(e) = read(&loader, &p) else {
            // Where a panic is caught rather than prevented, it may be on a path the loader
            // does not take with these settings; reading the file is fine then.
            assert!(!prevented, "{rel}: read without an error");
            continue;
        };
        if *prevented {
            assert_clean(&e, &p);
        } else {
            let msg = e.to_string();
            assert!(msg.contains(name.as_ref()) && !msg.contains('\n'), "{msg}");
        }
    }
}

fn table(n: i64) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    let s: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("value {i}")),
    ));
    RecordBatch::try_from_iter([("id", ids), ("s", s)]).unwrap()
}

fn ipc_file(compression: Option<CompressionType>) -> Vec<u8> {
    let opts = IpcWriteOptions::default()
        .try_with_compression(compression)
        .unwrap();
    let mut out = Vec::new();
    let mut w = FileWriter::try_new_with_options(&mut out, &table(1).schema(), opts).unwrap();
    w.write(&table(500)).unwrap();
    w.write(&table(300)).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

/// Where things are in an IPC file: the footer, the first batch's block entry in it, and the
/// first batch's metadata and body.
struct Layout {
    footer: usize,
    block_entry: usize,
    meta: usize,
    meta_len: usize,
    body: usize,
    /// File offset of the first `Buffer` struct (offset, length) of the first batch.
    first_buffer: usize,
}

/// Byte position of `inner` within `outer` (a slice borrowed from it).
fn position(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn layout(bytes: &[u8]) -> Layout {
    let n = bytes.len();
    let footer_len = i32::from_le_bytes(bytes[n - 10..n - 6].try_into().unwrap()) as usize;
    let footer = n - 10 - footer_len;
    let fb = arrow::ipc::root_as_footer(&bytes[footer..n - 10]).unwrap();
    let blocks = fb.recordBatches().unwrap();
    let block_entry = footer + position(&bytes[footer..], blocks.bytes());
    let block = blocks.get(0);
    let meta = block.offset() as usize;
    let meta_len = block.metaDataLength() as usize;
    let message = arrow::ipc::root_as_message(&bytes[meta + 8..meta + meta_len]).unwrap();
    let buffers = message.header_as_record_batch().unwrap().buffers().unwrap();
    let first_buffer = position(bytes, buffers.bytes());
    Layout {
        footer,
        block_entry,
        meta,
        meta_len,
        body: meta + meta_len,
        first_buffer,
    }
}

fn put_i64(bytes: &mut [u8], at: usize, v: i64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Writes `bytes`, reads them with a 64 MB limit, and returns the error.
fn error_of(dir: &Path, name: &str, bytes: &[u8]) -> StreamError {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let loader = StreamingLoader::builder()
        .memory_limit(64 * MIB)
        .build()
        .unwrap();
    let e = read(&loader, &p).unwrap_or_else(|| panic!("{name} read without an error"));
    assert_clean(&e, &p);
    e
}

#[test]
fn ipc_lengths_are_checked_against_the_file_and_the_budget() {
    let d = tempfile::tempdir().unwrap();
    let good = ipc_file(None);
    let at = layout(&good);

    // The footer claims more bytes than the file has.
    let mut b = good.clone();
    let n = b.len();
    b[n - 10..n - 6].copy_from_slice(&i32::MAX.to_le_bytes());
    let e = error_of(d.path(), "footer_len.arrow", &b).to_string();
    assert!(e.contains("footer claims 2147483647 bytes"), "{e}");

    // A footer that is not a flatbuffer: one readable line.
    let mut b = good.clone();
    b[at.footer..at.footer + 8].fill(0xEE);
    let e = error_of(d.path(), "footer_garbage.arrow", &b).to_string();
    assert!(e.contains("malformed Arrow IPC footer"), "{e}");

    // The first block's body runs past the end of the file (Block: offset i64, metaDataLength
    // i32 + padding, bodyLength i64).
    let mut b = good.clone();
    put_i64(&mut b, at.block_entry + 16, 1 << 40);
    let e = error_of(d.path(), "body_len.arrow", &b).to_string();
    assert!(e.contains("lies outside the file"), "{e}");

    // A negative block offset.
    let mut b = good.clone();
    put_i64(&mut b, at.block_entry, -8);
    let e = error_of(d.path(), "offset.arrow", &b).to_string();
    assert!(e.contains("lies outside the file"), "{e}");

    // A buffer of the first batch lies outside its body.
    let mut b = good.clone();
    put_i64(&mut b, at.first_buffer, 1 << 20);
    let e = error_of(d.path(), "buffer.arrow", &b).to_string();
    assert!(
        e.contains("outside its") && e.contains("message body"),
        "{e}"
    );
    let mut b = good.clone();
    put_i64(&mut b, at.first_buffer + 8, i64::MAX);
    let e = error_of(d.path(), "buffer_len.arrow", &b).to_string();
    assert!(e.contains("outside its"), "{e}");
    assert!(at.meta + at.meta_len == at.body);
}

#[test]
fn compressed_lengths_past_the_budget_are_refused_before_decompressing() {
    let d = tempfile::tempdir().unwrap();
    for (codec, name) in [
        (CompressionType::LZ4_FRAME, "lz4.arrow"),
        (CompressionType::ZSTD, "zstd.arrow"),
    ] {
        let good = ipc_file(Some(codec));
        let at = layout(&good);
        // The values buffer of `id` (buffer 1; buffer 0, the validity bitmap, is empty):
        // claim 1 TiB decompressed.
        let offset = i64::from_le_bytes(good[at.first_buffer + 16..][..8].try_into().unwrap());
        let mut b = good.clone();
        put_i64(&mut b, at.body + offset as usize, 1 << 40);
        let e = error_of(d.path(), name, &b);
        assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
        assert!(e.to_string().contains("memory limit"), "{e}");
        // Negative lengths other than -1 (uncompressed) are malformed.
        let mut b = good.clone();
        put_i64(&mut b, at.body + offset as usize, -5);
        let e = error_of(d.path(), name, &b).to_string();
        assert!(e.contains("decompressed length of -5"), "{e}");
    }
}

#[test]
fn ipc_stream_message_lengths_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let mut good = Vec::new();
    let mut w = StreamWriter::try_new(&mut good, &table(1).schema()).unwrap();
    w.write(&table(100)).unwrap();
    w.finish().unwrap();
    drop(w);
    // The schema message's metadata length (after the continuation marker).
    let mut b = good.clone();
    b[4..8].copy_from_slice(&i32::MAX.to_le_bytes());
    let e = error_of(d.path(), "meta.arrows", &b).to_string();
    assert!(e.contains("bytes of metadata"), "{e}");
    // Cut inside the batch's body.
    let e = error_of(d.path(), "cut.arrows", &good[..good.len() - 40]).to_string();
    assert!(
        e.contains("bytes are left") || e.contains("cannot read"),
        "{e}"
    );
    // Garbage metadata.
    let mut b = good.clone();
    b[8..24].fill(0xAB);
    let e = error_of(d.path(), "garbage.arrows", &b).to_string();
    assert!(e.contains("malformed Arrow IPC message"), "{e}");
}

#[test]
fn an_ipc_batch_over_the_budget_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let big = RecordBatch::try_from_iter([(
        "id",
        Arc::new(Int64Array::from_iter_values(0..400_000)) as ArrayRef,
    )])
    .unwrap();
    let mut out = Vec::new();
    let mut w = FileWriter::try_new(&mut out, &big.schema()).unwrap();
    w.write(&big).unwrap();
    w.finish().unwrap();
    drop(w);
    let p = d.path().join("big.arrow");
    std::fs::write(&p, &out).unwrap();
    // 3.2 MB of values; a batch may take a quarter of the limit.
    let small = StreamingLoader::builder()
        .memory_limit(8 * MIB)
        .build()
        .unwrap();
    let e = read(&small, &p).unwrap();
    assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("record batch 0") && msg.contains("8 MB memory limit"),
        "{msg}"
    );
    let enough = StreamingLoader::builder()
        .memory_limit(64 * MIB)
        .build()
        .unwrap();
    assert!(read(&enough, &p).is_none());
}

#[test]
fn big_endian_blocks_are_checked_too() {
    let d = tempfile::tempdir().unwrap();
    let good = std::fs::read(conformance(
        "arrow-ipc/1.0.0-bigendian/generated_primitive.arrow",
    ))
    .unwrap();
    let n = good.len();
    let footer_len = i32::from_le_bytes(good[n - 10..n - 6].try_into().unwrap()) as usize;
    let footer = n - 10 - footer_len;
    let fb = arrow::ipc::root_as_footer(&good[footer..n - 10]).unwrap();
    let entry = footer + position(&good[footer..], fb.recordBatches().unwrap().bytes());
    let mut b = good.clone();
    put_i64(&mut b, entry + 16, 1 << 40);
    let e = error_of(d.path(), "be_body.arrow", &b).to_string();
    assert!(e.contains("lies outside the file"), "{e}");
}

/// A Parquet file of one `id` column (0..12,000) written with `props` into `dir/name`: its bytes
/// and the offset of its first data page.
fn id_parquet(
    dir: &Path,
    name: &str,
    props: parquet::file::properties::WriterProperties,
) -> (PathBuf, Vec<u8>, usize) {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..12_000));
    let batch = RecordBatch::try_from_iter([("id", ids)]).unwrap();
    let mut bytes = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let p = dir.join(name);
    std::fs::write(&p, &bytes).unwrap();
    let md = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&std::fs::File::open(&p).unwrap())
        .unwrap();
    let at = md.row_group(0).column(0).data_page_offset() as usize;
    (p, bytes, at)
}

/// A Parquet page header whose uncompressed size lies is refused before the reader allocates it
/// (it zero-fills that many bytes for snappy pages).
#[test]
fn parquet_page_sizes_are_checked_before_decompressing() {
    let d = tempfile::tempdir().unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .build();
    let (p, mut bytes, at) = id_parquet(d.path(), "page.parquet", props);
    // PageHeader { 1: type (i32), 2: uncompressed_page_size (i32, zigzag varint), .. }: 96 KB
    // of values take a three-byte varint; make it claim 1,000,000 bytes.
    assert_eq!(bytes[at], 0x15);
    assert_eq!(bytes[at + 2], 0x15);
    let z = 2_000_000u32;
    let varint = [
        (z & 0x7f) as u8 | 0x80,
        ((z >> 7) & 0x7f) as u8 | 0x80,
        (z >> 14) as u8,
    ];
    assert!(bytes[at + 3] & 0x80 != 0 && bytes[at + 4] & 0x80 != 0 && bytes[at + 5] & 0x80 == 0);
    bytes[at + 3..at + 6].copy_from_slice(&varint);
    std::fs::write(&p, &bytes).unwrap();
    // 1 MB: a page may take 256 KiB.
    let small = StreamingLoader::builder()
        .memory_limit(MIB)
        .build()
        .unwrap();
    let e = read(&small, &p).unwrap();
    assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("row group 0, column id, page 0"), "{msg}");
    // Within the budget the reader decodes the page from its real bytes (or finds the lie).
    if let Some(e) = read(&StreamingLoader::builder().build().unwrap(), &p) {
        assert_clean(&e, &p);
    }
}

/// A sample walks only the page headers of the rows it reads: a lying header in the last page of
/// a row group does not stop a 10-row preview (the reader never reads that page), while the
/// stream, which reads it, refuses it before decompressing.
#[test]
fn a_sample_walks_only_the_pages_it_reads() {
    let d = tempfile::tempdir().unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_write_batch_size(1000)
        .set_data_page_row_count_limit(1000)
        .build();
    let (p, mut bytes, at) = id_parquet(d.path(), "last-page.parquet", props);
    // Every page holds 1,000 values: the same header start (type 0, then the same uncompressed
    // size, a two-byte varint); the last match is the last page.
    let prefix = bytes[at..at + 5].to_vec();
    assert_eq!((prefix[0], prefix[2]), (0x15, 0x15));
    assert!(prefix[3] & 0x80 != 0 && prefix[4] & 0x80 == 0, "{prefix:?}");
    let last = bytes
        .windows(prefix.len())
        .rposition(|w| w == prefix.as_slice())
        .unwrap();
    assert!(last > at + 8000, "the file has one page only");
    // The last page claims 1,000,000 bytes (a three-byte varint in place of two: the header is
    // a byte longer, which the walk reads before anything else of the page).
    let z = 2_000_000u32;
    let varint = [
        (z & 0x7f) as u8 | 0x80,
        ((z >> 7) & 0x7f) as u8 | 0x80,
        (z >> 14) as u8,
    ];
    bytes.splice(last + 3..last + 5, varint);
    std::fs::write(&p, &bytes).unwrap();
    // 1 MB: a page may take 256 KiB.
    let small = StreamingLoader::builder()
        .memory_limit(MIB)
        .build()
        .unwrap();
    let (s, _) = small
        .sample(&p, 10)
        .expect("the preview reads the first page only");
    assert_eq!(s.num_rows(), 10);
    let e = small
        .stream(&p)
        .and_then(|mut s| s.try_for_each(|item| item.map(|_| ())))
        .unwrap_err();
    assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
}
