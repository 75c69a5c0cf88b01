//! [`open_store`]: a backend from a URL, for daemons' `--store` flags.

use contiv_core::store::{StateStore, StoreError, StoreResult};
use std::path::PathBuf;
use std::sync::Arc;

/// A parsed store URL.
///
/// | URL | backend |
/// |---|---|
/// | `memory:` | [`MemoryStore`](crate::memory::MemoryStore) (feature `memory`) |
/// | `embedded:<path>` | [`EmbeddedStore`](crate::embedded::EmbeddedStore) on the redb file `<path>` (feature `embedded`) |
/// | `etcd://host:port[,host:port…]` | [`EtcdStore`](crate::etcd::EtcdStore) with every listed endpoint (feature `etcd`) |
/// | `http://host:port[,http://host:port…]` | the same, in etcd's own endpoint spelling |
/// | `consul://host:port[,host:port…]` | [`ConsulStore`](crate::consul::ConsulStore) on the listed agents, failing over in order (feature `consul`); `consuls://` for HTTPS. Token and TLS files come from Consul's variables `CONSUL_HTTP_TOKEN`, `CONSUL_CACERT`, … (see [`ConsulOptions::from_env`](crate::consul::ConsulOptions::from_env)) — never from the URL |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory:`
    Memory,
    /// `embedded:<path>`
    Embedded(PathBuf),
    /// `etcd://…` or `http://…`: the `host:port` endpoints.
    Etcd(Vec<String>),
    /// `consul://…` (`tls: false`) or `consuls://…` (`tls: true`): the
    /// agents' `host:port` addresses.
    Consul {
        /// Agent addresses in failover order.
        addresses: Vec<String>,
        /// HTTPS.
        tls: bool,
    },
}

impl std::str::FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> StoreResult<Self> {
        StoreUrl::parse(s)
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Memory => f.write_str("memory:"),
            StoreUrl::Embedded(p) => write!(f, "embedded:{}", p.display()),
            StoreUrl::Etcd(eps) => write!(f, "etcd://{}", eps.join(",")),
            StoreUrl::Consul { addresses, tls } => write!(
                f,
                "{}://{}",
                if *tls { "consuls" } else { "consul" },
                addresses.join(",")
            ),
        }
    }
}

fn invalid(url: &str, why: &str) -> StoreError {
    StoreError::InvalidArgument(format!(
        "store URL {url:?}: {why} (expected memory:, embedded:<path>, etcd://host:port[,host:port…] or consul://host:port[,host:port…])"
    ))
}

/// Checks one `host:port` endpoint.
fn endpoint(url: &str, item: &str) -> StoreResult<String> {
    let item = item.trim().trim_end_matches('/');
    let (host, port) = item
        .rsplit_once(':')
        .ok_or_else(|| invalid(url, &format!("endpoint {item:?} has no :port")))?;
    if host.is_empty() || host.contains('/') {
        return Err(invalid(
            url,
            &format!("endpoint {item:?} has no valid host"),
        ));
    }
    port.parse::<u16>()
        .map_err(|_| invalid(url, &format!("endpoint {item:?} has an invalid port")))?;
    Ok(item.to_owned())
}

impl StoreUrl {
    /// Parses a store URL.
    pub fn parse(url: &str) -> StoreResult<Self> {
        let trimmed = url.trim();
        if trimmed == "memory:" || trimmed == "memory://" || trimmed == "memory" {
            return Ok(StoreUrl::Memory);
        }
        if let Some(path) = trimmed.strip_prefix("embedded:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(invalid(url, "embedded: needs a file path"));
            }
            return Ok(StoreUrl::Embedded(PathBuf::from(path)));
        }
        for (scheme, tls) in [("consul://", false), ("consuls://", true)] {
            if let Some(rest) = trimmed.strip_prefix(scheme) {
                if rest.contains('?') || rest.contains('@') {
                    return Err(invalid(
                        url,
                        "put the Consul token and TLS files in CONSUL_HTTP_TOKEN / CONSUL_CACERT, not in the URL",
                    ));
                }
                let addresses = rest
                    .split(',')
                    .map(|item| endpoint(url, item))
                    .collect::<StoreResult<Vec<_>>>()?;
                return Ok(StoreUrl::Consul { addresses, tls });
            }
        }
        if trimmed.starts_with("https://") || trimmed.starts_with("etcds://") {
            return Err(invalid(url, "TLS endpoints are not supported yet"));
        }
        let rest = trimmed
            .strip_prefix("etcd://")
            .or_else(|| trimmed.strip_prefix("http://"));
        if let Some(rest) = rest {
            let endpoints = rest
                .split(',')
                .map(|item| {
                    let item = item.trim();
                    let item = item
                        .strip_prefix("http://")
                        .or_else(|| item.strip_prefix("etcd://"))
                        .unwrap_or(item);
                    endpoint(url, item)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            return Ok(StoreUrl::Etcd(endpoints));
        }
        Err(invalid(url, "unknown scheme"))
    }

    /// Opens the store this URL names. Fails with
    /// [`StoreError::InvalidArgument`] if the backend's feature is not
    /// compiled in.
    pub async fn open(&self) -> StoreResult<Arc<dyn StateStore>> {
        match self {
            #[cfg(feature = "memory")]
            StoreUrl::Memory => Ok(Arc::new(crate::memory::MemoryStore::new())),
            #[cfg(feature = "embedded")]
            StoreUrl::Embedded(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || {
                    crate::embedded::EmbeddedStore::open(&path)
                })
                .await
                .map_err(|e| StoreError::Backend(format!("opening the embedded store: {e}")))??;
                Ok(Arc::new(store))
            }
            #[cfg(feature = "etcd")]
            StoreUrl::Etcd(endpoints) => Ok(Arc::new(
                crate::etcd::EtcdStore::connect(endpoints.clone()).await?,
            )),
            #[cfg(feature = "consul")]
            StoreUrl::Consul { addresses, tls } => {
                let mut options = crate::consul::ConsulOptions::new(addresses.clone());
                options.tls = *tls;
                Ok(Arc::new(
                    crate::consul::ConsulStore::connect(options.from_env()?).await?,
                ))
            }
            #[allow(unreachable_patterns)]
            other => Err(StoreError::InvalidArgument(format!(
                "store URL {other}: this build of contiv-store lacks the backend's cargo feature"
            ))),
        }
    }
}

/// Opens the store a URL names (see [`StoreUrl`] for the forms).
pub async fn open_store(url: &str) -> StoreResult<Arc<dyn StateStore>> {
    StoreUrl::parse(url)?.open().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(StoreUrl::parse("memory:").unwrap(), StoreUrl::Memory);
        assert_eq!(
            StoreUrl::parse("embedded:/var/lib/contiv/state.redb").unwrap(),
            StoreUrl::Embedded("/var/lib/contiv/state.redb".into())
        );
        assert_eq!(
            StoreUrl::parse("embedded:rel/state.redb").unwrap(),
            StoreUrl::Embedded("rel/state.redb".into())
        );
        assert_eq!(
            StoreUrl::parse("etcd://10.0.0.1:2379,10.0.0.2:2379").unwrap(),
            StoreUrl::Etcd(vec!["10.0.0.1:2379".into(), "10.0.0.2:2379".into()])
        );
        assert_eq!(
            StoreUrl::parse("http://127.0.0.1:2379,http://127.0.0.2:2379/").unwrap(),
            StoreUrl::Etcd(vec!["127.0.0.1:2379".into(), "127.0.0.2:2379".into()])
        );
        let url = StoreUrl::parse("etcd://a:1,b:2").unwrap();
        assert_eq!(StoreUrl::parse(&url.to_string()).unwrap(), url);
        let consul = StoreUrl::parse("consul://127.0.0.1:8500,[::1]:8500").unwrap();
        assert_eq!(
            consul,
            StoreUrl::Consul {
                addresses: vec!["127.0.0.1:8500".into(), "[::1]:8500".into()],
                tls: false
            }
        );
        assert_eq!(StoreUrl::parse(&consul.to_string()).unwrap(), consul);
        assert_eq!(
            StoreUrl::parse("consuls://c1:8501").unwrap(),
            StoreUrl::Consul {
                addresses: vec!["c1:8501".into()],
                tls: true
            }
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "embedded:",
            "etcd://",
            "etcd://host",
            "etcd://host:notaport",
            "etcd://:2379",
            "https://a:2379",
            "consul://",
            "consul://a",
            "consul://a:8500?token=x",
            "/var/lib/x.redb",
        ] {
            let err = StoreUrl::parse(bad).unwrap_err();
            assert!(
                matches!(&err, StoreError::InvalidArgument(m) if m.contains("store URL")),
                "{bad:?} -> {err:?}"
            );
        }
    }
}
