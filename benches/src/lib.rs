//! criterion micro-benchmarks for membound live in `benches/`; this library is empty on purpose.
