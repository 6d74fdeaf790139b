//! Integration tests of mem-optimize (one binary, modules inside).

mod array;
mod batch;
mod cache;
mod edges;
mod release;
mod size;
mod strategies;
mod stream;
