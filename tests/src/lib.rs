//! Cross-crate end-to-end tests live in `it/`. This library holds the one helper the
//! unpublished members (tests, benches, xtask) use to find the repository's `testdata/` folder,
//! and runs the examples of `docs/guide.md` as doctests.

use std::path::{Path, PathBuf};

/// The workspace root: the folder holding the workspace `Cargo.toml` and `testdata/`.
///
/// Found from this crate's manifest directory at compile time, so it works from any current
/// directory (tests, benches and xtask all run with different ones).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// A path under the repository's `testdata/` folder (the public conformance files and the real
/// embeddings with their texts; see `testdata/README.md`).
///
/// ```
/// let npy = membound_tests::testdata("embeddings/minilm-5k.npy");
/// assert!(npy.is_file());
/// ```
pub fn testdata(relative: impl AsRef<Path>) -> PathBuf {
    workspace_root().join("testdata").join(relative)
}

/// The examples of `docs/guide.md`, run as doctests (the guide is not part of any published crate).
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
mod guide {}
