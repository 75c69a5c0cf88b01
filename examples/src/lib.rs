//! # contiv-examples
//!
//! Small programs that embed contiv-rs crates directly; each is a binary in
//! `src/bin/` and compiles in CI.
