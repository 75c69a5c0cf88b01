//! The "in use" summary strings of the original: maximal runs joined with
//! `", "`, a run of one value printed alone (`10.1.1.1-10.1.1.3, 10.1.1.254`,
//! `1-3, 10`).

use std::fmt::{Display, Write};

/// Formats runs `(first, last)` (inclusive, in order) as `a-b, c`.
pub fn format_runs<T, I>(runs: I) -> String
where
    T: Display + PartialEq,
    I: IntoIterator<Item = (T, T)>,
{
    let mut out = String::new();
    for (first, last) in runs {
        if !out.is_empty() {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = if first == last {
            write!(out, "{first}")
        } else {
            write!(out, "{first}-{last}")
        };
    }
    out
}

/// Groups sorted, distinct integers into maximal runs.
pub fn runs_of<I: IntoIterator<Item = u32>>(values: I) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for v in values {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(v) => *last = v,
            _ => runs.push((v, v)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_original() {
        assert_eq!(format_runs(runs_of([1, 2, 3, 10])), "1-3, 10");
        assert_eq!(format_runs(runs_of([])), "");
        assert_eq!(format_runs(runs_of([7])), "7");
        assert_eq!(format_runs(runs_of([4, 6])), "4, 6");
    }
}
