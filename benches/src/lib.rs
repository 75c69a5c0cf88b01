//! # contiv-benches
//!
//! Criterion benchmarks live in `benches/`; this library holds shared
//! fixtures (generated intent of a given size). Run them with
//! `cargo bench -p contiv-benches`; the numbers we record are in
//! `BENCHMARKS.md` at the repository root.
