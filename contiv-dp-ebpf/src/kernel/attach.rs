//! Attachments of the classifiers.
//!
//! * `from_vxlan`, `from_uplink`, `from_host`: tcx, one pinned link per
//!   hooked interface, named `<hook>_<ifindex>` under the links directory,
//!   so attachments survive the agent and a restarted one finds them. They
//!   are made once per device, not per endpoint.
//! * `from_endpoint`: a netlink `cls_bpf` filter ([`clsbpf`]) on each
//!   endpoint's host-side veth — made on every CNI ADD, where a tcx attach
//!   would cost an RCU grace period. The filter lives in the kernel without
//!   a pin; a restarted agent finds it by a dump. An `ep_<ifindex>` tcx pin
//!   is what an agent of the previous version left: [`ensure_endpoint`]
//!   replaces it with the filter (then unpins it, so no packet runs the
//!   program twice) and a resync removes the stale ones.

use super::clsbpf;
use crate::plumbing::in_ns;
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use contiv_core::datapath::DpError;
use contiv_core::linux::Netns;
use futures::TryStreamExt;
use rtnetlink::Handle;
use std::collections::{BTreeSet, HashSet};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

/// Which classifier an interface runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// A local endpoint's host-side veth (`from_endpoint`): as a pin, only
    /// a tcx link an agent of the previous version left.
    Endpoint,
    /// The VXLAN device (`from_vxlan`).
    Vxlan,
    /// The VLAN uplink (`from_uplink`).
    Uplink,
    /// The datapath's end of the host port (`from_host`).
    Host,
}

impl Hook {
    fn prefix(self) -> &'static str {
        match self {
            Hook::Endpoint => "ep",
            Hook::Vxlan => "vxlan",
            Hook::Uplink => "uplink",
            Hook::Host => "host",
        }
    }

    fn parse(s: &str) -> Option<Hook> {
        match s {
            "ep" => Some(Hook::Endpoint),
            "vxlan" => Some(Hook::Vxlan),
            "uplink" => Some(Hook::Uplink),
            "host" => Some(Hook::Host),
            _ => None,
        }
    }
}

/// One pinned attachment (or, for [`Hook::Endpoint`], a filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attachment {
    /// The classifier.
    pub hook: Hook,
    /// The interface.
    pub ifindex: u32,
}

impl Attachment {
    /// Its pin file.
    pub fn pin(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}_{}", self.hook.prefix(), self.ifindex))
    }
}

fn err(what: String) -> impl FnOnce(String) -> DpError {
    move |e| DpError::Backend(format!("{what}: {e}"))
}

/// Every pinned attachment in `dir`.
pub fn list(dir: &Path) -> Result<Vec<Attachment>, DpError> {
    let mut v = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(DpError::Backend(format!("reading {}: {e}", dir.display()))),
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((h, i)) = name.rsplit_once('_') else {
            continue;
        };
        if let (Some(hook), Ok(ifindex)) = (Hook::parse(h), i.parse()) {
            v.push(Attachment { hook, ifindex });
        }
    }
    v.sort();
    Ok(v)
}

/// Whether `prog_id` is attached (tcx ingress) on `ifname` in `ns`.
pub fn runs_on(ns: &Netns, ifname: &str, prog_id: u32) -> bool {
    let q = in_ns(ns, || {
        SchedClassifier::query_tcx(ifname, TcAttachType::Ingress).ok()
    });
    match q {
        Ok(Some((_, progs))) => progs.iter().any(|p| p.id() == prog_id),
        _ => false,
    }
}

/// Makes `prog` (kernel id `prog_id`) run on `ifname` (index `ifindex`)
/// through a pinned link; true if a link was created, false if it was there.
pub fn ensure(
    ns: &Netns,
    prog: &mut SchedClassifier,
    prog_id: u32,
    dir: &Path,
    hook: Hook,
    ifname: &str,
    ifindex: u32,
) -> Result<bool, DpError> {
    let a = Attachment { hook, ifindex };
    let pin = a.pin(dir);
    if pin.exists() {
        if runs_on(ns, ifname, prog_id) {
            return Ok(false);
        }
        // A link of an older program, or one whose interface went away and
        // came back with the same index: replace it.
        remove(dir, a)?;
    }
    let id = in_ns(ns, || {
        prog.attach_with_options(
            ifname,
            TcAttachType::Ingress,
            TcAttachOptions::TcxOrder(LinkOrder::default()),
        )
    })
    .map_err(DpError::Backend)?
    .map_err(|e| DpError::Backend(format!("attaching the classifier to {ifname}: {e}")))?;
    let link = prog
        .take_link(id)
        .map_err(|e| DpError::Backend(format!("link on {ifname}: {e}")))?;
    let fd: FdLink = link
        .try_into()
        .map_err(|e: aya::programs::links::LinkError| {
            DpError::Backend(format!("link on {ifname}: {e}"))
        })?;
    fd.pin(&pin)
        .map_err(|e| DpError::Backend(format!("pinning the link of {ifname}: {e}")))?;
    Ok(true)
}

/// Points the pinned link `a` at `prog` (after a program upgrade): one
/// atomic link update, no moment without a program.
pub fn repoint(prog: &mut SchedClassifier, dir: &Path, a: Attachment) -> Result<(), DpError> {
    let pin = a.pin(dir);
    let shown = pin.display().to_string();
    let pinned = PinnedLink::from_pin(&pin).map_err(|e| err(shown.clone())(e.to_string()))?;
    let link = SchedClassifierLink::try_from(FdLink::from(pinned))
        .map_err(|e| err(shown.clone())(e.to_string()))?;
    let id = prog
        .attach_to_link(link)
        .map_err(|e| err(format!("updating {shown}"))(e.to_string()))?;
    // The link stays pinned; drop our handle on it.
    drop(prog.take_link(id));
    Ok(())
}

/// Removes attachment `a` (its pin; the link detaches when no one holds
/// it). Missing is fine.
pub fn remove(dir: &Path, a: Attachment) -> Result<(), DpError> {
    match std::fs::remove_file(a.pin(dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DpError::Backend(format!(
            "removing {}: {e}",
            a.pin(dir).display()
        ))),
    }
}

fn nl(e: clsbpf::NlError) -> DpError {
    DpError::Backend(e.message)
}

/// Makes `prog` (kernel id `prog_id`) run on endpoint interface `ifindex`
/// as our `cls_bpf` filter, replacing a legacy tcx pin in `dir`; true if
/// anything changed.
pub async fn ensure_endpoint(
    h: &Handle,
    prog: &SchedClassifier,
    prog_id: u32,
    dir: &Path,
    ifindex: u32,
) -> Result<bool, DpError> {
    let now = clsbpf::ours(h, ifindex).await.map_err(nl)?;
    let mut changed = false;
    if now != Some(prog_id) {
        if now.is_none() {
            clsbpf::add_clsact(h, ifindex).await.map_err(nl)?;
        }
        let fd = prog
            .fd()
            .map_err(|e| DpError::Backend(format!("the endpoint classifier: {e}")))?;
        clsbpf::put(h, ifindex, fd.as_fd().as_raw_fd())
            .await
            .map_err(nl)?;
        changed = true;
    }
    // The filter runs now; a tcx link of the previous version would run
    // first (and the program twice): it goes.
    let legacy = Attachment {
        hook: Hook::Endpoint,
        ifindex,
    };
    if legacy.pin(dir).exists() {
        remove(dir, legacy)?;
        changed = true;
    }
    Ok(changed)
}

/// Removes the endpoint attachment of `ifindex` (filter and legacy pin).
/// An interface the datapath made (`owned`) is about to be deleted, which
/// takes its filter along: nothing is sent for it. On another one the
/// `clsact` qdisc goes too when no filter is left on it.
pub async fn remove_endpoint(
    h: &Handle,
    dir: &Path,
    ifindex: u32,
    owned: bool,
) -> Result<(), DpError> {
    remove(
        dir,
        Attachment {
            hook: Hook::Endpoint,
            ifindex,
        },
    )?;
    if owned {
        return Ok(());
    }
    clsbpf::remove(h, ifindex).await.map_err(nl)?;
    if clsbpf::filters(h, ifindex).await.map_err(nl)?.is_empty()
        && clsbpf::egress_filters(h, ifindex)
            .await
            .map_err(nl)?
            .is_empty()
    {
        clsbpf::remove_clsact(h, ifindex).await.map_err(nl)?;
    }
    Ok(())
}

/// Every interface of the namespace whose endpoint filter runs a program
/// of this datapath (one that uses a map of `map_ids`: the current
/// program or an older one over the same pinned maps, not another
/// datapath's in the same namespace), and each legacy endpoint pin in
/// `dir`. A dump of every interface's ingress filters: for restarts and
/// resyncs, not the per-endpoint path.
pub async fn endpoints(
    h: &Handle,
    dir: &Path,
    map_ids: &HashSet<u32>,
) -> Result<BTreeSet<u32>, DpError> {
    let mut v: BTreeSet<u32> = list(dir)?
        .into_iter()
        .filter(|a| a.hook == Hook::Endpoint)
        .map(|a| a.ifindex)
        .collect();
    let mut s = h.link().get().execute();
    let mut all = Vec::new();
    loop {
        match s.try_next().await {
            Ok(Some(m)) => all.push(m.header.index),
            Ok(None) => break,
            Err(e) => return Err(DpError::Backend(format!("netlink: listing links: {e}"))),
        }
    }
    let mut found = Vec::new();
    for i in all {
        if let Some(prog) = clsbpf::ours(h, i).await.map_err(nl)? {
            found.push((i, prog));
        }
    }
    if found.is_empty() {
        return Ok(v);
    }
    // Which loaded programs read our maps.
    let mine: HashSet<u32> = aya::programs::loaded_programs()
        .flatten()
        .filter(|p| matches!(p.map_ids(), Ok(Some(ids)) if ids.iter().any(|m| map_ids.contains(m))))
        .map(|p| p.id())
        .collect();
    v.extend(
        found
            .into_iter()
            .filter(|(_, prog)| mine.contains(prog))
            .map(|(i, _)| i),
    );
    Ok(v)
}
