//! `netprofile` rules: the bandwidth syntax and its conversion, DSCP, burst.
//!
//! Bandwidth is a positive decimal number without leading zeros, an
//! optional single space, and a unit `k`, `m` or `g` (either case) followed
//! by nothing, `b` or `bps`: `10kbps`, `100 Mbps`, `1g`, `18Mb`, `6 Mbps`.
//! Empty means no limit. The original's regex also let `{`, `1` and `}`
//! stand for the unit after a space (a `{1}` typed inside a character
//! class); those are rejected here, as the conversion turned them into 0.

use super::names::{MAX_NAME_LEN, check_name, check_object_name};
use super::text::quoted;
use super::{ValidationError, check_key};
use crate::model::Netprofile;
use std::fmt;

/// Largest DSCP value.
pub const MAX_DSCP: i64 = 63;
/// Largest burst size (kilobytes).
pub const MAX_BURST: i64 = 10486;
/// Longest accepted bandwidth string.
pub const MAX_BANDWIDTH_LEN: usize = 64;

/// The unit of a bandwidth, as the original's conversion reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BandwidthUnit {
    /// `k`/`K`: ×1024.
    Kilo,
    /// `m`/`M`: ×1024².
    Mega,
    /// `g`/`G`: ×1024³.
    Giga,
}

impl BandwidthUnit {
    fn factor(self) -> u64 {
        match self {
            BandwidthUnit::Kilo => 1 << 10,
            BandwidthUnit::Mega => 1 << 20,
            BandwidthUnit::Giga => 1 << 30,
        }
    }

    /// The unit as `netctl netprofile ls` prints it.
    pub fn display_suffix(self) -> &'static str {
        match self {
            BandwidthUnit::Kilo => "Kbps",
            BandwidthUnit::Mega => "Mbps",
            BandwidthUnit::Giga => "Gbps",
        }
    }
}

/// A parsed netprofile bandwidth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    /// The number as written.
    pub number: u64,
    /// The unit.
    pub unit: BandwidthUnit,
}

impl Bandwidth {
    /// The rate in kbit/s as the original computed it for OVS
    /// (`ConvertBandwidth`): number × 1024^unit / 1000, rounded down.
    /// `None` if it does not fit in a `u64`.
    pub fn kbps(&self) -> Option<u64> {
        self.number
            .checked_mul(self.unit.factor())
            .map(|bits| bits / 1000)
    }
}

impl fmt::Display for Bandwidth {
    /// The normalised form `netctl netprofile ls` prints: `<n>Gbps`,
    /// `<n>Mbps` or `<n>Kbps`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, self.unit.display_suffix())
    }
}

/// Parses a bandwidth string (empty → `None`).
pub fn parse_bandwidth(s: &str) -> Result<Option<Bandwidth>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ValidationError::new(
            "bandwidth",
            format!(
                "invalid bandwidth {}: expected a number and a unit k, m or g (optionally \
                 followed by b or bps), e.g. 10kbps, 100 Mbps, 1g, 18Mb, or empty for no limit",
                quoted(s)
            ),
        )
    };
    if s.len() > MAX_BANDWIDTH_LEN {
        return Err(ValidationError::new(
            "bandwidth",
            format!(
                "bandwidth {} is too long ({} bytes): at most {MAX_BANDWIDTH_LEN} allowed",
                quoted(s),
                s.len()
            ),
        ));
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = s.split_at(digits);
    if num.is_empty() || num.starts_with('0') {
        return Err(bad());
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars();
    let unit = match chars.next() {
        Some('k' | 'K') => BandwidthUnit::Kilo,
        Some('m' | 'M') => BandwidthUnit::Mega,
        Some('g' | 'G') => BandwidthUnit::Giga,
        _ => return Err(bad()),
    };
    if !matches!(chars.as_str(), "" | "b" | "bps") {
        return Err(bad());
    }
    let too_big = || {
        ValidationError::new(
            "bandwidth",
            format!("invalid bandwidth {}: the number is too large", quoted(s)),
        )
    };
    let number: u64 = num.parse().map_err(|_| too_big())?;
    let bw = Bandwidth { number, unit };
    bw.kbps().ok_or_else(too_big)?;
    Ok(Some(bw))
}

pub(in crate::model) fn bandwidth(o: &Netprofile) -> Result<Option<Bandwidth>, ValidationError> {
    parse_bandwidth(&o.bandwidth)
}

pub(in crate::model) fn dscp(o: &Netprofile) -> Result<u8, ValidationError> {
    if !(0..=MAX_DSCP).contains(&o.dscp) {
        return Err(ValidationError::new(
            "DSCP",
            format!("invalid DSCP {}: expected 0..{MAX_DSCP}", o.dscp),
        ));
    }
    u8::try_from(o.dscp).map_err(|_| ValidationError::new("DSCP", "DSCP out of range"))
}

fn burst(o: &Netprofile) -> Result<(), ValidationError> {
    if !(0..=MAX_BURST).contains(&o.burst) {
        return Err(ValidationError::new(
            "burst",
            format!(
                "invalid burst {}: expected a size in kilobytes 2..{MAX_BURST}, or 0 for the \
                 default",
                o.burst
            ),
        ));
    }
    if o.burst == 1 {
        return Err(ValidationError::new(
            "burst",
            "Invalid Burst size. burst size > 1500 bytes (burst is in kilobytes: use 2.. or 0 \
             for the default)",
        ));
    }
    Ok(())
}

pub(in crate::model) fn validate(o: &Netprofile) -> Result<(), ValidationError> {
    check_key(o)?;
    dscp(o)?;
    bandwidth(o)?;
    burst(o)?;
    check_name("profileName", &o.profile_name, MAX_NAME_LEN)?;
    check_object_name("tenantName", &o.tenant_name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_the_original() {
        let kbps = |s: &str| parse_bandwidth(s).unwrap().unwrap().kbps().unwrap();
        assert_eq!(kbps("10kbps"), 10); // 10*1024/1000
        assert_eq!(kbps("100 Mbps"), 104_857); // 100*1048576/1000
        assert_eq!(kbps("1g"), 1_073_741);
        assert_eq!(kbps("6 Mbps"), 6_291);
        assert_eq!(kbps("18Mb"), 18_874);
    }

    #[test]
    fn display_is_normalised() {
        let show = |s: &str| parse_bandwidth(s).unwrap().unwrap().to_string();
        assert_eq!(show("100 Mbps"), "100Mbps");
        assert_eq!(show("10kbps"), "10Kbps");
        assert_eq!(show("1g"), "1Gbps");
        assert_eq!(show("18mb"), "18Mbps");
    }

    #[test]
    fn typo_units_and_overflow_are_rejected() {
        for bad in [
            "10 1bps",
            "10 {",
            "10 }bps",
            "10 1",
            "99999999999999999999g",
            "18446744073709551615k",
        ] {
            assert!(parse_bandwidth(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_bandwidth("").unwrap(), None);
    }
}
