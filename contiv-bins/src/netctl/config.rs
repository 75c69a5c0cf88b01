//! Where netctl connects and how it authenticates: the `--netmaster` URL,
//! `--insecure`, and the bearer token from `--token` or
//! `~/.netctl/config.json` (`{"token": "…"}`, written by `netctl login`).

use super::error::NetctlError;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Default netmaster URL. The original defaulted to `http://netmaster:9999`;
/// our netmaster listens on 127.0.0.1:9999 unless configured otherwise.
pub const DEFAULT_NETMASTER: &str = "http://127.0.0.1:9999";

/// Resolved connection settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Base URL without trailing slash, `http://…` or `https://…`.
    pub netmaster: String,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Bearer token sent with every request, if any.
    pub token: Option<String>,
    /// CA certificates (DER) an https netmaster is verified against
    /// (`--cacert`); empty: the public web roots.
    pub ca_certs: Vec<Vec<u8>>,
}

/// Where a token came from (for error messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenSource {
    Flag,
    File,
}

impl ClientConfig {
    /// Builds the settings from the global flags. `home` is the user's home
    /// directory, where `.netctl/config.json` is looked up when `--token` is
    /// not given.
    ///
    /// Errors: a URL that is not `http://` or `https://` (usage); an
    /// unreadable or malformed config file; a token that would travel in
    /// clear text over `http://` to a host other than loopback (the
    /// original refused tokens over plain http altogether).
    pub fn resolve(
        netmaster: &str,
        insecure: bool,
        token: Option<&str>,
        home: Option<&Path>,
    ) -> Result<Self, NetctlError> {
        let url = netmaster.trim_end_matches('/');
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || host_of(url).is_empty() {
            return Err(NetctlError::usage(format!(
                "invalid --netmaster URL {netmaster:?}: it must begin with http:// or https:// and name a host"
            )));
        }
        let (token, source) = match token {
            Some(t) => (Some(t.to_owned()), TokenSource::Flag),
            None => match home {
                Some(home) => (read_token(&config_path(home))?, TokenSource::File),
                None => (None, TokenSource::File),
            },
        };
        if token.is_some() && url.starts_with("http://") && !is_loopback_host(host_of(url)) {
            let msg = format!(
                "refusing to send the auth token in clear text to {url}: use an https:// netmaster URL"
            );
            return Err(match source {
                TokenSource::Flag => NetctlError::usage(msg),
                TokenSource::File => NetctlError::Config {
                    path: home
                        .map(config_path)
                        .unwrap_or_default()
                        .display()
                        .to_string(),
                    reason: msg,
                },
            });
        }
        Ok(ClientConfig {
            netmaster: url.to_owned(),
            insecure,
            token,
            ca_certs: Vec::new(),
        })
    }

    /// Trusts the CA certificates of the PEM file `cacert` (`--cacert`)
    /// for an https netmaster. An unreadable file or one without a
    /// certificate is a configuration error.
    pub fn with_cacert(mut self, cacert: Option<&Path>) -> Result<Self, NetctlError> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let Some(path) = cacert else {
            return Ok(self);
        };
        let bad = |reason: String| NetctlError::Config {
            path: path.display().to_string(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(format!("cannot read the CA certificate file ({e})")))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
        if certs.is_empty() {
            return Err(bad("no certificate in the file".into()));
        }
        self.ca_certs = certs.into_iter().map(|c| c.as_ref().to_vec()).collect();
        Ok(self)
    }

    /// True if the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.netmaster.starts_with("https://")
    }

    /// The full URL of a request path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.netmaster, path)
    }

    /// True if the netmaster host is `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(host_of(&self.netmaster))
    }
}

/// `<home>/.netctl/config.json`.
pub fn config_path(home: &Path) -> PathBuf {
    home.join(".netctl").join("config.json")
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    token: String,
}

/// Reads the token from a config file; a missing file means no token.
fn read_token(path: &Path) -> Result<Option<String>, NetctlError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NetctlError::io(format!("reading {}", path.display()), e)),
    };
    let cfg: ConfigFile = serde_json::from_slice(&data).map_err(|e| NetctlError::Config {
        path: path.display().to_string(),
        reason: format!("not valid JSON ({e})"),
    })?;
    Ok((!cfg.token.is_empty()).then_some(cfg.token))
}

/// Writes the login answer (`{"token": …}`) as the config file: directory
/// mode 0700, file mode 0600, as the original.
pub fn write_config(home: &Path, body: &[u8]) -> Result<PathBuf, NetctlError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = config_path(home);
    let dir = home.join(".netctl");
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(NetctlError::io(format!("creating {}", dir.display()), e));
    }
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(body)
    };
    write().map_err(|e| NetctlError::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

/// The host part of an `http(s)://` URL (without port, userinfo or brackets).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    hostport.split(':').next().unwrap_or("")
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_extracted() {
        assert_eq!(host_of("http://127.0.0.1:9999"), "127.0.0.1");
        assert_eq!(host_of("https://user:pw@netmaster/x"), "netmaster");
        assert_eq!(host_of("http://[::1]:9999"), "::1");
        assert_eq!(host_of("http://"), "");
    }

    #[test]
    fn url_scheme_is_required() {
        let err = ClientConfig::resolve("netmaster:9999", false, None, None).unwrap_err();
        assert_eq!(err.exit(), super::super::error::Exit::Usage);
        let ok = ClientConfig::resolve("http://netmaster:9999/", false, None, None).unwrap();
        assert_eq!(ok.netmaster, "http://netmaster:9999");
        assert_eq!(ok.url("/version"), "http://netmaster:9999/version");
    }

    #[test]
    fn token_needs_https_unless_loopback() {
        assert!(ClientConfig::resolve("http://10.0.0.1:9999", false, Some("t"), None).is_err());
        let c = ClientConfig::resolve("http://localhost:9999", false, Some("t"), None).unwrap();
        assert_eq!(c.token.as_deref(), Some("t"));
        let c = ClientConfig::resolve("https://10.0.0.1", true, Some("t"), None).unwrap();
        assert!(c.is_https() && c.insecure);
    }
}
