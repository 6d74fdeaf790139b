//! Shrink Arrow record batches and numeric arrays losslessly; LRU cache with eviction callbacks; give freed memory back to the OS.
