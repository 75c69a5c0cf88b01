//! Stable compiled-rule identities.
//!
//! A [`RuleId`] is the 64-bit FNV-1a hash of
//! `epg_key ‖ 0x00 ‖ policy_key ‖ 0x00 ‖ rule_id`, where `epg_key` is the
//! key of the group the policy is attached to (`tenant:group`),
//! `policy_key` is `tenant:policy` and `rule_id` the rule's `ruleId`. It
//! depends on nothing but these names, so every process, every restart and
//! every recompile gives the same id to the same (group, rule) pair — a
//! datapath can use it as a flow cookie or map key and a change can be
//! expressed as a delta. The `0x00` separators keep the encoding
//! unambiguous (names never contain NUL).
//!
//! ```
//! use contiv_policy::rule_id;
//! let a = rule_id("default:db", "default:db-policy", "1");
//! assert_eq!(a, rule_id("default:db", "default:db-policy", "1"));
//! assert_ne!(a, rule_id("default:web", "default:db-policy", "1"));
//! ```

use contiv_core::ir::RuleId;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental 64-bit FNV-1a.
#[derive(Clone, Copy, Debug)]
struct Fnv1a64(u64);

impl Fnv1a64 {
    fn new() -> Self {
        Fnv1a64(FNV_OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }
}

/// 64-bit FNV-1a of `bytes` (the published algorithm; exposed so other
/// implementations can check their ids against ours).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.write(bytes);
    h.0
}

/// The stable id of the compiled rule for rule `rule_id` of policy
/// `policy_key` attached to group `epg_key` (see the module docs).
pub fn rule_id(epg_key: &str, policy_key: &str, rule_id: &str) -> RuleId {
    let mut h = Fnv1a64::new();
    h.write(epg_key.as_bytes());
    h.write(&[0]);
    h.write(policy_key.as_bytes());
    h.write(&[0]);
    h.write(rule_id.as_bytes());
    RuleId(h.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn rule_id_is_the_hash_of_the_separated_names() {
        let id = rule_id("default:db", "default:db-policy", "1");
        assert_eq!(id.0, fnv1a64(b"default:db\0default:db-policy\x001"));
    }

    #[test]
    fn rule_id_separators_prevent_ambiguous_concatenation() {
        assert_ne!(rule_id("a:b", "c", "d"), rule_id("a:", "bc", "d"));
        assert_ne!(rule_id("t:g", "t:p", "12"), rule_id("t:g", "t:p1", "2"));
    }
}
