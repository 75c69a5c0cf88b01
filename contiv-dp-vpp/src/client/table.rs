//! The message-id table a server announces in `sockclnt_create_reply`.

use super::ClientError;
use crate::api::MESSAGES;
use crate::wire::{HeaderKind, Message, MessageInfo};
use std::collections::HashMap;

/// Message ids of one connection, checked against this build's CRCs.
///
/// The server announces `<name>_<crc>` → id. A message is usable only if
/// the server knows it with exactly our CRC: a message the server defines
/// differently (another API version) is refused with
/// [`ClientError::CrcMismatch`] before a byte is sent.
#[derive(Clone, Debug, Default)]
pub struct MsgTable {
    /// Our message name → its id on this connection (CRC matched).
    ids: HashMap<&'static str, u16>,
    /// Our message name → the CRC the server has, where it differs.
    mismatched: HashMap<&'static str, u32>,
    /// id → our definition, for incoming messages.
    by_id: HashMap<u16, &'static MessageInfo>,
    /// Everything the server announced (name_crc → id).
    announced: HashMap<String, u16>,
}

impl MsgTable {
    /// Builds the table from announced `(name_crc, id)` pairs.
    pub fn new(entries: impl IntoIterator<Item = (String, u16)>) -> MsgTable {
        let announced: HashMap<String, u16> = entries.into_iter().collect();
        let mut theirs: HashMap<&str, (u32, u16)> = HashMap::new();
        for (nc, id) in &announced {
            if let Some((n, c)) = nc.rsplit_once('_')
                && let Ok(crc) = u32::from_str_radix(c, 16)
            {
                theirs.insert(n, (crc, *id));
            }
        }
        let mut t = MsgTable::default();
        for m in MESSAGES {
            match theirs.get(m.name) {
                Some((crc, id)) if *crc == m.crc => {
                    t.ids.insert(m.name, *id);
                    t.by_id.insert(*id, m);
                }
                Some((crc, _)) => {
                    t.mismatched.insert(m.name, *crc);
                }
                None => {}
            }
        }
        t.announced = announced;
        t
    }

    /// The id of `M` on this connection.
    pub fn id<M: Message>(&self) -> Result<u16, ClientError> {
        self.id_by_name(M::NAME, M::CRC)
    }

    fn id_by_name(&self, name: &'static str, crc: u32) -> Result<u16, ClientError> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        Err(match self.mismatched.get(name) {
            Some(theirs) => ClientError::CrcMismatch {
                name,
                ours: crc,
                theirs: *theirs,
            },
            None => ClientError::Unsupported { name },
        })
    }

    /// Our definition of an incoming message id, if we know it.
    pub fn info(&self, id: u16) -> Option<&'static MessageInfo> {
        self.by_id.get(&id).copied()
    }

    /// The header layout of an incoming message id (unknown ids are
    /// treated as events: no context).
    pub fn header_of(&self, id: u16) -> HeaderKind {
        self.info(id).map_or(HeaderKind::Bare, |m| m.header)
    }

    /// Number of messages the server announced.
    pub fn announced(&self) -> usize {
        self.announced.len()
    }

    /// Names of our messages the server defines with another CRC.
    pub fn mismatched(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.mismatched.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::interface::SwInterfaceSetFlags;
    use crate::api::l2::BviCreate;

    #[test]
    fn crc_mismatch_and_absence_are_told_apart() {
        let t = MsgTable::new([
            (SwInterfaceSetFlags::name_crc(), 100),
            ("bvi_create_deadbeef".to_owned(), 101),
        ]);
        assert_eq!(t.id::<SwInterfaceSetFlags>().unwrap(), 100);
        assert_eq!(t.info(100).map(|m| m.name), Some("sw_interface_set_flags"));
        assert!(matches!(
            t.id::<BviCreate>(),
            Err(ClientError::CrcMismatch {
                name: "bvi_create",
                theirs: 0xdeadbeef,
                ..
            })
        ));
        assert!(matches!(
            t.id::<crate::api::acl::AclDel>(),
            Err(ClientError::Unsupported { name: "acl_del" })
        ));
        assert_eq!(t.header_of(101), HeaderKind::Bare);
    }
}
