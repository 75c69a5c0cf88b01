//! Netlink `cls_bpf` filters (direct-action, on a `clsact` qdisc's
//! ingress): how `from_endpoint` runs on endpoints' host-side veths.
//!
//! Why not tcx, as on the other hooks: a tcx attach swaps the device's
//! program list and waits for an RCU grace period (8–18 ms measured here,
//! on every CNI ADD), where adding a `clsact` qdisc and a filter to a fresh
//! veth takes ~0.1 ms (`examples/attach_timing.rs`). A filter lives in the
//! kernel without a pin — it goes with its device — so a killed agent
//! loses nothing; ours is recognised by a fixed priority, handle and name
//! ([`PRIORITY`], [`HANDLE`], [`NAME`]), and the program it runs by its
//! kernel id, which a dump reports. Every call goes through the rtnetlink
//! handle of the datapath's namespace.

use futures::TryStreamExt;
use futures::stream::StreamExt;
use rtnetlink::Handle;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::tc::{
    TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcMessage, TcOption,
};
use std::os::fd::RawFd;

/// The filter's priority on the ingress hook (lower runs first).
pub const PRIORITY: u16 = 1;
/// The filter's handle at that priority.
pub const HANDLE: u32 = 1;
/// The name the filter carries (`tc filter show` prints it).
pub const NAME: &str = "contiv_from_endpoint";

const ETH_P_ALL: u16 = 0x0003;

/// A netlink failure: the errno (if the kernel sent one) and the message.
#[derive(Debug)]
pub struct NlError {
    /// The kernel's errno, positive.
    pub errno: Option<i32>,
    /// What failed.
    pub message: String,
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn nl_err(what: &str, ifindex: u32, e: rtnetlink::Error) -> NlError {
    let errno = match &e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    };
    NlError {
        errno,
        message: format!("netlink: {what} of interface {ifindex}: {e}"),
    }
}

async fn request(
    h: &Handle,
    msg: RouteNetlinkMessage,
    flags: u16,
    what: &str,
    ifindex: u32,
) -> Result<(), NlError> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut resp = h
        .clone()
        .request(req)
        .map_err(|e| nl_err(what, ifindex, e))?;
    while let Some(m) = resp.next().await {
        if let NetlinkPayload::Error(e) = m.payload
            && e.code.is_some()
        {
            return Err(nl_err(what, ifindex, rtnetlink::Error::NetlinkError(e)));
        }
    }
    Ok(())
}

fn ingress() -> TcHandle {
    TcHandle {
        major: 0xffff,
        minor: TcHandle::MIN_INGRESS,
    }
}

fn filter_msg(ifindex: u32) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = ingress();
    m.header.handle = TcHandle::from(HANDLE);
    m.header.info = (u32::from(PRIORITY) << 16) | u32::from(ETH_P_ALL.to_be());
    m.attributes.push(TcAttribute::Kind("bpf".into()));
    m
}

fn clsact_msg(ifindex: u32) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = TcHandle::CLSACT;
    m.header.handle = TcHandle {
        major: 0xffff,
        minor: 0,
    };
    m.attributes.push(TcAttribute::Kind("clsact".into()));
    m
}

/// Adds a `clsact` qdisc to `ifindex` (one that is there is fine).
pub async fn add_clsact(h: &Handle, ifindex: u32) -> Result<(), NlError> {
    match request(
        h,
        RouteNetlinkMessage::NewQueueDiscipline(clsact_msg(ifindex)),
        NLM_F_CREATE | NLM_F_EXCL,
        "adding the clsact qdisc",
        ifindex,
    )
    .await
    {
        Err(e) if e.errno == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

/// Removes the `clsact` qdisc of `ifindex` (none is fine).
pub async fn remove_clsact(h: &Handle, ifindex: u32) -> Result<(), NlError> {
    let r = request(
        h,
        RouteNetlinkMessage::DelQueueDiscipline(clsact_msg(ifindex)),
        0,
        "removing the clsact qdisc",
        ifindex,
    )
    .await;
    absent_is_fine(r)
}

/// A removal's result, where "nothing to remove" (no such object or device)
/// counts as done.
fn absent_is_fine(r: Result<(), NlError>) -> Result<(), NlError> {
    match r {
        Err(e) if matches!(e.errno, Some(libc::ENOENT | libc::ENODEV | libc::EINVAL)) => Ok(()),
        r => r,
    }
}

/// Makes our filter on `ifindex` run program `prog_fd`: created, or the
/// existing one's program replaced in place (atomic: no moment without a
/// program). The `clsact` qdisc must exist.
pub async fn put(h: &Handle, ifindex: u32, prog_fd: RawFd) -> Result<(), NlError> {
    let mut m = filter_msg(ifindex);
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(prog_fd as u32)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(NAME.into())),
        TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
    ]));
    request(
        h,
        RouteNetlinkMessage::NewTrafficFilter(m),
        NLM_F_CREATE,
        "attaching the classifier (cls_bpf)",
        ifindex,
    )
    .await
}

/// Removes our filter from `ifindex` (none, or no such device, is fine).
pub async fn remove(h: &Handle, ifindex: u32) -> Result<(), NlError> {
    let r = request(
        h,
        RouteNetlinkMessage::DelTrafficFilter(filter_msg(ifindex)),
        0,
        "detaching the classifier (cls_bpf)",
        ifindex,
    )
    .await;
    absent_is_fine(r)
}

/// What runs on `ifindex`'s tc ingress: `(priority, handle, name, program
/// id)` of every bpf filter (none when the device or its clsact is
/// missing).
pub async fn filters(h: &Handle, ifindex: u32) -> Result<Vec<Filter>, NlError> {
    dump(h, ifindex, false).await
}

/// The bpf filters of `ifindex`'s tc egress.
pub async fn egress_filters(h: &Handle, ifindex: u32) -> Result<Vec<Filter>, NlError> {
    dump(h, ifindex, true).await
}

async fn dump(h: &Handle, ifindex: u32, egress: bool) -> Result<Vec<Filter>, NlError> {
    let g = h.traffic_filter(ifindex as i32).get();
    let mut s = if egress { g.egress() } else { g.ingress() }.execute();
    let mut v = Vec::new();
    loop {
        let m = match s.try_next().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                let e = nl_err("listing the tc filters", ifindex, e);
                if matches!(e.errno, Some(libc::ENOENT | libc::ENODEV | libc::EINVAL)) {
                    break;
                }
                return Err(e);
            }
        };
        let mut f = Filter {
            priority: (m.header.info >> 16) as u16,
            handle: u32::from(m.header.handle),
            name: String::new(),
            prog_id: 0,
        };
        let mut bpf = false;
        for a in &m.attributes {
            match a {
                TcAttribute::Kind(k) => bpf = k == "bpf",
                TcAttribute::Options(opts) => {
                    for o in opts {
                        match o {
                            TcOption::Bpf(TcFilterBpfOption::ProgName(n)) => f.name = n.clone(),
                            TcOption::Bpf(TcFilterBpfOption::ProgId(i)) => f.prog_id = *i,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        // A dump also lists the priority's chain head (handle 0).
        if bpf && f.handle != 0 {
            v.push(f);
        }
    }
    Ok(v)
}

/// One bpf filter on a tc ingress hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Its priority.
    pub priority: u16,
    /// Its handle.
    pub handle: u32,
    /// The name it was given.
    pub name: String,
    /// The kernel id of the program it runs.
    pub prog_id: u32,
}

impl Filter {
    /// It is the datapath's `from_endpoint` filter.
    pub fn is_ours(&self) -> bool {
        self.priority == PRIORITY && self.handle == HANDLE && self.name == NAME
    }
}

/// The program id our filter on `ifindex` runs, if it is there.
pub async fn ours(h: &Handle, ifindex: u32) -> Result<Option<u32>, NlError> {
    Ok(filters(h, ifindex)
        .await?
        .into_iter()
        .find(Filter::is_ours)
        .map(|f| f.prog_id))
}
