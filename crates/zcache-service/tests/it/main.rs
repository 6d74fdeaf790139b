//! Integration tests of zcache-service (one binary, modules inside).

mod common;
mod crash;
mod service;
mod service_disk;
mod shared_tier;
