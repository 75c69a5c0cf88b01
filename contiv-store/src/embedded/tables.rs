//! The redb tables of the embedded store and the read paths over them.
//!
//! | table | key | value |
//! |---|---|---|
//! | `kv` | key (`&str`) | key record (see [`codec`](super::codec)) |
//! | `history` | revision (`u64`) | the events of that revision |
//! | `meta` | name (`&str`) | `u64`: `format`, `revision`, `compacted`, `next_lease` |
//! | `leases` | lease number (`u64`) | TTL in milliseconds |
//! | `lease_keys` | `(lease number, key)` | `()` — the keys bound to a lease |

use super::codec::{decode_events, decode_record};
use crate::contract::first_wanted;
use contiv_core::store::{KeyValue, ListResponse, Revision, StoreError, StoreResult, WatchEvent};
use redb::{ReadTransaction, ReadableDatabase, TableDefinition};

/// Current keys.
pub const KV: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("kv");
/// Watch history by revision.
pub const HISTORY: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("history");
/// Store-wide counters.
pub const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
/// Granted leases and their TTL (ms).
pub const LEASES: TableDefinition<'static, u64, u64> = TableDefinition::new("leases");
/// Lease → bound keys index.
pub const LEASE_KEYS: TableDefinition<'static, (u64, &str), ()> =
    TableDefinition::new("lease_keys");

/// `meta` entry: the layout version of the file.
pub const META_FORMAT: &str = "format";
/// `meta` entry: the store revision.
pub const META_REVISION: &str = "revision";
/// `meta` entry: history up to and including this revision is gone.
pub const META_COMPACTED: &str = "compacted";
/// `meta` entry: the next lease number to hand out.
pub const META_NEXT_LEASE: &str = "next_lease";
/// The layout version this code writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// Maps any redb error to a store error with context.
pub fn db_err(context: &str) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| match e {
        redb::Error::DatabaseAlreadyOpen => StoreError::Unavailable(format!(
            "{context}: the file is already open (by another process, or by a handle of this process that is still alive)"
        )),
        other => StoreError::Backend(format!("{context}: {other}")),
    }
}

/// Shorthand: converts a specific redb error and maps it.
pub fn err<E: Into<redb::Error>>(context: &str) -> impl Fn(E) -> StoreError + '_ {
    let map = db_err(context);
    move |e| map(e.into())
}

/// Reads a `meta` counter (0 if absent).
pub fn read_meta(tx: &ReadTransaction, name: &str) -> StoreResult<u64> {
    let meta = tx.open_table(META).map_err(err("opening meta"))?;
    Ok(meta
        .get(name)
        .map_err(err("reading meta"))?
        .map_or(0, |g| g.value()))
}

/// Starts a read transaction.
pub fn begin_read(db: &redb::Database) -> StoreResult<ReadTransaction> {
    db.begin_read().map_err(err("starting a read"))
}

/// Reads one key.
pub fn get(db: &redb::Database, key: &str) -> StoreResult<Option<KeyValue>> {
    let tx = begin_read(db)?;
    let kv = tx.open_table(KV).map_err(err("opening kv"))?;
    match kv.get(key).map_err(err("reading a key"))? {
        None => Ok(None),
        Some(guard) => decode_record(key, guard.value()).map(Some),
    }
}

/// Lists a prefix with the revision of the snapshot.
pub fn list(db: &redb::Database, prefix: &str) -> StoreResult<ListResponse> {
    let tx = begin_read(db)?;
    let revision = read_meta(&tx, META_REVISION)?;
    let kv = tx.open_table(KV).map_err(err("opening kv"))?;
    let mut kvs = Vec::new();
    for item in kv.range::<&str>(prefix..).map_err(err("listing keys"))? {
        let (k, v) = item.map_err(err("listing keys"))?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        kvs.push(decode_record(key, v.value())?);
    }
    Ok(ListResponse { kvs, revision })
}

/// The store revision.
pub fn revision(db: &redb::Database) -> StoreResult<Revision> {
    read_meta(&begin_read(db)?, META_REVISION)
}

/// History events of `prefix` with revision in `[from, upto]`, or
/// [`StoreError::Compacted`] if `from` is at or below the compaction point.
pub fn catch_up(
    db: &redb::Database,
    prefix: &str,
    from: Revision,
    upto: Revision,
) -> StoreResult<Vec<WatchEvent>> {
    let from = first_wanted(from);
    let tx = begin_read(db)?;
    let compacted = read_meta(&tx, META_COMPACTED)?;
    if from <= compacted {
        return Err(StoreError::Compacted {
            requested: from,
            compacted,
        });
    }
    let mut out = Vec::new();
    if from > upto {
        return Ok(out);
    }
    let history = tx.open_table(HISTORY).map_err(err("opening history"))?;
    for item in history.range(from..=upto).map_err(err("reading history"))? {
        let (rev, row) = item.map_err(err("reading history"))?;
        decode_events(rev.value(), row.value(), prefix, &mut out)?;
    }
    Ok(out)
}
