//! tcx attachments: one pinned link per hooked interface, named
//! `<hook>_<ifindex>` under the links directory, so attachments survive the
//! agent and a restarted one finds them.

use crate::plumbing::in_ns;
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use contiv_core::datapath::DpError;
use contiv_core::linux::Netns;
use std::path::{Path, PathBuf};

/// Which classifier an interface runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// A local endpoint's host-side veth (`from_endpoint`).
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

/// One pinned attachment.
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
