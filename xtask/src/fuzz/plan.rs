//! From a case index to a prepared case: which seed, which command, which mutations, and the
//! mutant's files in the worker's scratch directory. Everything comes from the case's own
//! generator, so case K is the same input whichever worker runs it, and in a `--case K` replay.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::corpus::{Corpus, Format, Seed};
use super::files::{copy_dir, hostile_entry};
use super::mutate::mutate;
use super::rng::Rng;

/// The CLI command a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// `membound stream FILE --json`.
    Stream,
    /// `membound stream FILE --json --memory-limit-mb 64`.
    StreamLimited,
    /// `membound preview FILE --rows 20`.
    Preview,
    /// `membound embeddings import NPY --texts JSONL --model fuzz --dir DIR`.
    Import,
    /// `membound cache verify --dir DIR`.
    Verify,
    /// `membound cache verify --dir DIR --repair` (removes the damaged entries it finds).
    VerifyRepair,
}

impl Command {
    /// Every command, in the order of the summary's rows.
    pub const ALL: [Command; 6] = [
        Command::Stream,
        Command::StreamLimited,
        Command::Preview,
        Command::Import,
        Command::Verify,
        Command::VerifyRepair,
    ];

    /// The command as shown in the summary.
    pub fn label(self) -> &'static str {
        match self {
            Command::Stream => "stream --json",
            Command::StreamLimited => "stream --json --memory-limit-mb 64",
            Command::Preview => "preview --rows 20",
            Command::Import => "embeddings import",
            Command::Verify => "cache verify",
            Command::VerifyRepair => "cache verify --repair",
        }
    }
}

/// A file or directory a case reads, kept beside a failure.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as it appears in the command line.
    pub arg: PathBuf,
    /// Where to copy it from when the case fails (differs from `arg` when the command changes
    /// its input, as `cache verify` removes corrupt entries).
    pub copy_from: PathBuf,
    /// The seed's name (extension included): kept as `<case>-<name>`.
    pub name: String,
}

/// One case, ready to run.
#[derive(Debug)]
pub struct Case {
    /// The case index.
    pub index: u64,
    /// What it runs.
    pub command: Command,
    /// The name of the mutated seed.
    pub seed_name: String,
    /// What was done to the seed.
    pub mutations: Vec<String>,
    /// The CLI arguments.
    pub args: Vec<OsString>,
    /// The inputs, the mutated one first.
    pub inputs: Vec<Input>,
    /// A fresh output directory in `args` (shown as `$(mktemp -d)` in a reproduction).
    pub out_dir: Option<PathBuf>,
}

/// Which seeds a case attacks, and how often (weights in percent).
#[derive(Debug, Clone, Copy)]
enum Group {
    Table(Format, u32),
    Import(u32),
    Verify(u32),
}

const GROUPS: [Group; 8] = [
    Group::Table(Format::Parquet, 20),
    Group::Table(Format::ArrowFile, 14),
    Group::Table(Format::ArrowStream, 7),
    Group::Table(Format::Csv, 14),
    Group::Table(Format::Tsv, 5),
    Group::Table(Format::CsvGz, 8),
    Group::Import(16),
    Group::Verify(16),
];

/// Prepares case `index` of a run with `seed` in `scratch` (emptied first).
pub fn prepare(corpus: &Corpus, seed: u64, index: u64, scratch: &Path) -> anyhow::Result<Case> {
    if scratch.exists() {
        std::fs::remove_dir_all(scratch)
            .with_context(|| format!("emptying {}", scratch.display()))?;
    }
    std::fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let mut rng = Rng::for_case(seed, index);
    let weights: Vec<u32> = GROUPS
        .iter()
        .map(|g| match *g {
            Group::Table(f, w) if !corpus.tables_of(f).is_empty() => w,
            Group::Import(w) if !corpus.npy.is_empty() => w,
            Group::Verify(w) if corpus.cache.is_some() => w,
            _ => 0,
        })
        .collect();
    let group = rng
        .weighted(&weights)
        .and_then(|i| GROUPS.get(i))
        .context("the corpus is empty")?;
    match *group {
        Group::Table(format, _) => table(corpus, format, index, scratch, &mut rng),
        Group::Import(_) => import(corpus, index, scratch, &mut rng),
        Group::Verify(_) => verify(corpus, index, scratch, &mut rng),
    }
}

/// Reads `seed`, mutates it and writes the mutant under its own name in `dir`.
fn mutant(seed: &Seed, dir: &Path, rng: &mut Rng) -> anyhow::Result<(PathBuf, Vec<String>)> {
    let mut data =
        std::fs::read(&seed.path).with_context(|| format!("reading {}", seed.path.display()))?;
    let mutations = mutate(&mut data, seed.format, rng);
    let path = dir.join(&seed.name);
    std::fs::write(&path, &data).with_context(|| format!("writing {}", path.display()))?;
    Ok((path, mutations))
}

/// `stream` or `preview` on a mutated table file.
fn table(
    corpus: &Corpus,
    format: Format,
    index: u64,
    scratch: &Path,
    rng: &mut Rng,
) -> anyhow::Result<Case> {
    let seeds = corpus.tables_of(format);
    let seed = *rng.pick(&seeds).context("no seed of this format")?;
    let command = match rng.weighted(&[45, 20, 35]) {
        Some(0) => Command::Stream,
        Some(1) => Command::StreamLimited,
        _ => Command::Preview,
    };
    let (path, mutations) = mutant(seed, scratch, rng)?;
    let mut args: Vec<OsString> = Vec::new();
    match command {
        Command::Preview => {
            args.extend([
                "preview".into(),
                path.clone().into(),
                "--rows".into(),
                "20".into(),
            ]);
        }
        _ => {
            args.extend(["stream".into(), path.clone().into(), "--json".into()]);
            if command == Command::StreamLimited {
                args.extend(["--memory-limit-mb".into(), "64".into()]);
            }
        }
    }
    Ok(Case {
        index,
        command,
        seed_name: seed.name.clone(),
        mutations,
        args,
        inputs: vec![Input {
            arg: path.clone(),
            copy_from: path,
            name: seed.name.clone(),
        }],
        out_dir: None,
    })
}

/// `embeddings import` with a mutated matrix (mostly) or mutated texts, into a fresh directory.
fn import(corpus: &Corpus, index: u64, scratch: &Path, rng: &mut Rng) -> anyhow::Result<Case> {
    // The 50-row pair keeps cases fast; the real 5k matrix now and then.
    let pair = if rng.percent(90) {
        corpus.npy.first()
    } else {
        corpus.npy.last()
    }
    .context("no embeddings seed")?;
    let (mutated, intact) = if rng.percent(75) {
        (&pair.npy, &pair.texts)
    } else {
        (&pair.texts, &pair.npy)
    };
    let (path, mutations) = mutant(mutated, scratch, rng)?;
    let (npy, texts) = if mutated.format == Format::Npy {
        (path.clone(), intact.path.clone())
    } else {
        (intact.path.clone(), path.clone())
    };
    let out = scratch.join("import-cache");
    let args: Vec<OsString> = vec![
        "embeddings".into(),
        "import".into(),
        npy.into(),
        "--texts".into(),
        texts.into(),
        "--model".into(),
        "fuzz".into(),
        "--dir".into(),
        out.clone().into(),
    ];
    Ok(Case {
        index,
        command: Command::Import,
        seed_name: mutated.name.clone(),
        mutations,
        args,
        inputs: vec![
            Input {
                arg: path.clone(),
                copy_from: path,
                name: mutated.name.clone(),
            },
            Input {
                arg: intact.path.clone(),
                copy_from: intact.path.clone(),
                name: intact.name.clone(),
            },
        ],
        out_dir: Some(out),
    })
}

/// `cache verify [--repair]` on a copy of the seed cache with one file mutated.
fn verify(corpus: &Corpus, index: u64, scratch: &Path, rng: &mut Rng) -> anyhow::Result<Case> {
    let (seed_dir, files) = corpus.cache.as_ref().context("no seed cache")?;
    let input = scratch.join("cache-input");
    copy_dir(seed_dir, &input)?;
    let mutations = if rng.percent(15) {
        vec![hostile_entry(&input, files, rng)?]
    } else {
        let file = rng.pick(files).context("empty seed cache")?;
        let target = Seed {
            name: file.to_string_lossy().into_owned(),
            path: input.join(file),
            format: Format::CacheFile,
        };
        let mut data = std::fs::read(&target.path)
            .with_context(|| format!("reading {}", target.path.display()))?;
        let mut mutations = mutate(&mut data, target.format, rng);
        std::fs::write(&target.path, &data)
            .with_context(|| format!("writing {}", target.path.display()))?;
        if let Some(first) = mutations.first_mut() {
            *first = format!("{}: {first}", target.name);
        }
        mutations
    };
    // `--repair` removes damaged entries: run on a copy, keep the input as it was.
    let run_dir = scratch.join("cache");
    copy_dir(&input, &run_dir)?;
    let mut args: Vec<OsString> = vec![
        "cache".into(),
        "verify".into(),
        "--dir".into(),
        run_dir.clone().into(),
    ];
    let command = if rng.percent(30) {
        args.push("--repair".into());
        Command::VerifyRepair
    } else {
        Command::Verify
    };
    Ok(Case {
        index,
        command,
        seed_name: "cache".to_owned(),
        mutations,
        args,
        inputs: vec![Input {
            arg: run_dir,
            copy_from: input,
            name: "cache".to_owned(),
        }],
        out_dir: None,
    })
}
