//! The HTTP requests netctl sends, as plain values.
//!
//! Every command turns into one or more [`Request`]s built here, so the REST
//! contract (method, path with its trailing slash, JSON body) can be checked
//! without a server. Paths follow netmaster's `/api/v1/` API (CONTIV.md
//! §3.1): `GET /api/v1/<collection>/` lists, `GET|POST|DELETE
//! /api/v1/<collection>/<key>/` reads, creates (create = update) and
//! deletes, `GET /api/v1/inspect/<collection>/<key>/` inspects.

use contiv_core::model::ModelObject;
use std::fmt;

/// HTTP methods netctl uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST (create or update)
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// The method name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request: method, path below the netmaster URL, optional JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, starting with `/` (e.g. `/api/v1/networks/default:web/`).
    pub path: String,
    /// The JSON body (POST only).
    pub body: Option<String>,
}

/// Path prefix of the model API.
pub const API: &str = "/api/v1";
/// Path of the auth_proxy login endpoint (`netctl login`).
pub const LOGIN_PATH: &str = "/api/v1/auth_proxy/login/";

impl Request {
    /// `GET /api/v1/<collection>/`: list every object of a type.
    pub fn list<T: ModelObject>() -> Self {
        Request::get_path(format!("{API}/{}/", T::COLLECTION))
    }

    /// `GET /api/v1/<collection>/<key>/`: one object.
    pub fn get<T: ModelObject>(key: &str) -> Self {
        Request::get_path(object_path::<T>(key))
    }

    /// `GET /api/v1/inspect/<collection>/<key>/`: `{Config, Oper}` of one object.
    pub fn inspect<T: ModelObject>(key: &str) -> Self {
        Request::get_path(format!(
            "{API}/inspect/{}/{}/",
            T::COLLECTION,
            encode_key(key)
        ))
    }

    /// `GET /api/v1/inspect/endpoints/<key>/`: the first endpoint whose id,
    /// container id or container name contains `key`.
    pub fn inspect_endpoint(key: &str) -> Self {
        Request::get_path(format!("{API}/inspect/endpoints/{}/", encode_key(key)))
    }

    /// `POST /api/v1/<collection>/<key>/` with the object as body. The
    /// object's `key` field is set to the key derived from its key fields
    /// (netmaster also copies the URL key into it, as the original did).
    pub fn create<T: ModelObject>(obj: &T) -> Result<Self, serde_json::Error> {
        let mut obj = obj.clone();
        let key = obj.derived_key();
        obj.set_key(key.clone());
        Ok(Request {
            method: Method::Post,
            path: object_path::<T>(&key),
            body: Some(serde_json::to_string(&obj)?),
        })
    }

    /// `DELETE /api/v1/<collection>/<key>/`.
    pub fn delete<T: ModelObject>(key: &str) -> Self {
        Request {
            method: Method::Delete,
            path: object_path::<T>(key),
            body: None,
        }
    }

    /// `GET /version`: netmaster's version information.
    pub fn version() -> Self {
        Request::get_path("/version".to_owned())
    }

    /// `POST /api/v1/auth_proxy/login/` with `{"username","password"}`.
    pub fn login(username: &str, password: &str) -> Self {
        let body = serde_json::json!({ "username": username, "password": password });
        Request {
            method: Method::Post,
            path: LOGIN_PATH.to_owned(),
            body: Some(body.to_string()),
        }
    }

    fn get_path(path: String) -> Self {
        Request {
            method: Method::Get,
            path,
            body: None,
        }
    }

    /// The body parsed as JSON (for tests and debugging).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        self.body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn object_path<T: ModelObject>(key: &str) -> String {
    format!("{API}/{}/{}/", T::COLLECTION, encode_key(key))
}

/// Percent-encodes a key for use as one path segment. Keys are normally
/// made of name characters and `:`, which pass unchanged; anything that
/// would change the path's meaning (`/`, `?`, `#`, `%`, spaces, …) is
/// encoded so a bad name reaches netmaster's validation instead of another
/// route.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::model::{Bgp, Global, Network, Policy};

    #[test]
    fn collection_paths_have_trailing_slashes() {
        assert_eq!(Request::list::<Policy>().path, "/api/v1/policys/");
        assert_eq!(
            Request::get::<Global>("global").path,
            "/api/v1/globals/global/"
        );
        assert_eq!(
            Request::inspect::<Network>("default:web").path,
            "/api/v1/inspect/networks/default:web/"
        );
        assert_eq!(Request::delete::<Bgp>("host1").path, "/api/v1/Bgps/host1/");
        assert_eq!(Request::delete::<Bgp>("host1").method, Method::Delete);
    }

    #[test]
    fn create_sets_the_derived_key() {
        let net = Network {
            tenant_name: "blue".into(),
            network_name: "web".into(),
            subnet: "10.1.1.0/24".into(),
            ..Default::default()
        };
        let req = Request::create(&net).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.path, "/api/v1/networks/blue:web/");
        let body = req.body_json().unwrap();
        assert_eq!(body["key"], "blue:web");
        assert_eq!(body["subnet"], "10.1.1.0/24");
    }

    #[test]
    fn keys_are_encoded_as_one_segment() {
        assert_eq!(encode_key("default:prod_web"), "default:prod_web");
        assert_eq!(encode_key("a/b c?#%"), "a%2Fb%20c%3F%23%25");
        assert_eq!(encode_key("é"), "%C3%A9");
    }
}
