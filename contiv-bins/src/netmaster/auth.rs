//! Credentials: who may call what.
//!
//! | credential | how it is made | what it may do |
//! |---|---|---|
//! | none configured (no `--token`) | — | everything (development on 127.0.0.1; a warning is logged when netmaster listens elsewhere) |
//! | **admin token** (`--token`) | chosen by the operator | everything: the intent API (`/api/v1/<collection>/…`, inspect, `/info`), the agent API for any host, `/metrics`, issuing node tokens |
//! | **node token** | issued by netmaster for one host: `GET /api/v1/credentials/nodes/<host>/` (admin) or `netmaster --print-node-token <host>` | only that host's agent calls: register/refresh/deregister `<host>`, create endpoints whose `host` is `<host>`, delete and demote endpoints recorded on `<host>`, reserve/adopt/release/sweep addresses for `<host>`, read agent network info, and the watch stream |
//!
//! `/version`, `/health` and `/api/v1/openapi.json` need no credential.
//!
//! A node token is `cn1:<host>:<hex HMAC-SHA256(key, "contiv-node-token/v1\0" ‖ host)>`,
//! keyed by `--node-token-key` (default: the admin token). Netmaster keeps
//! no list of tokens: any netmaster configured with the same key verifies
//! them, and changing the key revokes every node token at once. A holder
//! of a node token cannot act for another host: the host is inside the
//! token and the MAC binds it.
//!
//! Missing or wrong credentials are answered 401; a valid credential used
//! outside what it may do, 403.

use super::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use contiv_core::model::validate::is_valid_host_name;
use ring::hmac;
use std::sync::Arc;

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
    pub fn may_act_for(&self, host: &str) -> Result<(), ApiError> {
        match self {
            Identity::Open | Identity::Admin => Ok(()),
            Identity::Node(h) if h == host => Ok(()),
            Identity::Node(h) => Err(ApiError::forbidden(format!(
                "the node credential of {h} may not act for host {host:?}"
            ))),
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

/// True for the paths a node credential may use at all (its host is
/// checked by each handler).
fn node_path(method: &axum::http::Method, path: &str) -> bool {
    if path == "/api/v1/watch" || path == "/api/v1/watch/" {
        return true;
    }
    let Some(rest) = path.strip_prefix("/api/v1/agent/") else {
        return false;
    };
    // Listing every host's reservations is the admin's.
    let listing =
        method == axum::http::Method::GET && (rest == "reservations" || rest == "reservations/");
    !listing
}

/// The middleware: identifies the caller (401 without a valid credential),
/// keeps node credentials to the agent API (403), and hands the
/// [`Identity`] to the handlers as a request extension.
pub async fn middleware(
    State(creds): State<Arc<Credentials>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(who) = creds.identify(token) else {
        let mut resp = ApiError::unauthorized(if token.is_some() {
            "invalid bearer token"
        } else {
            "missing bearer token: send Authorization: Bearer <token> (the admin token, or this node's token for the agent API)"
        })
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    };
    if let Identity::Node(host) = &who
        && !node_path(req.method(), req.uri().path())
    {
        return ApiError::forbidden(format!(
            "the node credential of {host} is for the agent API and the watch only; use the admin token"
        ))
        .into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
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

    #[test]
    fn nodes_reach_only_the_agent_api() {
        use axum::http::Method;
        assert!(node_path(&Method::POST, "/api/v1/agent/endpoints/"));
        assert!(node_path(&Method::GET, "/api/v1/watch"));
        assert!(!node_path(&Method::GET, "/api/v1/agent/reservations/"));
        assert!(!node_path(&Method::GET, "/api/v1/tenants/"));
        assert!(!node_path(&Method::GET, "/metrics"));
        assert!(!node_path(&Method::GET, "/api/v1/credentials/nodes/n1/"));
    }
}
