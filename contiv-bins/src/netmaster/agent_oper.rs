//! Live state netmaster reads from an agent's control API (the address in
//! its node record): the host's BGP speaker for `inspect` of a `Bgp`
//! object, as the original read `http://<host>:9090/inspect/bgp`. With
//! credentials configured, netmaster presents the host's node token — the
//! credential the agent itself holds and checks.

use super::Netmaster;
use axum::body::Body;
use axum::http::{Request, header};
use contiv_core::model::BgpOper;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// How long netmaster waits for an agent's answer.
const AGENT_TIMEOUT: Duration = Duration::from_secs(3);

fn unavailable(why: String) -> BgpOper {
    BgpOper {
        error: why,
        ..BgpOper::default()
    }
}

/// The BGP state of `host` as its agent reports it; when the agent cannot
/// be asked, an Oper whose `error` says why.
pub async fn bgp(nm: &Netmaster, host: &str) -> BgpOper {
    let node = nm.cache.read().nodes.get(host).cloned();
    let Some(node) = node else {
        return unavailable(format!("host {host} has no registered agent"));
    };
    if node.ctrl_addr.is_empty() {
        return unavailable(format!(
            "the agent of host {host} serves no control API (netplugin --ctrl-listen)"
        ));
    }
    let url = format!("{}/inspect/bgp", node.ctrl_addr.trim_end_matches('/'));
    let token = nm.settings.credentials.node_token(host);
    match tokio::time::timeout(AGENT_TIMEOUT, get(&url, token.as_deref())).await {
        Ok(Ok(oper)) => oper,
        Ok(Err(e)) => unavailable(format!(
            "cannot read BGP state from the agent of host {host} ({url}): {e}"
        )),
        Err(_) => unavailable(format!(
            "the agent of host {host} did not answer {url} within {}s",
            AGENT_TIMEOUT.as_secs()
        )),
    }
}

async fn get(url: &str, token: Option<&str>) -> Result<BgpOper, String> {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut req = Request::get(url);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Body::empty()).map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("invalid answer: {e}"))
}
