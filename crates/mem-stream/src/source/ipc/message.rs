//! Arrow IPC messages checked before arrow-rs decodes them: arrow-rs trusts the lengths and
//! offsets in a message (it slices buffers out of the body with `Buffer::slice_with_length`,
//! which panics out of range, and sizes decompression output by the length prefix of each
//! compressed buffer), so every one is checked against the body and the memory budget first.
//! What cannot be checked cheaply is decoded under [`contain`](crate::guard::contain) and
//! validated by arrow's `ArrayData` checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::ArrayRef;
use arrow::buffer::{Buffer, MutableBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::{Message, MessageHeader};
use arrow::record_batch::RecordBatch;

use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::guard::{contain, one_line};

/// Bytes of the little-endian length prefix of every compressed IPC buffer.
pub(super) const PREFIX: usize = 8;

/// A flatbuffers verification error (multi-line `Display`, with a trace) on one line: the
/// description, then where it was found.
pub(crate) fn describe_flatbuffer_error(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or("malformed").trim_end_matches('.');
    let trace: Vec<&str> = lines
        .map(|l| l.trim_start_matches("while verifying ").trim())
        .collect();
    if trace.is_empty() {
        one_line(head)
    } else {
        one_line(&format!("{head} (in {})", trace.join(", in ")))
    }
}

/// Parses an encapsulated message: its flatbuffer after the continuation marker and length.
pub(crate) fn parse_message<'a>(path: &Path, meta: &'a [u8]) -> Result<Message<'a>> {
    let start = if meta.get(..4) == Some(&[0xFF; 4]) {
        8
    } else {
        4
    };
    let fb = meta
        .get(start..)
        .ok_or_else(|| StreamError::malformed(path, None, "truncated Arrow IPC message"))?;
    parse_flatbuffer(path, fb)
}

/// Parses a message's flatbuffer.
pub(crate) fn parse_flatbuffer<'a>(path: &Path, fb: &'a [u8]) -> Result<Message<'a>> {
    arrow::ipc::root_as_message(fb).map_err(|e| {
        StreamError::malformed(
            path,
            None,
            format!(
                "malformed Arrow IPC message: {}",
                describe_flatbuffer_error(&e)
            ),
        )
    })
}

/// A body of `len` bytes, after the caller checked `len` against the file and the budget. It is
/// read into a `Vec`'s spare capacity, not zero-filled first; the allocator aligns it to 16 bytes
/// (malloc's alignment on 64-bit targets), which covers every Arrow type's natural alignment, so
/// no buffer needs copying to be aligned (one that did would be copied by the decoder).
pub(crate) fn read_body(
    path: &Path,
    reader: &mut impl std::io::Read,
    len: usize,
) -> Result<MutableBuffer> {
    // Read into spare capacity: no zero-filling of a body (tens of MiB for a big batch) that
    // the read overwrites at once.
    use std::io::Read as _;
    let mut body = Vec::with_capacity(len);
    let read = reader
        .take(len as u64)
        .read_to_end(&mut body)
        .map_err(|e| StreamError::io(path, "cannot read", e))?;
    if read != len {
        return Err(StreamError::io(
            path,
            "cannot read",
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        ));
    }
    Ok(MutableBuffer::from(body))
}

/// The child fields whose arrays follow a column's own in an IPC batch (a dictionary's values
/// come in dictionary batches).
fn children(t: &DataType) -> Vec<&Field> {
    match t {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => vec![f.as_ref()],
        DataType::Struct(fields) => fields.iter().map(AsRef::as_ref).collect(),
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.as_ref()).collect(),
        DataType::RunEndEncoded(a, b) => vec![a.as_ref(), b.as_ref()],
        _ => Vec::new(),
    }
}

/// Walks `field`'s arrays (field nodes) in IPC order: each must exist, have no negative count,
/// no more nulls than values, and, in a column of type null, only nulls.
fn check_nodes(
    field: &Field,
    nodes: &mut impl Iterator<Item = (usize, arrow::ipc::FieldNode)>,
) -> std::result::Result<(), String> {
    let (i, node) = nodes
        .next()
        .ok_or_else(|| format!("column {:?} has no array in the batch", field.name()))?;
    let (len, nulls) = (node.length(), node.null_count());
    if len < 0 || nulls < 0 || nulls > len {
        return Err(format!(
            "Arrow IPC array {i} (column {:?}) claims {len} values of which {nulls} null",
            field.name()
        ));
    }
    if field.data_type() == &DataType::Null && nulls != len {
        return Err(format!(
            "Arrow IPC array {i} (column {:?}, of type null) claims {nulls} nulls among {len} values",
            field.name()
        ));
    }
    children(field.data_type())
        .into_iter()
        .try_for_each(|child| check_nodes(child, nodes))
}

/// Checks a record batch header against its body and its schema: the arrays the schema needs
/// (see [`check_nodes`]), every buffer inside the body, compressed buffers' decompressed
/// lengths sane; returns the bytes decoding will hold.
pub(crate) fn check_batch(
    path: &Path,
    rb: &arrow::ipc::RecordBatch<'_>,
    body: &[u8],
    schema: &Schema,
) -> Result<u64> {
    let bad = |m: String| StreamError::malformed(path, None, m);
    let mut nodes = rb.nodes().into_iter().flatten().copied().enumerate();
    for field in schema.fields() {
        check_nodes(field, &mut nodes).map_err(bad)?;
    }
    let extra = nodes.count();
    if extra > 0 {
        return Err(bad(format!(
            "an Arrow IPC batch holds {extra} more arrays than its schema needs"
        )));
    }
    if rb.length() < 0 {
        return Err(bad(format!(
            "an Arrow IPC batch claims {} rows",
            rb.length()
        )));
    }
    let compressed = rb.compression().is_some();
    let mut needed: u64 = 0;
    for (i, b) in rb.buffers().iter().flatten().enumerate() {
        let range = usize::try_from(b.offset())
            .ok()
            .zip(usize::try_from(b.length()).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.end <= body.len())
            .ok_or_else(|| {
                bad(format!(
                    "Arrow IPC buffer {i} (offset {}, length {}) lies outside its {}-byte message body",
                    b.offset(),
                    b.length(),
                    body.len()
                ))
            })?;
        let bytes = body.get(range).unwrap_or_default();
        let decoded = if !compressed || bytes.is_empty() {
            bytes.len() as u64
        } else {
            let prefix: [u8; PREFIX] = bytes
                .get(..PREFIX)
                .and_then(|p| p.try_into().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "compressed Arrow IPC buffer {i} is {} bytes, shorter than its length prefix",
                        bytes.len()
                    ))
                })?;
            match i64::from_le_bytes(prefix) {
                -1 => (bytes.len() - PREFIX) as u64,
                n => u64::try_from(n).map_err(|_| {
                    bad(format!(
                        "compressed Arrow IPC buffer {i} claims a decompressed length of {n}"
                    ))
                })?,
            }
        };
        needed = needed.saturating_add(decoded);
    }
    Ok(needed)
}

/// A field of the type of dictionary `id`'s values, as a dictionary batch encodes them.
fn dictionary_values(schema: &Schema, id: i64) -> Option<Field> {
    #[expect(
        deprecated,
        reason = "IPC dictionary ids live in the schema's fields in arrow 60"
    )]
    let fields = schema.fields_with_dict_id(id);
    match fields.first()?.data_type() {
        DataType::Dictionary(_, value) => Some(Field::new("", value.as_ref().clone(), true)),
        _ => None,
    }
}

/// Decodes the messages of one IPC file or stream after checking them, keeping the dictionaries.
pub(crate) struct MessageDecoder {
    path: PathBuf,
    /// Every field of the file, with dictionary ids.
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    dictionaries: HashMap<i64, ArrayRef>,
    budget: Budget,
    /// Record batches decoded so far, for messages.
    batches: usize,
}

impl MessageDecoder {
    pub(crate) fn new(
        path: &Path,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        budget: Budget,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            schema,
            projection,
            dictionaries: HashMap::new(),
            budget,
            batches: 0,
        }
    }

    /// The file being decoded.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a batch whose decoded buffers would take more than a batch's share.
    fn check_size(&self, what: String, needed: u64) -> Result<()> {
        let allowed = self.budget.batch_max();
        if needed > allowed {
            return Err(self.budget.over(
                &self.path,
                None,
                what,
                needed,
                allowed,
                crate::budget::RAISE_LIMIT,
            ));
        }
        Ok(())
    }

    /// Decodes the record batch `message` (the file's batch number `index`, for errors) with its
    /// `body`. Takes `&self`: the dictionaries are all known before a file's record batches, so
    /// several threads can decode a file's batches at once.
    pub(crate) fn record_batch(
        &self,
        index: usize,
        message: &Message<'_>,
        body: &Buffer,
    ) -> Result<RecordBatch> {
        let path = &self.path;
        let rb = message.header_as_record_batch().ok_or_else(|| {
            StreamError::malformed(path, None, "an Arrow IPC record batch without its header")
        })?;
        let needed = check_batch(path, &rb, body, &self.schema)?;
        self.check_size(format!("Arrow IPC record batch {index}"), needed)?;
        let version = message.version();
        // LZ4 buffers decompressed here, straight into place, when the frames allow.
        let plain = super::lz4::decompress(path, index, &rb, body, needed)?;
        let (rb, body) = match plain.as_ref().and_then(|p| Some((p.batch()?, &p.body))) {
            Some(decompressed) => decompressed,
            None => (rb, body),
        };
        contain(path, "Arrow IPC", || {
            arrow::ipc::reader::read_record_batch(
                body,
                rb,
                self.schema.clone(),
                &self.dictionaries,
                self.projection.as_deref(),
                &version,
            )
            .map_err(|e| StreamError::arrow(path, "decoding an Arrow IPC record batch", e))
        })
    }

    /// Decodes `message` with its `body`: a record batch, or `None` after a dictionary batch (or
    /// an empty message).
    pub(crate) fn decode(
        &mut self,
        message: &Message<'_>,
        body: &Buffer,
    ) -> Result<Option<RecordBatch>> {
        let path = self.path.clone();
        let version = message.version();
        match message.header_type() {
            MessageHeader::RecordBatch => {
                let index = self.batches;
                self.batches += 1;
                self.record_batch(index, message, body).map(Some)
            }
            MessageHeader::DictionaryBatch => {
                let db = message.header_as_dictionary_batch().ok_or_else(|| {
                    StreamError::malformed(
                        &path,
                        None,
                        "an Arrow IPC dictionary batch without its header",
                    )
                })?;
                let data = db.data().ok_or_else(|| {
                    StreamError::malformed(
                        &path,
                        None,
                        "an Arrow IPC dictionary batch without data",
                    )
                })?;
                let values = dictionary_values(&self.schema, db.id()).ok_or_else(|| {
                    StreamError::malformed(
                        &path,
                        None,
                        format!("Arrow IPC dictionary {} belongs to no column", db.id()),
                    )
                })?;
                let needed = check_batch(&path, &data, body, &Schema::new(vec![values]))?;
                let held: u64 = self
                    .dictionaries
                    .values()
                    .map(|a| a.get_array_memory_size() as u64)
                    .sum();
                self.check_size(
                    format!("Arrow IPC dictionary {}", db.id()),
                    held.saturating_add(needed),
                )?;
                let schema = self.schema.clone();
                contain(&path, "Arrow IPC", || {
                    arrow::ipc::reader::read_dictionary(
                        body,
                        db,
                        &schema,
                        &mut self.dictionaries,
                        &version,
                    )
                    .map_err(|e| StreamError::arrow(&path, "decoding an Arrow IPC dictionary", e))
                })?;
                Ok(None)
            }
            MessageHeader::NONE => Ok(None),
            other => Err(StreamError::malformed(
                &path,
                None,
                format!(
                    "unexpected Arrow IPC message {}",
                    other.variant_name().unwrap_or("of unknown type")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatbuffer_errors_fold_to_one_line() {
        let e = "Range [10, 20) is out of bounds.\n\twhile verifying table field `name` at position 4\n\twhile verifying vector element 0 at position 8\n";
        assert_eq!(
            describe_flatbuffer_error(&e),
            "Range [10, 20) is out of bounds (in table field `name` at position 4, in vector element 0 at position 8)"
        );
        assert_eq!(
            describe_flatbuffer_error(&"Too many tables.\n"),
            "Too many tables"
        );
    }
}
