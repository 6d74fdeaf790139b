//! Compressed two-tier (memory + disk) cache with LZ4, GZIP, ZSTD and byte-shuffle codecs.
