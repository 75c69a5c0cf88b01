//! What the maps must hold, kept in memory, written to the kernel in
//! flushes that touch only what changed.
//!
//! * [`Table`]: a plain key → value map. Changes mark keys dirty; a flush
//!   writes puts first (so nothing a new rule needs is missing), then the
//!   lists, then deletions (so nothing a rule still uses vanishes first).
//! * Counter maps: entries the loader creates and removes but never
//!   overwrites (the programs count into them).
//! * [`ListTable`]: the generation-switched lists (rules per group, flood
//!   targets per network). A list is rewritten into the generation no
//!   reader uses, then one head update switches it; the old generation is
//!   deleted at a later flush, once no program run can still be reading it.
//!
//! Resync reads a map back, compares it with the wanted contents and marks
//! exactly the differences dirty, so a flush after a resync of an unchanged
//! state writes nothing.

use crate::abi::{ListEntryKey, ListHead, ListKey, SetData};
use aya::Pod;
use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{HashMap as BpfHash, MapData, MapError, PerCpuHashMap, PerCpuValues};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// `BPF_NOEXIST`.
const NOEXIST: u64 = 1;

/// A kernel map error, as text.
pub type MapResult<T> = Result<T, String>;

fn missing(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(s) => s.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

fn exists(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(s) if s.io_error.raw_os_error() == Some(libc::EEXIST))
}

/// A kernel map the tables write.
pub trait KvMap<K, V> {
    /// Inserts or replaces.
    fn put(&mut self, k: &K, v: &V) -> MapResult<()>;
    /// Deletes (absent is fine).
    fn del(&mut self, k: &K) -> MapResult<()>;
    /// Everything in it.
    fn entries(&self) -> MapResult<Vec<(K, V)>>;
}

impl<K: Pod, V: Pod> KvMap<K, V> for BpfHash<MapData, K, V> {
    fn put(&mut self, k: &K, v: &V) -> MapResult<()> {
        self.insert(k, v, 0).map_err(|e| e.to_string())
    }
    fn del(&mut self, k: &K) -> MapResult<()> {
        match self.remove(k) {
            Err(e) if !missing(&e) => Err(e.to_string()),
            _ => Ok(()),
        }
    }
    fn entries(&self) -> MapResult<Vec<(K, V)>> {
        self.iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }
}

/// An address-set entry: (prefix length, data).
pub type SetEntry = (u32, SetData);

impl KvMap<SetEntry, u32> for LpmTrie<MapData, SetData, u32> {
    fn put(&mut self, k: &SetEntry, v: &u32) -> MapResult<()> {
        self.insert(&LpmKey::new(k.0, k.1), v, 0)
            .map_err(|e| e.to_string())
    }
    fn del(&mut self, k: &SetEntry) -> MapResult<()> {
        match self.remove(&LpmKey::new(k.0, k.1)) {
            Err(e) if !missing(&e) => Err(e.to_string()),
            _ => Ok(()),
        }
    }
    fn entries(&self) -> MapResult<Vec<(SetEntry, u32)>> {
        self.iter()
            .map(|r| r.map(|(k, v)| ((k.prefix_len(), k.data()), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }
}

/// Per-CPU counters, created zeroed.
impl<K: Pod, V: Pod + Default> KvMap<K, ()> for PerCpuHashMap<MapData, K, V> {
    fn put(&mut self, k: &K, _: &()) -> MapResult<()> {
        let n = aya::util::nr_cpus().map_err(|(p, e)| format!("{p}: {e}"))?;
        let zero = PerCpuValues::try_from(vec![V::default(); n]).map_err(|e| e.to_string())?;
        match self.insert(k, zero, NOEXIST) {
            Err(e) if !exists(&e) => Err(e.to_string()),
            _ => Ok(()),
        }
    }
    fn del(&mut self, k: &K) -> MapResult<()> {
        match self.remove(k) {
            Err(e) if !missing(&e) => Err(e.to_string()),
            _ => Ok(()),
        }
    }
    fn entries(&self) -> MapResult<Vec<(K, ())>> {
        self.keys()
            .map(|r| r.map(|k| (k, ())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }
}

/// State the programs write (token buckets): created zeroed if absent,
/// never overwritten.
pub struct CreateOnly<'a, K: Pod, V: Pod>(pub &'a mut BpfHash<MapData, K, V>);

impl<K: Pod, V: Pod + Default> KvMap<K, ()> for CreateOnly<'_, K, V> {
    fn put(&mut self, k: &K, _: &()) -> MapResult<()> {
        match self.0.insert(k, V::default(), NOEXIST) {
            Err(e) if !exists(&e) => Err(e.to_string()),
            _ => Ok(()),
        }
    }
    fn del(&mut self, k: &K) -> MapResult<()> {
        KvMap::<K, V>::del(self.0, k)
    }
    fn entries(&self) -> MapResult<Vec<(K, ())>> {
        self.0
            .keys()
            .map(|r| r.map(|k| (k, ())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }
}

/// What a resync or flush did to one map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Entries written.
    pub added: usize,
    /// Entries deleted.
    pub removed: usize,
    /// Entries found right.
    pub unchanged: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.added += o.added;
        self.removed += o.removed;
        self.unchanged += o.unchanged;
    }
}

/// The wanted contents of one map. See the [module documentation](self).
#[derive(Debug)]
pub struct Table<K, V> {
    name: &'static str,
    want: HashMap<K, V>,
    dirty: HashSet<K>,
}

impl<K: Copy + Eq + Hash, V: Clone + PartialEq> Table<K, V> {
    /// An empty table for map `name`.
    pub fn new(name: &'static str) -> Self {
        Table {
            name,
            want: HashMap::new(),
            dirty: HashSet::new(),
        }
    }

    /// The wanted value of `k`.
    pub fn get(&self, k: &K) -> Option<&V> {
        self.want.get(k)
    }

    /// Number of wanted entries.
    pub fn len(&self) -> usize {
        self.want.len()
    }

    /// True if nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.want.is_empty()
    }

    /// Wants `k` = `v`.
    pub fn put(&mut self, k: K, v: V) {
        if self.want.get(&k) != Some(&v) {
            self.want.insert(k, v);
            self.dirty.insert(k);
        }
    }

    /// No longer wants `k`, if its wanted value is `v` (another object may
    /// have taken the key over).
    pub fn del_if(&mut self, k: &K, v: &V) {
        if self.want.get(k) == Some(v) {
            self.want.remove(k);
            self.dirty.insert(*k);
        }
    }

    /// No longer wants `k`.
    pub fn del(&mut self, k: &K) {
        if self.want.remove(k).is_some() {
            self.dirty.insert(*k);
        }
    }

    /// Wants exactly `all`.
    pub fn set_all(&mut self, all: HashMap<K, V>) {
        for k in self.want.keys() {
            if !all.contains_key(k) {
                self.dirty.insert(*k);
            }
        }
        for (k, v) in &all {
            if self.want.get(k) != Some(v) {
                self.dirty.insert(*k);
            }
        }
        self.want = all;
    }

    /// Replaces what `old` contributed with what `new` contributes.
    pub fn replace(&mut self, old: &[(K, V)], new: &[(K, V)]) {
        for (k, v) in old {
            if !new.iter().any(|(nk, _)| nk == k) {
                self.del_if(k, v);
            }
        }
        for (k, v) in new {
            self.put(*k, v.clone());
        }
    }

    /// True if a flush would write something.
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Makes the wanted contents `all`, marking dirty what differs from
    /// the map (read back).
    pub fn resync(&mut self, map: &impl KvMap<K, V>, all: HashMap<K, V>) -> MapResult<Counts> {
        let have = map
            .entries()
            .map_err(|e| format!("reading map {}: {e}", self.name))?;
        let mut c = Counts::default();
        self.dirty.clear();
        let mut seen = HashSet::with_capacity(have.len());
        for (k, v) in have {
            seen.insert(k);
            match all.get(&k) {
                Some(w) if *w == v => c.unchanged += 1,
                _ => {
                    self.dirty.insert(k);
                }
            }
        }
        for k in all.keys() {
            if !seen.contains(k) {
                self.dirty.insert(*k);
            }
        }
        self.want = all;
        Ok(c)
    }

    /// Writes the dirty wanted entries.
    pub fn flush_puts(&mut self, map: &mut impl KvMap<K, V>) -> MapResult<usize> {
        let mut n = 0;
        let keys: Vec<K> = self
            .dirty
            .iter()
            .filter(|k| self.want.contains_key(*k))
            .copied()
            .collect();
        for k in keys {
            if let Some(v) = self.want.get(&k) {
                map.put(&k, v)
                    .map_err(|e| format!("writing map {}: {e}", self.name))?;
            }
            self.dirty.remove(&k);
            n += 1;
        }
        Ok(n)
    }

    /// Deletes the dirty unwanted entries.
    pub fn flush_dels(&mut self, map: &mut impl KvMap<K, V>) -> MapResult<usize> {
        let mut n = 0;
        let keys: Vec<K> = self
            .dirty
            .iter()
            .filter(|k| !self.want.contains_key(*k))
            .copied()
            .collect();
        for k in keys {
            map.del(&k)
                .map_err(|e| format!("deleting from map {}: {e}", self.name))?;
            self.dirty.remove(&k);
            n += 1;
        }
        Ok(n)
    }
}

/// A wanted list and how it was last written.
#[derive(Clone, Debug, PartialEq)]
struct Written<V> {
    gen_: u32,
    items: Vec<V>,
}

/// An old generation to delete once no reader can be in it.
#[derive(Clone, Debug)]
struct Retired {
    at: Instant,
    list: ListKey,
    gen_: u32,
    count: u32,
}

/// How long an old generation stays before it is deleted: far longer than
/// any program run that may have read the old head.
const RETIRE_AFTER: Duration = Duration::from_millis(2);

/// Generation-switched lists. See the [module documentation](self).
#[derive(Debug)]
pub struct ListTable<V> {
    name: &'static str,
    want: HashMap<ListKey, Vec<V>>,
    written: HashMap<ListKey, Written<V>>,
    dirty: HashSet<ListKey>,
    retired: Vec<Retired>,
}

/// The two maps of a list table.
pub struct ListMaps<'a, H, E> {
    /// Heads.
    pub heads: &'a mut H,
    /// Entries.
    pub entries: &'a mut E,
}

impl<V: Copy + PartialEq + std::fmt::Debug> ListTable<V> {
    /// An empty table for lists `name`.
    pub fn new(name: &'static str) -> Self {
        ListTable {
            name,
            want: HashMap::new(),
            written: HashMap::new(),
            dirty: HashSet::new(),
            retired: Vec::new(),
        }
    }

    /// The wanted list `k` (empty if none).
    pub fn get(&self, k: &ListKey) -> &[V] {
        self.want.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Wants list `k` to be `items` (empty: no list).
    pub fn set(&mut self, k: ListKey, items: Vec<V>) {
        if self.get(&k) == items.as_slice() {
            return;
        }
        if items.is_empty() {
            self.want.remove(&k);
        } else {
            self.want.insert(k, items);
        }
        self.dirty.insert(k);
    }

    /// Number of wanted lists.
    pub fn len(&self) -> usize {
        self.want.len()
    }

    /// True if no list is wanted.
    pub fn is_empty(&self) -> bool {
        self.want.is_empty()
    }

    /// Reads heads and entries back: what is active becomes the written
    /// state; entries no head points at are deleted now (returned count).
    pub fn adopt<H, E>(&mut self, maps: &mut ListMaps<'_, H, E>) -> MapResult<usize>
    where
        H: KvMap<ListKey, ListHead>,
        E: KvMap<ListEntryKey, V>,
    {
        let heads = maps
            .heads
            .entries()
            .map_err(|e| format!("reading {} heads: {e}", self.name))?;
        let entries = maps
            .entries
            .entries()
            .map_err(|e| format!("reading {} entries: {e}", self.name))?;
        let by_key: HashMap<ListEntryKey, V> = entries.into_iter().collect();
        self.written.clear();
        self.retired.clear();
        let mut keep = HashSet::new();
        for (k, h) in heads {
            let mut items = Vec::with_capacity(h.count as usize);
            for i in 0..h.count {
                let ek = ListEntryKey::new(k, h.gen_ & 1, i);
                match by_key.get(&ek) {
                    Some(v) => {
                        items.push(*v);
                        keep.insert(ek);
                    }
                    None => break,
                }
            }
            if items.len() != h.count as usize {
                // A torn list: rewrite it at the next flush.
                self.dirty.insert(k);
            }
            self.written.insert(
                k,
                Written {
                    gen_: h.gen_ & 1,
                    items,
                },
            );
        }
        let mut n = 0;
        for ek in by_key.keys().filter(|k| !keep.contains(*k)) {
            maps.entries
                .del(ek)
                .map_err(|e| format!("deleting stale {} entry: {e}", self.name))?;
            n += 1;
        }
        Ok(n)
    }

    /// Makes the wanted lists `all` and marks dirty what differs from what
    /// is written (call [`ListTable::adopt`] first). Returns how many list
    /// entries are already right.
    pub fn resync(&mut self, all: HashMap<ListKey, Vec<V>>) -> usize {
        let mut unchanged = 0;
        for (k, w) in &self.written {
            match all.get(k) {
                Some(items) if *items == w.items => unchanged += items.len(),
                _ => {
                    self.dirty.insert(*k);
                }
            }
        }
        for k in all.keys() {
            if !self.written.contains_key(k) {
                self.dirty.insert(*k);
            }
        }
        self.want = all;
        unchanged
    }

    /// Marks list `k` to be rewritten at the next flush (its inputs
    /// changed; it is recomputed by the caller through [`ListTable::set`]).
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// True if old generations wait to be deleted.
    pub fn has_retired(&self) -> bool {
        !self.retired.is_empty()
    }

    /// Deletes retired generations old enough (all of them if `all`).
    pub fn reap<H, E>(&mut self, maps: &mut ListMaps<'_, H, E>, all: bool) -> MapResult<usize>
    where
        H: KvMap<ListKey, ListHead>,
        E: KvMap<ListEntryKey, V>,
    {
        let now = Instant::now();
        let mut n = 0;
        let mut keep = Vec::new();
        for r in std::mem::take(&mut self.retired) {
            if !all && now.duration_since(r.at) < RETIRE_AFTER {
                keep.push(r);
                continue;
            }
            for i in 0..r.count {
                maps.entries
                    .del(&ListEntryKey::new(r.list, r.gen_, i))
                    .map_err(|e| format!("deleting old {} entries: {e}", self.name))?;
                n += 1;
            }
        }
        self.retired = keep;
        Ok(n)
    }

    /// Writes every dirty list (see the [module documentation](self)).
    /// Returns (entries written, entries deleted).
    pub fn flush<H, E>(&mut self, maps: &mut ListMaps<'_, H, E>) -> MapResult<(usize, usize)>
    where
        H: KvMap<ListKey, ListHead>,
        E: KvMap<ListEntryKey, V>,
    {
        let mut written = 0;
        let mut deleted = self.reap(maps, false)?;
        let keys: Vec<ListKey> = self.dirty.iter().copied().collect();
        for k in keys {
            let want: &[V] = self.want.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            let cur = self.written.get(&k);
            if cur.map(|c| c.items.as_slice()).unwrap_or(&[]) == want {
                self.dirty.remove(&k);
                continue;
            }
            if want.is_empty() {
                maps.heads
                    .del(&k)
                    .map_err(|e| format!("deleting {} head: {e}", self.name))?;
                if let Some(c) = self.written.remove(&k) {
                    self.retired.push(Retired {
                        at: Instant::now(),
                        list: k,
                        gen_: c.gen_,
                        count: c.items.len() as u32,
                    });
                }
                self.dirty.remove(&k);
                continue;
            }
            if let Some(c) = cur {
                let n = c.items.len();
                // Appending (a new endpoint's veth has the highest index, a
                // new rule often the lowest priority): the new entries go
                // into the live generation past its count, then the count
                // grows — readers see the old list or the new one.
                if want.len() > n && want[..n] == c.items[..] {
                    let g = c.gen_;
                    let want = want.to_vec();
                    written += self.write_list(maps, k, g, n, want)?;
                    continue;
                }
            }
            let new_gen = cur.map(|c| 1 - c.gen_).unwrap_or(0);
            // A generation retired moments ago is overwritten now; its
            // surplus entries go.
            let mut surplus = 0;
            self.retired.retain(|r| {
                if r.list == k && r.gen_ == new_gen {
                    surplus = surplus.max(r.count);
                    false
                } else {
                    true
                }
            });
            for i in want.len() as u32..surplus {
                maps.entries
                    .del(&ListEntryKey::new(k, new_gen, i))
                    .map_err(|e| format!("deleting {} entry: {e}", self.name))?;
                deleted += 1;
            }
            // The old generation retires only once the head points away.
            let old = cur.map(|c| (c.gen_, c.items.len() as u32));
            let want = want.to_vec();
            written += self.write_list(maps, k, new_gen, 0, want)?;
            if let Some((gen_, count)) = old {
                self.retired.push(Retired {
                    at: Instant::now(),
                    list: k,
                    gen_,
                    count,
                });
            }
        }
        Ok((written, deleted))
    }

    /// Writes `items[from..]` into generation `gen_` of list `k`, then its
    /// head (readers see the old list or the new one), and records it as
    /// written. Returns the number of map writes.
    fn write_list<H, E>(
        &mut self,
        maps: &mut ListMaps<'_, H, E>,
        k: ListKey,
        gen_: u32,
        from: usize,
        items: Vec<V>,
    ) -> MapResult<usize>
    where
        H: KvMap<ListKey, ListHead>,
        E: KvMap<ListEntryKey, V>,
    {
        let mut written = 0;
        for (i, v) in items.iter().enumerate().skip(from) {
            maps.entries
                .put(&ListEntryKey::new(k, gen_, i as u32), v)
                .map_err(|e| format!("writing {} entry: {e}", self.name))?;
            written += 1;
        }
        let head = ListHead {
            gen_,
            count: items.len() as u32,
        };
        maps.heads
            .put(&k, &head)
            .map_err(|e| format!("writing {} head: {e}", self.name))?;
        self.written.insert(k, Written { gen_, items });
        self.dirty.remove(&k);
        Ok(written + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An in-memory map.
    #[derive(Debug, Default)]
    struct Mem<K, V>(BTreeMap<K, V>);

    impl<K: Ord + Copy, V: Copy> KvMap<K, V> for Mem<K, V> {
        fn put(&mut self, k: &K, v: &V) -> MapResult<()> {
            self.0.insert(*k, *v);
            Ok(())
        }
        fn del(&mut self, k: &K) -> MapResult<()> {
            self.0.remove(k);
            Ok(())
        }
        fn entries(&self) -> MapResult<Vec<(K, V)>> {
            Ok(self.0.iter().map(|(k, v)| (*k, *v)).collect())
        }
    }

    /// What a reader that looked at the head now sees.
    fn read(h: &Mem<ListKey, ListHead>, e: &Mem<ListEntryKey, u32>, k: ListKey) -> Vec<u32> {
        let Some(head) = h.0.get(&k) else {
            return Vec::new();
        };
        (0..head.count)
            .map(|i| *e.0.get(&ListEntryKey::new(k, head.gen_, i)).expect("entry"))
            .collect()
    }

    #[test]
    fn lists_switch_append_shrink_and_leave_nothing_behind() {
        let (mut h, mut e) = (Mem::default(), Mem::default());
        let k = ListKey { k: [1, 2, 3] };
        let mut t: ListTable<u32> = ListTable::new("test");
        let flush = |t: &mut ListTable<u32>, h: &mut Mem<_, _>, e: &mut Mem<_, _>| {
            t.flush(&mut ListMaps {
                heads: h,
                entries: e,
            })
            .expect("flush")
        };
        for want in [
            vec![5, 6],
            vec![5, 6, 7, 8],    // append: same generation
            vec![4, 5, 6, 7, 8], // insertion in front: the other one
            vec![4, 5],
            vec![9],
            vec![9, 10],
        ] {
            let gen_before = h.0.get(&k).map(|x: &ListHead| x.gen_);
            let appended = read(&h, &e, k).len() < want.len()
                && want.starts_with(&read(&h, &e, k))
                && gen_before.is_some();
            t.set(k, want.clone());
            flush(&mut t, &mut h, &mut e);
            assert_eq!(read(&h, &e, k), want);
            if appended {
                assert_eq!(
                    h.0.get(&k).map(|x| x.gen_),
                    gen_before,
                    "appends stay in place"
                );
            }
        }
        t.set(k, Vec::new());
        flush(&mut t, &mut h, &mut e);
        t.reap(
            &mut ListMaps {
                heads: &mut h,
                entries: &mut e,
            },
            true,
        )
        .expect("reap");
        assert!(h.0.is_empty() && e.0.is_empty(), "{h:?} {e:?}");
    }
}
