//! Address-set ids: small numbers in the LPM keys, stable for as long as a
//! set exists, and recoverable after a restart — the `set_ids` map records
//! each id's FNV-1a 64 hash of the set name, and a restarted agent gives a
//! set back the id whose hash matches its name.

use contiv_core::ir::AddrSetId;
use std::collections::{BTreeMap, HashMap};

/// FNV-1a 64 of `s`.
pub fn name_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The largest id (bit 31 of a key marks IPv6).
const MAX_ID: u32 = 0x7fff_ffff;

/// The registry. See the [module documentation](self).
#[derive(Debug, Default)]
pub struct SetIds {
    by_name: HashMap<AddrSetId, u32>,
    /// id → name hash, for every id in use or adopted.
    used: BTreeMap<u32, u64>,
    /// Ids freed in this batch: reusable after the next flush.
    released: Vec<u32>,
    /// No id below this is free (except released ones).
    hint: u32,
}

impl SetIds {
    /// A registry knowing the ids the kernel map holds (adopted ids are
    /// claimed by the first set whose name hashes to them).
    pub fn adopt(kernel: impl IntoIterator<Item = (u32, u64)>) -> SetIds {
        SetIds {
            used: kernel.into_iter().collect(),
            ..SetIds::default()
        }
    }

    /// The id of `name`, if it has one.
    pub fn get(&self, name: &AddrSetId) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The id of `name`, assigning one if needed.
    pub fn assign(&mut self, name: &AddrSetId) -> Option<u32> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        let h = name_hash(&name.0);
        let claimed: std::collections::HashSet<u32> = self.by_name.values().copied().collect();
        let adopted = self
            .used
            .iter()
            .find(|(id, hh)| **hh == h && !claimed.contains(id))
            .map(|(id, _)| *id);
        let id = match adopted {
            Some(id) => id,
            None => {
                let mut next = self.hint.max(1);
                while self.used.contains_key(&next) || self.released.contains(&next) {
                    next += 1;
                }
                if next > MAX_ID {
                    return None;
                }
                self.hint = next + 1;
                next
            }
        };
        self.used.insert(id, h);
        self.by_name.insert(name.clone(), id);
        Some(id)
    }

    /// Frees `name`'s id (reusable after [`SetIds::settle`]).
    pub fn release(&mut self, name: &AddrSetId) {
        if let Some(id) = self.by_name.remove(name) {
            self.used.remove(&id);
            self.released.push(id);
        }
    }

    /// Makes released ids reusable (after the flush that deleted their
    /// entries).
    pub fn settle(&mut self) {
        if let Some(m) = self.released.iter().min() {
            self.hint = self.hint.min(*m);
        }
        self.released.clear();
    }

    /// Forgets adopted ids no set claimed (a resync removes them).
    pub fn drop_unclaimed(&mut self) {
        let claimed: std::collections::HashSet<u32> = self.by_name.values().copied().collect();
        self.used.retain(|id, _| claimed.contains(id));
        self.hint = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AddrSetId {
        AddrSetId(s.into())
    }

    #[test]
    fn ids_are_stable_and_recovered_by_name_hash() {
        let mut r = SetIds::default();
        let a = r.assign(&id("cidr:10.0.0.0/8")).unwrap();
        let b = r.assign(&id("net:t:n")).unwrap();
        assert_ne!(a, b);
        assert_eq!(r.assign(&id("cidr:10.0.0.0/8")), Some(a));
        // A restart: the kernel map says which id had which name hash.
        let kernel = vec![(a, name_hash("cidr:10.0.0.0/8")), (b, name_hash("net:t:n"))];
        let mut r2 = SetIds::adopt(kernel);
        assert_eq!(r2.assign(&id("net:t:n")), Some(b));
        assert_eq!(r2.assign(&id("cidr:10.0.0.0/8")), Some(a));
        let c = r2.assign(&id("cidr:fd00::/8")).unwrap();
        assert!(c != a && c != b);
    }

    #[test]
    fn released_ids_wait_for_the_flush() {
        let mut r = SetIds::default();
        let a = r.assign(&id("x")).unwrap();
        r.release(&id("x"));
        let b = r.assign(&id("y")).unwrap();
        assert_ne!(a, b, "an id freed in this batch is not reused in it");
        r.settle();
        r.release(&id("y"));
        r.settle();
        assert_eq!(r.assign(&id("z")), Some(a));
    }
}
