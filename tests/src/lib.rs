//! Cross-crate end-to-end tests live in `it/`; this library only anchors the package.
