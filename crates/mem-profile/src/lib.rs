//! Counting global allocator, memory profiling sessions, leak detection and HTML/JSON reports.
