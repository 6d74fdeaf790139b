//! Embeddings cache on zcache: lossless or f16/int8 precision, texts alongside, .npy interop.
