//! Small helpers for building user-facing messages.

/// Longest value (in characters) quoted verbatim in a message.
const MAX_QUOTED_CHARS: usize = 64;

/// `value` as a quoted, escaped string for a message, shortened with `…`
/// when it is long (a message never echoes a megabyte of input).
pub(crate) fn quoted(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{head:?}…")
    }
}

/// True if `s` is non-empty and only ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a decimal number of ASCII digits only (no sign, no spaces),
/// `None` if it is not one or does not fit in a `u64`.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if is_digits(s) { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(quoted("ab"), "\"ab\"");
        let q = quoted(&"x".repeat(1000));
        assert!(q.len() < 80 && q.ends_with('…'), "{q}");
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn digits_only() {
        assert_eq!(parse_digits("0042"), Some(42));
        assert_eq!(parse_digits("+1"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("99999999999999999999999"), None);
    }
}
