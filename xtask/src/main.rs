//! `cargo xtask bench`: measures the seed's tables on this machine.
fn main() {}
