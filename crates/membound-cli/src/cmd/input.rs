//! How the commands that read a table (`stream`, `preview`, `optimize`) take their input: the
//! file or `-` for stdin, the format, the CSV dialect, and the loader's limits, with defaults
//! from `MEMBOUND_*` (or the guide's `BERTOPIC_*`) variables. Errors a flag can fix are
//! rewritten to name the flag.

use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use mem_stream::{
    ChunkStream, CsvOptions, Encoding, FileFormat, StreamError, StreamingLoader,
    StreamingLoaderBuilder,
};

/// What the CLI calls standard input in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// How to read the input: its format and, for CSV/TSV, its dialect.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Read the input as this format whatever its name says: csv, tsv, parquet, arrow
    /// (Feather / IPC file), arrows (IPC stream), xlsx, ods. Standard input (`-`) is CSV unless
    /// told otherwise (gzip is detected by its magic bytes).
    #[arg(long, value_parser = parse_format)]
    pub format: Option<FileFormat>,
    /// CSV field delimiter: one character, or `tab` (default: `,`, tab for .tsv).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The first CSV line is data, not column names (columns are then `column_1`, ...).
    #[arg(long)]
    pub no_header: bool,
    /// Values read as null in every CSV column, comma-separated (e.g. `N/A,NULL,-`); the empty
    /// field is always null.
    #[arg(long, value_delimiter = ',')]
    pub null_values: Vec<String>,
    /// CSV quote character (default `"`).
    #[arg(long, value_parser = parse_byte)]
    pub quote: Option<u8>,
    /// CSV escape character inside quoted fields (default: none; a quote is escaped by doubling).
    #[arg(long, value_parser = parse_byte)]
    pub escape: Option<u8>,
    /// CSV lines starting with this character are skipped (e.g. `#`).
    #[arg(long, value_parser = parse_byte)]
    pub comment: Option<u8>,
    /// CSV rows read to infer column types (default 10,000).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub infer_rows: Option<usize>,
    /// Column types instead of inferred ones, e.g. `id:int64,price:float64,zip:utf8`. Types:
    /// int8..int64, uint8..uint64, float32, float64, bool, utf8, date32, timestamp.
    #[arg(long, value_parser = parse_schema)]
    pub schema: Option<SchemaOverrides>,
    /// Text encoding of a CSV file: utf-8 (invalid bytes are an error naming the line) or
    /// latin-1 (ISO-8859-1, transcoded).
    #[arg(long, default_value = "utf-8", value_parser = parse_encoding)]
    pub encoding: Encoding,
    /// The sheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
}

fn parse_format(s: &str) -> Result<FileFormat, String> {
    s.parse::<FileFormat>().map_err(|e| e.to_string())
}

fn parse_byte(s: &str) -> Result<u8, String> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(format!("expected one ASCII character, got {s:?}")),
    }
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        other => parse_byte(other),
    }
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" => Ok(Encoding::Utf8),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Ok(Encoding::Latin1),
        _ => Err(format!("expected utf-8 or latin-1, got {s:?}")),
    }
}

/// `--schema`: column types that replace the inferred ones.
#[derive(Debug, Clone, Default)]
pub struct SchemaOverrides(pub Vec<(String, DataType)>);

fn parse_schema(s: &str) -> Result<SchemaOverrides, String> {
    s.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, ty) = part
                .rsplit_once(':')
                .ok_or_else(|| format!("expected column:type, got {part:?}"))?;
            let data_type = mem_stream::parse_data_type(ty.trim())
                .ok_or_else(|| format!("unknown type {:?} for column {:?}", ty.trim(), name))?;
            Ok((name.trim().to_owned(), data_type))
        })
        .collect::<Result<_, _>>()
        .map(SchemaOverrides)
}

impl ReadArgs {
    /// The CSV options these flags describe.
    fn csv_options(&self) -> CsvOptions {
        let mut o = CsvOptions::new()
            .header(!self.no_header)
            .encoding(self.encoding);
        if let Some(d) = self.delimiter {
            o = o.delimiter(d);
        }
        if !self.null_values.is_empty() {
            o = o.null_values(self.null_values.iter().cloned());
        }
        if let Some(q) = self.quote {
            o = o.quote(q);
        }
        if let Some(e) = self.escape {
            o = o.escape(e);
        }
        if let Some(c) = self.comment {
            o = o.comment(c);
        }
        if let Some(n) = self.infer_rows {
            o = o.inference_rows(n);
        }
        for (name, ty) in self.schema.iter().flat_map(|s| &s.0) {
            o = o.column_type(name.clone(), ty.clone());
        }
        o
    }

    /// Applies the format, the CSV dialect and the sheet to a loader builder.
    pub fn apply(&self, mut b: StreamingLoaderBuilder) -> StreamingLoaderBuilder {
        b = b.csv(self.csv_options());
        if let Some(f) = self.format {
            b = b.format(f);
        }
        if let Some(s) = &self.sheet {
            b = b.sheet(s.clone());
        }
        b
    }
}

/// The defaults of the loader flags: the environment's, else the guide's.
pub fn config() -> anyhow::Result<membound::Config> {
    Ok(membound::Config::from_env()?)
}

/// Loader settings shared by `stream` and `optimize`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoaderArgs {
    /// Rows per chunk (default 10,000, or `MEMBOUND_STREAMING_CHUNK_SIZE` /
    /// `BERTOPIC_STREAMING_CHUNK_SIZE`).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub chunk_size: Option<usize>,
    /// Memory limit in MB; chunks shrink when the process would exceed it (default 2000, or
    /// `MEMBOUND_MAX_MEMORY_MB` / `BERTOPIC_MAX_MEMORY_MB`).
    #[arg(long)]
    pub memory_limit_mb: Option<f64>,
    /// Only these columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Keep the types as read (no lossless shrinking).
    #[arg(long)]
    pub no_optimize: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl LoaderArgs {
    /// A loader builder with these settings, unset ones from the environment's [`config`].
    pub fn builder(&self) -> anyhow::Result<StreamingLoaderBuilder> {
        let config = config()?;
        let memory_mb = self.memory_limit_mb.unwrap_or(config.max_memory_mb);
        if !(memory_mb.is_finite() && memory_mb > 0.0) {
            anyhow::bail!("--memory-limit-mb must be a positive number, got {memory_mb}");
        }
        let mut b = StreamingLoader::builder()
            .chunk_size(self.chunk_size.unwrap_or(config.streaming_chunk_size))
            .memory_limit(mem_monitor::mb_to_bytes(memory_mb))
            .optimize(!self.no_optimize);
        if let Some(c) = &self.columns {
            b = b.projection(c.iter().map(|s| s.trim().to_owned()));
        }
        Ok(self.read.apply(b))
    }
}

/// The input of a command: a file, or standard input for `-`.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn new(path: &Path) -> Self {
        if path.as_os_str() == "-" {
            Self::Stdin
        } else {
            Self::File(path.to_path_buf())
        }
    }

    /// What messages call the input.
    pub fn name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => STDIN_NAME.to_owned(),
        }
    }

    /// The input's size in bytes, when known (for progress).
    pub fn len(&self) -> Option<u64> {
        match self {
            Self::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Self::Stdin => None,
        }
    }

    /// Streams the input with `loader`; standard input is CSV unless `format` says otherwise.
    pub fn stream(
        &self,
        loader: &StreamingLoader,
        format: Option<FileFormat>,
    ) -> anyhow::Result<ChunkStream> {
        let stream = match self {
            Self::File(p) => loader.stream(p),
            Self::Stdin => loader.stream_reader(
                std::io::stdin(),
                format.unwrap_or(FileFormat::Csv {
                    delimiter: b',',
                    gzip: false,
                }),
                STDIN_NAME,
            ),
        };
        stream.map_err(advise)
    }
}

/// Rewrites a library error whose advice names a Rust API into one that names the CLI flag.
pub fn advise(e: StreamError) -> anyhow::Error {
    match e {
        StreamError::CsvValue {
            path,
            line,
            column,
            value,
            expected,
            ..
        } => anyhow::anyhow!(
            "{}: line {line}, column {column:?}: {value:?} is not a valid {expected} (the type \
             inferred from the first rows); add --null-values {value:?} if it means a missing \
             value, --schema '{column}:utf8' to read the column as text, or --infer-rows N to \
             infer types from more rows",
            path.display()
        ),
        StreamError::InvalidUtf8 { path, line, .. } => anyhow::anyhow!(
            "{}: line {line} is not valid UTF-8; add --encoding latin-1 if the file is Latin-1",
            path.display()
        ),
        other => other.into(),
    }
}

/// Maps the errors of a running stream like [`advise`].
pub fn advise_item<T>(item: Result<T, StreamError>) -> anyhow::Result<T> {
    item.map_err(advise)
}
