//! # contiv-benches
//!
//! Criterion benchmarks live in `benches/`; this library holds shared
//! fixtures (generated intent of a given size). Run them with
//! `cargo bench -p contiv-benches`; the numbers we record are in
//! `BENCHMARKS.md` at the repository root.

use std::time::Duration;

/// Prints `name`'s latency distribution: count, p50, p90, p99 and max, in
/// milliseconds (nothing for an empty sample).
pub fn print_percentiles(name: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        ms(v[i])
    };
    println!(
        "{name:<48} n={:<4} p50={:7.1}ms p90={:7.1}ms p99={:7.1}ms max={:7.1}ms",
        v.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        ms(v[v.len() - 1])
    );
}

/// The positional numeric arguments of a bench (`cargo bench … -- 3 300`;
/// flags such as `--bench` skipped).
pub fn numeric_args() -> Vec<usize> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect()
}
