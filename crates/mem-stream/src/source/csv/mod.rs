//! CSV / TSV (optionally gzip): a splitter thread cuts the byte stream at record boundaries and
//! worker threads parse the blocks with Arrow's CSV decoder; results come back in file order.
//!
//! Memory is bounded by the channels and the blocks: at most `ORDER_CAP` blocks are between the
//! splitter and the consumer, whatever the file size, and a block is cut once its decoding could
//! cost the budget's chunk share (see `DecodeConfig::cost`); a single record that could cost
//! more than a record's share is an error naming its line.

mod columns;
mod decode;
mod direct;
mod fast_parse;
mod infer;
mod latin1;
mod split;
mod structural;

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, Sender, bounded};

use decode::{DecodeConfig, record_error};
pub(crate) use infer::infer;
use split::{Block, SplitError, Splitter};

use super::{BatchSource, OpenRequest, projection_indices};
use crate::error::{Result, StreamError};
use crate::options::Encoding;

/// Blocks in flight between the splitter and the consumer (parsed or being parsed).
const ORDER_CAP: usize = 4;

/// Offset sent with the splitter's end-of-input marker.
const END_OF_INPUT: u64 = u64::MAX;

/// A parsed block: its batch (none for a block of blank lines) and the source offset after it.
type Parsed = Result<(Option<RecordBatch>, u64)>;

/// Counts the bytes pulled from the input, for progress.
struct CountingReader {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

enum Mode {
    /// Parse on the caller's thread (samples, and after a fatal error).
    Inline {
        splitter: Box<Splitter>,
        remaining: Option<usize>,
        target: Arc<AtomicUsize>,
    },
    /// Splitter and workers on threads; receivers in file order.
    Parallel {
        order: Receiver<Receiver<Parsed>>,
    },
    Done,
}

/// A CSV/TSV reader.
pub(crate) struct CsvSource {
    config: Arc<DecodeConfig>,
    projected: SchemaRef,
    counter: Arc<AtomicU64>,
    delivered_offset: u64,
    total: u64,
    mode: Mode,
}

impl CsvSource {
    pub(crate) fn open(req: &OpenRequest<'_>, ext_delimiter: u8) -> Result<Self> {
        let path = req.path;
        let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        Self::from_reader(req, Box::new(file), total, ext_delimiter)
    }

    /// Reads CSV from `input` (`total` bytes, 0 when unknown); gzip is recognised by its magic
    /// bytes.
    pub(crate) fn from_reader(
        req: &OpenRequest<'_>,
        input: Box<dyn Read + Send>,
        total: u64,
        ext_delimiter: u8,
    ) -> Result<Self> {
        let path = req.path;
        let opts = req.csv.clone();
        let delimiter = opts.delimiter.unwrap_or(ext_delimiter);
        // The options were checked with their own delimiter, if any; check the one in force.
        opts.clone()
            .delimiter(delimiter)
            .validate()
            .map_err(|m| StreamError::InvalidConfig(format!("{}: {m}", path.display())))?;
        let counter = Arc::new(AtomicU64::new(0));
        let mut counting = CountingReader {
            inner: input,
            count: counter.clone(),
        };
        let mut head = [0u8; 2];
        let n = read_head(&mut counting, &mut head)
            .map_err(|e| StreamError::io(path, "cannot read", e))?;
        let head = head.get(..n).unwrap_or_default().to_vec();
        let gzip = head.starts_with(crate::format::GZIP_MAGIC);
        let rejoined = std::io::Cursor::new(head).chain(counting);
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(rejoined))
        } else {
            Box::new(rejoined)
        };
        let budget = req.budget;
        // Until the columns are known a record costs its bytes (and its parsing, about as much
        // again): the header and the inference rows are read under that bound.
        let record_max = usize::try_from(budget.record_max()).unwrap_or(usize::MAX);
        let head_cap = opts.max_record_bytes.min(record_max / 3);
        let mut splitter = Box::new(Splitter::new(reader, opts.quote, delimiter, head_cap));
        splitter.set_dialect(opts.escape, opts.comment);
        let header = usize::from(opts.has_header);
        let infer_rows = req
            .limit
            .map_or(opts.inference_rows, |l| l.clamp(1, opts.inference_rows));
        let infer_bytes = infer::inference_bytes(&opts, &budget);
        let read_error = |e: SplitError| record_error(path, &opts, &budget, head_cap, e);
        splitter
            .fill_records(infer_rows.saturating_add(header), infer_bytes)
            .map_err(read_error)?;
        let raw = splitter.buffered_complete();
        let text = match opts.encoding {
            Encoding::Latin1 => latin1::to_utf8(raw),
            _ => std::borrow::Cow::Borrowed(raw),
        };
        let head = infer(
            path,
            &text,
            usize::MAX,
            splitter.line(),
            delimiter,
            &opts,
            &budget,
        )?;
        let header_bytes = match opts.encoding {
            Encoding::Latin1 => latin1::raw_len(raw, head.header_bytes),
            _ => head.header_bytes,
        };
        drop(text);
        splitter.consume(header_bytes, head.header_lines);
        let names: Vec<String> = head
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let projection = req
            .projection
            .map(|p| projection_indices(path, &names, p))
            .transpose()?;
        let projected = match &projection {
            Some(p) => Arc::new(
                head.schema
                    .project(p)
                    .map_err(|e| StreamError::arrow(path, "projecting columns", e))?,
            ),
            None => head.schema.clone(),
        };
        tracing::debug!(path = %path.display(), columns = names.len(), rows = head.rows, "CSV schema inferred");
        let opts_nulls = opts.null_values.clone();
        let mut config = DecodeConfig {
            path: path.to_path_buf(),
            schema: head.schema,
            projection,
            delimiter,
            opts,
            inferred_rows: head.rows,
            budget,
            record_cap: 0,
            null_regex: decode::null_regex(path, &opts_nulls)?,
            direct: None,
        };
        config.direct = direct::Plan::new(
            &config.schema,
            config.projection.as_deref(),
            delimiter,
            &config.opts,
        );
        let cost = config.cost();
        let per_record = cost.per_record.saturating_add(cost.per_byte);
        if per_record > budget.record_max() {
            return Err(budget.over(
                path,
                None,
                format!("decoding a record of {} columns", names.len()),
                per_record,
                budget.record_max(),
                "read fewer columns (--columns) or raise the memory limit (--memory-limit-mb)",
            ));
        }
        let by_budget = (budget.record_max() - cost.per_record) / cost.per_byte;
        config.record_cap = config
            .opts
            .max_record_bytes
            .min(usize::try_from(by_budget).unwrap_or(usize::MAX));
        splitter.set_limits(cost, budget.chunk_target(), config.record_cap);
        let config = Arc::new(config);
        let mode = if req.parallel && req.limit.is_none() {
            spawn_pipeline(
                splitter,
                config.clone(),
                req.target_rows.clone(),
                counter.clone(),
            )?
        } else {
            Mode::Inline {
                splitter,
                remaining: req.limit,
                target: req.target_rows.clone(),
            }
        };
        Ok(Self {
            config,
            projected,
            counter,
            delivered_offset: 0,
            total,
            mode,
        })
    }
}

impl BatchSource for CsvSource {
    fn schema(&self) -> SchemaRef {
        self.projected.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            let parsed: Parsed = match &mut self.mode {
                Mode::Done => return None,
                Mode::Inline {
                    splitter,
                    remaining,
                    target,
                } => {
                    let want = target.load(Ordering::Relaxed).max(1);
                    let want = remaining.map_or(want, |r| want.min(r));
                    if want == 0 {
                        self.mode = Mode::Done;
                        return None;
                    }
                    match splitter.next_block(want) {
                        Ok(None) => {
                            self.mode = Mode::Done;
                            Ok((None, END_OF_INPUT))
                        }
                        Ok(Some(block)) => self.config.decode(&block).map(|b| {
                            // Count decoded rows, not splitter records: blank lines are no rows.
                            if let (Some(r), Some(b)) = (remaining.as_mut(), b.as_ref()) {
                                *r = r.saturating_sub(b.num_rows());
                            }
                            (b, self.counter.load(Ordering::Relaxed))
                        }),
                        Err(e) => Err(self.config.split_error(e)),
                    }
                }
                Mode::Parallel { order } => match order.recv() {
                    Err(_) => Err(StreamError::malformed(
                        &self.config.path,
                        None,
                        "the CSV reader thread stopped unexpectedly",
                    )),
                    Ok(rx) => rx.recv().unwrap_or_else(|_| {
                        Err(StreamError::malformed(
                            &self.config.path,
                            None,
                            "a CSV worker thread stopped unexpectedly",
                        ))
                    }),
                },
            };
            match parsed {
                Ok((Some(batch), offset)) => {
                    self.delivered_offset = offset;
                    return Some(Ok(batch));
                }
                Ok((None, offset)) => {
                    if offset == END_OF_INPUT {
                        self.mode = Mode::Done;
                    } else {
                        self.delivered_offset = offset;
                    }
                    if matches!(self.mode, Mode::Done) {
                        return None;
                    }
                }
                Err(e) => {
                    self.mode = Mode::Done;
                    return Some(Err(e));
                }
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        match (self.total, &self.mode) {
            // The size of a pipe is unknown: what was read of it.
            (0, Mode::Done) => self.counter.load(Ordering::Relaxed),
            (0, _) => self.delivered_offset,
            (_, Mode::Done) => self.total,
            _ => self.delivered_offset.min(self.total),
        }
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}

/// Fills `buf` as far as the input goes.
fn read_head(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn spawn_pipeline(
    mut splitter: Box<Splitter>,
    config: Arc<DecodeConfig>,
    target: Arc<AtomicUsize>,
    counter: Arc<AtomicU64>,
) -> Result<Mode> {
    let (order_tx, order_rx) = bounded::<Receiver<Parsed>>(ORDER_CAP);
    let (work_tx, work_rx) = bounded::<(Block, u64, Sender<Parsed>)>(1);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let spawn_err = |e| StreamError::io(&config.path, "cannot start a CSV worker thread", e);
    for i in 0..workers {
        let rx = work_rx.clone();
        let cfg = config.clone();
        std::thread::Builder::new()
            .name(format!("mem-stream-csv-{i}"))
            .spawn(move || {
                for (block, offset, reply) in rx {
                    let parsed = cfg.decode(&block).map(|b| (b, offset));
                    drop(block);
                    // The consumer may be gone; nothing to do then.
                    let _ = reply.send(parsed);
                }
            })
            .map_err(spawn_err)?;
    }
    let split_cfg = config.clone();
    std::thread::Builder::new()
        .name("mem-stream-csv-split".to_owned())
        .spawn(move || {
            loop {
                let want = target.load(Ordering::Relaxed).max(1);
                let (reply, rx) = bounded(1);
                let next = splitter.next_block(want);
                let offset = counter.load(Ordering::Relaxed);
                match next {
                    Ok(Some(block)) => {
                        if order_tx.send(rx).is_err()
                            || work_tx.send((block, offset, reply)).is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => {
                        // The end marker: without it the consumer reports a crashed reader.
                        let _ = reply.send(Ok((None, END_OF_INPUT)));
                        let _ = order_tx.send(rx);
                        return;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(split_cfg.split_error(e)));
                        let _ = order_tx.send(rx);
                        return;
                    }
                }
            }
        })
        .map_err(|e| StreamError::io(&config.path, "cannot start the CSV reader thread", e))?;
    Ok(Mode::Parallel { order: order_rx })
}
