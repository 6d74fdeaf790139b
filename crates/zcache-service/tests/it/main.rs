//! Integration tests of zcache-service (one binary, modules inside).

mod common;
mod real_data;
mod service;
mod service_disk;
