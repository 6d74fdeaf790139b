//! One module per subcommand: each has an `Args` (clap) and a `run(Args) -> anyhow::Result<ExitCode>`.

pub mod cache;
pub mod embeddings;
pub mod input;
pub mod monitor;
pub mod optimize;
pub mod preview;
pub mod profile;
pub mod stream;
