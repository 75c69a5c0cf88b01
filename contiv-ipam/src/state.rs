//! The trait every allocator state implements so the persisted layer can
//! store it.

use crate::error::DecodeError;

/// An allocator state that can be stored in a
/// [`StateStore`](contiv_core::store::StateStore) in the compact binary
/// encoding of [`crate::codec`].
pub trait AllocState: Send + Sync + 'static + Sized {
    /// The `kind` component of its key (`ipv4`, `ipv6`, `vlan`, `vxlan`,
    /// `epg`, `tenant`), see [`contiv_core::store::keys::Keys::alloc`].
    fn kind(&self) -> &'static str;

    /// How many values are handed out (a pool with values in use cannot be
    /// deleted).
    fn in_use(&self) -> u64;

    /// What [`in_use`](Self::in_use) counts, plural (`addresses`, `vlans`).
    fn in_use_noun(&self) -> &'static str;

    /// The binary encoding.
    fn encode(&self) -> Vec<u8>;

    /// Decodes [`encode`](Self::encode)'s output; any other input is a
    /// [`DecodeError`], never a panic.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}
