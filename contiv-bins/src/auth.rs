//! Credentials shared by netmaster and netplugin: the admin token, node
//! tokens (`cn1:<host>:<hex HMAC-SHA256(key, "contiv-node-token/v1\0" ‖ host)>`)
//! and who presents them. netmaster checks them on its API (see
//! `netmaster::auth` for what each credential may do); netplugin checks
//! them on its control API and derives its node token from the admin token.

use contiv_core::model::validate::is_valid_host_name;
use ring::hmac;

/// Version prefix of node tokens.
pub const NODE_TOKEN_PREFIX: &str = "cn1:";
/// Domain separation of the node-token MAC.
const NODE_TOKEN_CONTEXT: &[u8] = b"contiv-node-token/v1\0";

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// No credentials are configured: everyone may do everything.
    Open,
    /// The admin token.
    Admin,
    /// The node token of this host.
    Node(String),
}

impl Identity {
    /// Checks that this identity may act for `host` (its own node's
    /// registration, endpoints and addresses): 403 otherwise.
    pub fn may_act_for(&self, host: &str) -> Result<(), ForeignHost> {
        match self {
            Identity::Open | Identity::Admin => Ok(()),
            Identity::Node(h) if h == host => Ok(()),
            Identity::Node(h) => Err(ForeignHost {
                node: h.clone(),
                host: host.to_owned(),
            }),
        }
    }

    /// The host a node credential is bound to.
    pub fn node(&self) -> Option<&str> {
        match self {
            Identity::Node(h) => Some(h),
            _ => None,
        }
    }
}

/// A node credential used for another host than its own (netmaster
/// answers it 403).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the node credential of {node} may not act for host {host:?}")]
pub struct ForeignHost {
    /// The host the credential is bound to.
    pub node: String,
    /// The host it tried to act for.
    pub host: String,
}

/// The configured credentials.
#[derive(Clone, Default)]
pub struct Credentials {
    admin: Option<String>,
    node_key: Option<hmac::Key>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl Credentials {
    /// Credentials from the admin token and the node-token key (default:
    /// the admin token). No admin token: no credentials at all.
    pub fn new(admin: Option<String>, node_token_key: Option<String>) -> Self {
        let admin = admin.filter(|t| !t.is_empty());
        let node_key = admin.as_ref().map(|a| {
            let key = node_token_key
                .as_deref()
                .filter(|k| !k.is_empty())
                .unwrap_or(a);
            hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes())
        });
        Credentials { admin, node_key }
    }

    /// True if requests must carry a credential.
    pub fn enabled(&self) -> bool {
        self.admin.is_some()
    }

    /// The node token of `host`, if credentials are configured and `host`
    /// is a valid host name.
    pub fn node_token(&self, host: &str) -> Option<String> {
        if !is_valid_host_name(host) {
            return None;
        }
        let key = self.node_key.as_ref()?;
        let tag = hmac::sign(key, &node_message(host));
        Some(format!("{NODE_TOKEN_PREFIX}{host}:{}", hex(tag.as_ref())))
    }

    /// Who presents `token` (`None`: no valid credential).
    pub fn identify(&self, token: Option<&str>) -> Option<Identity> {
        let Some(admin) = &self.admin else {
            return Some(Identity::Open);
        };
        let token = token?;
        if constant_time_eq(token.as_bytes(), admin.as_bytes()) {
            return Some(Identity::Admin);
        }
        let (host, mac) = token.strip_prefix(NODE_TOKEN_PREFIX)?.rsplit_once(':')?;
        if !is_valid_host_name(host) {
            return None;
        }
        let mac = unhex(mac)?;
        let key = self.node_key.as_ref()?;
        hmac::verify(key, &node_message(host), &mac).ok()?;
        Some(Identity::Node(host.to_owned()))
    }
}

fn node_message(host: &str) -> Vec<u8> {
    let mut m = NODE_TOKEN_CONTEXT.to_vec();
    m.extend_from_slice(host.as_bytes());
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_tokens_bind_their_host() {
        let c = Credentials::new(Some("admin-secret".into()), None);
        let t = c.node_token("node1").unwrap();
        assert!(t.starts_with("cn1:node1:"), "{t}");
        assert_eq!(c.identify(Some(&t)), Some(Identity::Node("node1".into())));
        assert_eq!(c.identify(Some("admin-secret")), Some(Identity::Admin));
        // Another host in the same token fails the MAC.
        let forged = t.replace("cn1:node1:", "cn1:node2:");
        assert_eq!(c.identify(Some(&forged)), None);
        assert_eq!(c.identify(None), None);
        assert_eq!(c.identify(Some("cn1:node1:zz")), None);
        assert_eq!(c.node_token("../etc"), None);
        // Another key, another token; no admin token, no credentials.
        let other = Credentials::new(Some("admin-secret".into()), Some("k2".into()));
        assert_eq!(other.identify(Some(&t)), None);
        let open = Credentials::new(None, None);
        assert!(!open.enabled());
        assert_eq!(open.identify(None), Some(Identity::Open));
        assert_eq!(open.node_token("node1"), None);
    }
}
