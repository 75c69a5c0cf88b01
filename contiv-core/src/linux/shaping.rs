//! Bandwidth shaping with a token-bucket qdisc (`tbf`) on an interface's
//! egress, over rtnetlink — the piece every backend that plumbs veths can
//! use for a netprofile's bandwidth, in both directions:
//!
//! * on the **host side** of an endpoint's veth, egress is what the
//!   container **receives**;
//! * on the **container side** (inside its namespace), egress is what the
//!   container **sends**. (A container with `CAP_NET_ADMIN` could remove
//!   its own qdisc; the host side needs none. Ingress policing, which would
//!   avoid that, needs tc's `police` action, absent from this kernel.)
//!
//! [`shape`] is idempotent: it reads the root qdisc first and writes only
//! when it is not the wanted `tbf` (rate and queue limit compared);
//! [`unshape`] removes a `tbf` root qdisc it finds (and nothing else).
//!
//! Which ends of a [`LocalEndpoint`]'s veth carry its shapers, and when a
//! backend converges them, is decided here once for every backend:
//! [`endpoint_sides`] (host side always; the container side for a CNI
//! [`Attachment::Netns`] only — Docker moves the container side itself,
//! which resets its qdiscs), [`shapes_what_it_sends`], [`reshape_needed`]
//! (on add/update) and [`converge_endpoint`] (shape or unshape every side:
//! what a resync calls for every local endpoint, so shapers left behind by
//! a QoS that went away while the agent was down are removed).

use super::PlumbError;
use super::link;
use super::netns::{Netns, netlink};
use crate::datapath::{Attachment, LocalEndpoint};
use futures::StreamExt;
use rtnetlink::packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkMessage,
    NetlinkPayload, Nla,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};

/// `TCA_OPTIONS`.
const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// `TC_LINKLAYER_ETHERNET`: the kernel then needs no rate table.
const LINKLAYER_ETHERNET: u8 = 1;

/// A token bucket: `rate` bytes/s, bursts of `burst` bytes, a queue of
/// `limit` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tbf {
    /// Rate in bytes per second.
    pub rate: u64,
    /// Bucket size in bytes.
    pub burst: u32,
    /// Queue limit in bytes (packets beyond it are dropped).
    pub limit: u32,
}

impl Tbf {
    /// The bucket for `rate_kbps` kbit/s with `burst_kb` kbit of burst (0:
    /// a default of 10 ms at the rate, at least 16 full-size frames) and a
    /// queue of 100 ms at the rate (at least 64 KiB) on top of the burst.
    pub fn from_kbps(rate_kbps: u32, burst_kb: u32) -> Tbf {
        let rate = u64::from(rate_kbps) * 1000 / 8;
        let burst = if burst_kb == 0 {
            (rate / 100).max(16 * 1514)
        } else {
            (u64::from(burst_kb) * 1000 / 8).max(1514)
        };
        let limit = burst + (rate / 10).max(64 * 1024);
        Tbf {
            rate,
            burst: u32::try_from(burst).unwrap_or(u32::MAX),
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
        }
    }

    /// `struct tc_tbf_qopt`: rate (`tc_ratespec`), peak rate, limit,
    /// buffer, mtu — native endian.
    fn qopt(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(36);
        // tc_ratespec: cell_log, linklayer, overhead, cell_align, mpu, rate
        v.push(0);
        v.push(LINKLAYER_ETHERNET);
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&0i16.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&u32::try_from(self.rate).unwrap_or(u32::MAX).to_ne_bytes());
        // peak rate: none
        v.extend_from_slice(&[0u8; 12]);
        v.extend_from_slice(&self.limit.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes()); // buffer: from TCA_TBF_BURST
        v.extend_from_slice(&0u32.to_ne_bytes()); // mtu: no peak rate
        v
    }

    /// Rate (bytes/s) and limit of a `tbf` qdisc's options as the kernel
    /// dumps them (the parser keeps an unknown kind's `TCA_OPTIONS` as one
    /// raw attribute: its nested attributes are walked here).
    fn parse(opts: &[TcOption]) -> Option<(u64, u32)> {
        let mut nested: Vec<(u16, Vec<u8>)> = Vec::new();
        for o in opts {
            let TcOption::Other(nla) = o else { continue };
            let mut v = vec![0u8; nla.value_len()];
            nla.emit_value(&mut v);
            if nla.kind() == TCA_OPTIONS {
                nested.extend(walk(&v));
            } else {
                nested.push((nla.kind(), v));
            }
        }
        let mut rate = None;
        let mut limit = None;
        let mut rate64 = None;
        for (kind, v) in nested {
            match kind {
                TCA_TBF_PARMS if v.len() >= 28 => {
                    rate = Some(u64::from(u32::from_ne_bytes(v[8..12].try_into().ok()?)));
                    limit = Some(u32::from_ne_bytes(v[24..28].try_into().ok()?));
                }
                TCA_TBF_RATE64 if v.len() >= 8 => {
                    rate64 = Some(u64::from_ne_bytes(v[0..8].try_into().ok()?));
                }
                _ => {}
            }
        }
        Some((rate64.or(rate)?, limit?))
    }
}

/// The attributes packed in `buf` (type with the flag bits cleared,
/// value).
fn walk(mut buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, buf[4..len].to_vec()));
        let step = (len + 3) & !3;
        buf = &buf[step.min(buf.len())..];
    }
    out
}

fn fail(what: &str, ifname: &str, e: impl std::fmt::Display) -> PlumbError {
    PlumbError::Netlink {
        what: what.into(),
        ifname: ifname.into(),
        message: e.to_string(),
    }
}

/// The root qdisc of interface `index`: its kind and options.
async fn root_qdisc(
    h: &rtnetlink::Handle,
    index: i32,
    ifname: &str,
) -> Result<Option<(String, Vec<TcOption>)>, PlumbError> {
    use futures::TryStreamExt;
    let mut s = h.clone().qdisc().get().index(index).execute();
    while let Some(m) = s
        .try_next()
        .await
        .map_err(|e| fail("listing the qdiscs of", ifname, e))?
    {
        if m.header.index != index || m.header.parent != TcHandle::ROOT {
            continue;
        }
        let mut kind = String::new();
        let mut opts = Vec::new();
        for a in m.attributes {
            match a {
                TcAttribute::Kind(k) => kind = k,
                TcAttribute::Options(o) => opts = o,
                _ => {}
            }
        }
        return Ok(Some((kind, opts)));
    }
    Ok(None)
}

async fn send(
    h: &rtnetlink::Handle,
    msg: RouteNetlinkMessage,
    flags: u16,
    what: &str,
    ifname: &str,
) -> Result<(), PlumbError> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut resp = h.clone().request(req).map_err(|e| fail(what, ifname, e))?;
    while let Some(m) = resp.next().await {
        if let NetlinkPayload::Error(e) = m.payload
            && e.code.is_some()
        {
            return Err(fail(what, ifname, e));
        }
    }
    Ok(())
}

/// Shapes `ifname`'s egress in `ns` to `tbf`; returns whether it wrote.
pub async fn shape(ns: &Netns, ifname: &str, tbf: Tbf) -> Result<bool, PlumbError> {
    let h = netlink(ns).await?;
    let index = link::index(&h, ifname).await?.ok_or_else(|| {
        PlumbError::Invalid(format!(
            "interface {ifname} does not exist in {}",
            ns.describe()
        ))
    })?;
    let index = i32::try_from(index).unwrap_or(i32::MAX);
    if let Some((kind, opts)) = root_qdisc(&h, index, ifname).await?
        && kind == "tbf"
        && Tbf::parse(&opts) == Some((tbf.rate, tbf.limit))
    {
        return Ok(false);
    }
    let mut m = TcMessage::with_index(index);
    m.header.parent = TcHandle::ROOT;
    m.header.handle = TcHandle { major: 1, minor: 0 };
    let mut opts = vec![
        TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, tbf.qopt())),
        TcOption::Other(DefaultNla::new(
            TCA_TBF_BURST,
            tbf.burst.to_ne_bytes().to_vec(),
        )),
    ];
    if tbf.rate > u64::from(u32::MAX) {
        opts.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            tbf.rate.to_ne_bytes().to_vec(),
        )));
    }
    m.attributes.push(TcAttribute::Kind("tbf".into()));
    m.attributes.push(TcAttribute::Options(opts));
    send(
        &h,
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_REPLACE,
        "adding a tbf qdisc to",
        ifname,
    )
    .await?;
    Ok(true)
}

/// Removes a `tbf` root qdisc from `ifname` in `ns` (none, another kind,
/// or no such interface: nothing to do); returns whether it removed one.
pub async fn unshape(ns: &Netns, ifname: &str) -> Result<bool, PlumbError> {
    let h = netlink(ns).await?;
    let Some(index) = link::index(&h, ifname).await? else {
        return Ok(false);
    };
    let index = i32::try_from(index).unwrap_or(i32::MAX);
    match root_qdisc(&h, index, ifname).await? {
        Some((kind, _)) if kind == "tbf" => {}
        _ => return Ok(false),
    }
    let mut m = TcMessage::with_index(index);
    m.header.parent = TcHandle::ROOT;
    send(
        &h,
        RouteNetlinkMessage::DelQueueDiscipline(m),
        0,
        "removing the tbf qdisc of",
        ifname,
    )
    .await?;
    Ok(true)
}

/// The ends of `ep`'s veth that carry its shapers: the host side (in
/// `host_ns`, the switch namespace: what the endpoint receives) and, for a
/// CNI attachment, its interface in the container (what it sends).
pub fn endpoint_sides(host_ns: &Netns, ep: &LocalEndpoint) -> Vec<(Netns, String)> {
    let mut v = vec![(host_ns.clone(), ep.host_ifname.clone())];
    if let Attachment::Netns { netns, ifname } = &ep.attachment {
        v.push((Netns::Path(netns.clone()), ifname.clone()));
    }
    v
}

/// Whether a `tbf` shapes what `ep` sends (its container side is one of
/// [`endpoint_sides`]). Where it does not (Docker's and pre-plumbed
/// interfaces), a backend must limit the sending direction itself.
pub fn shapes_what_it_sends(ep: &LocalEndpoint) -> bool {
    matches!(ep.attachment, Attachment::Netns { .. })
}

/// `ep`'s bandwidth rate in kbit/s (0: none).
fn rate_of(ep: &LocalEndpoint) -> u32 {
    ep.qos.map_or(0, |q| q.rate_kbps)
}

/// Whether adding `new` (replacing `old`, if any) needs its shapers
/// converged: it has a rate, or the endpoint it replaces had one.
pub fn reshape_needed(old: Option<&LocalEndpoint>, new: &LocalEndpoint) -> bool {
    rate_of(new) > 0 || old.is_some_and(|o| rate_of(o) > 0)
}

/// Makes every one of [`endpoint_sides`] what `ep`'s QoS asks: a rate
/// (with its burst), a `tbf`; no rate, none. Returns the number of
/// qdiscs written or removed (0 when they already were as wanted).
pub async fn converge_endpoint(host_ns: &Netns, ep: &LocalEndpoint) -> Result<usize, PlumbError> {
    let rate = rate_of(ep);
    let mut n = 0;
    for (ns, ifname) in endpoint_sides(host_ns, ep) {
        let wrote = if rate > 0 {
            let burst = ep.qos.map_or(0, |q| q.burst_kb);
            shape(&ns, &ifname, Tbf::from_kbps(rate, burst)).await?
        } else {
            unshape(&ns, &ifname).await?
        };
        n += usize::from(wrote);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_sane_defaults() {
        let t = Tbf::from_kbps(10_000, 0);
        assert_eq!(t.rate, 1_250_000);
        assert_eq!(t.burst, 16 * 1514);
        assert!(t.limit > t.burst);
        let q = t.qopt();
        assert_eq!(q.len(), 36);
        let parsed = Tbf::parse(&[TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, q))]);
        assert_eq!(parsed, Some((t.rate, t.limit)));
        assert_eq!(Tbf::from_kbps(8, 1).burst, 1514);
    }

    fn ep(attachment: Attachment, rate_kbps: Option<u32>) -> LocalEndpoint {
        LocalEndpoint {
            id: "e".into(),
            network: "n".into(),
            epg: 0,
            ipv4: None,
            ipv6: None,
            mac: crate::datapath::MacAddr([2, 2, 10, 1, 0, 2]),
            host_ifname: "vh1".into(),
            attachment,
            mtu: 1450,
            qos: rate_kbps.map(|rate_kbps| crate::datapath::Qos {
                rate_kbps,
                burst_kb: 0,
                dscp: 46,
            }),
        }
    }

    #[test]
    fn an_endpoint_is_shaped_on_the_ends_a_backend_can_keep() {
        let host = Netns::Path("/run/netns/h".into());
        let cni = Attachment::Netns {
            netns: "/run/netns/c".into(),
            ifname: "eth0".into(),
        };
        let docker = Attachment::HostVeth {
            peer_name: "vp1".into(),
        };
        let sides = |a: &Attachment| {
            endpoint_sides(&host, &ep(a.clone(), Some(1)))
                .into_iter()
                .map(|(ns, i)| (ns.describe(), i))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sides(&cni),
            vec![
                (host.describe(), "vh1".to_owned()),
                (
                    Netns::Path("/run/netns/c".into()).describe(),
                    "eth0".to_owned()
                )
            ]
        );
        assert_eq!(sides(&docker), vec![(host.describe(), "vh1".to_owned())]);
        assert_eq!(sides(&Attachment::Existing), sides(&docker));
        assert!(shapes_what_it_sends(&ep(cni.clone(), Some(1))));
        assert!(!shapes_what_it_sends(&ep(docker, Some(1))));
        // Converged when there is or was a rate; DSCP alone needs none.
        let (with, without) = (ep(cni.clone(), Some(1)), ep(cni.clone(), None));
        let dscp_only = LocalEndpoint {
            qos: with.qos.map(|q| crate::datapath::Qos { rate_kbps: 0, ..q }),
            ..with.clone()
        };
        assert!(reshape_needed(None, &with));
        assert!(reshape_needed(Some(&with), &without));
        assert!(!reshape_needed(None, &without));
        assert!(!reshape_needed(Some(&dscp_only), &without));
    }
}
