//! Status and error lines in the format of the logrus version the original
//! netctl was built with.
//!
//! On a terminal: `INFO[0000] <message padded to 44> ` in colour, where the
//! number is the seconds since netctl started. Otherwise:
//! `time="<RFC 3339>" level=info msg="<message>" ` — values are quoted only
//! when they hold a character outside `[A-Za-z0-9.-]`, and quoted values are
//! written raw (a message ending in a newline keeps it, as in the golden
//! output `msg="network not found\n" `). Every line ends with a space and a
//! newline.

use std::time::{SystemTime, UNIX_EPOCH};

/// The levels netctl prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Progress messages (`Creating network default:web`).
    Info,
    /// Failures.
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Error => "error",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Error => "ERRO",
        }
    }

    fn colour(self) -> u8 {
        match self {
            Level::Info => 36,
            Level::Error => 31,
        }
    }
}

/// Formats one log line (including its final newline).
///
/// `tty` selects the coloured terminal format; `elapsed_secs` is the time
/// since start printed there; `now` is the timestamp of the plain format.
pub fn format_line(
    level: Level,
    msg: &str,
    tty: bool,
    elapsed_secs: u64,
    now: SystemTime,
) -> String {
    if tty {
        format!(
            "\x1b[{}m{}\x1b[0m[{:04}] {:<44} \n",
            level.colour(),
            level.tag(),
            elapsed_secs,
            msg
        )
    } else {
        let mut line = String::new();
        for (key, value) in [
            ("time", rfc3339_utc(now).as_str()),
            ("level", level.name()),
            ("msg", msg),
        ] {
            line.push_str(key);
            line.push('=');
            if needs_quoting(value) {
                line.push('"');
                line.push_str(value);
                line.push('"');
            } else {
                line.push_str(value);
            }
            line.push(' ');
        }
        line.push('\n');
        line
    }
}

fn needs_quoting(text: &str) -> bool {
    text.chars()
        .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
}

/// `YYYY-MM-DDThh:mm:ssZ` for a system time (UTC; times before 1970 print
/// as the epoch).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2026-11-23T07:35:27Z, the timestamp in netctl-golden.txt.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_419_327);
        assert_eq!(rfc3339_utc(t), "2026-11-23T07:35:27Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_utc(t), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn plain_format_quotes_only_when_needed() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_419_327);
        assert_eq!(
            format_line(Level::Error, "network not found\n", false, 0, t),
            "time=\"2026-11-23T07:35:27Z\" level=error msg=\"network not found\n\" \n"
        );
        assert_eq!(
            format_line(Level::Info, "done", false, 0, t),
            "time=\"2026-11-23T07:35:27Z\" level=info msg=done \n"
        );
    }

    #[test]
    fn terminal_format_pads_the_message() {
        let line = format_line(Level::Info, "Creating tenant: blue", true, 0, UNIX_EPOCH);
        assert_eq!(
            line,
            format!(
                "\x1b[36mINFO\x1b[0m[0000] Creating tenant: blue{} \n",
                " ".repeat(23)
            )
        );
    }
}
