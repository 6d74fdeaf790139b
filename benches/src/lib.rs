//! criterion micro-benchmarks for memkit live in `benches/`; this library is empty on purpose.
