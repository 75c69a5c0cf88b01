//! Loading the embedded object: maps pinned by name (adopted when a pin
//! exists), the four classifiers loaded and pinned (a pinned program with
//! the same instructions and maps is kept, so a restart changes nothing).

use super::maps::Maps;
use crate::object;
use aya::programs::SchedClassifier;
use aya::{Ebpf, EbpfLoader};
use contiv_core::datapath::DpError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The classifiers of the object.
pub const PROGRAMS: [&str; 4] = ["from_endpoint", "from_vxlan", "from_uplink", "from_host"];

/// One loaded classifier (the pinned instance in use).
#[derive(Debug)]
pub struct Program {
    /// The program, opened from its pin.
    pub prog: SchedClassifier,
    /// Its kernel id.
    pub id: u32,
    /// It replaced a different pinned program (links must move to it).
    pub replaced: bool,
}

/// The classifiers.
#[derive(Debug)]
pub struct Programs {
    /// On local endpoints' host-side veths.
    pub endpoint: Program,
    /// On the VXLAN device.
    pub vxlan: Program,
    /// On the VLAN uplink.
    pub uplink: Program,
    /// On the datapath's end of the host port.
    pub host: Program,
}

/// What a load found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Maps created (no pin existed).
    pub maps_created: usize,
    /// Maps adopted from their pins.
    pub maps_adopted: usize,
    /// Programs (re)pinned because none or a different one was pinned.
    pub programs_replaced: usize,
}

/// The directories under the pin root.
pub fn maps_dir(root: &Path) -> PathBuf {
    root.join("maps")
}

/// Programs' pin directory.
pub fn progs_dir(root: &Path) -> PathBuf {
    root.join("progs")
}

/// Links' pin directory.
pub fn links_dir(root: &Path) -> PathBuf {
    root.join("links")
}

fn backend(what: &str) -> impl Fn(String) -> DpError + '_ {
    move |e| DpError::Backend(format!("{what}: {e}"))
}

/// Loads maps and programs under `root` (see the module docs).
pub fn load(root: &Path) -> Result<(Maps, Programs, LoadReport), DpError> {
    for d in [maps_dir(root), progs_dir(root), links_dir(root)] {
        std::fs::create_dir_all(&d)
            .map_err(|e| DpError::Backend(format!("cannot create {}: {e}", d.display())))?;
    }
    let mut report = LoadReport::default();
    let mdir = maps_dir(root);
    let mut loader = EbpfLoader::new();
    let mut paths = Vec::new();
    for name in super::maps::NAMES {
        let p = mdir.join(name);
        if p.exists() {
            report.maps_adopted += 1;
        } else {
            report.maps_created += 1;
        }
        paths.push((name, p));
    }
    for (name, p) in &paths {
        loader.map_pin_path(name, p.as_path());
    }
    let mut ebpf = loader.load(object::DATAPATH).map_err(|e| {
        DpError::Backend(format!(
            "loading the BPF object (maps pinned in {}): {e}",
            mdir.display()
        ))
    })?;
    let maps = Maps::take(&mut ebpf)?;
    let map_ids = maps.ids.clone();
    let pdir = progs_dir(root);
    let mut progs = Vec::new();
    for name in PROGRAMS {
        let p = program(&mut ebpf, name, &pdir, &map_ids)?;
        if p.replaced {
            report.programs_replaced += 1;
        }
        progs.push(p);
    }
    let mut it = progs.into_iter();
    let (Some(endpoint), Some(vxlan), Some(uplink), Some(host)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(DpError::Backend("the BPF object lacks a classifier".into()));
    };
    Ok((
        maps,
        Programs {
            endpoint,
            vxlan,
            uplink,
            host,
        },
        report,
    ))
}

fn load_error(name: &str, e: aya::programs::ProgramError) -> DpError {
    let detail = match &e {
        aya::programs::ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{io_error}; verifier log (end):\n{}", tail.join("\n"))
        }
        other => other.to_string(),
    };
    DpError::Backend(format!("loading BPF program {name}: {detail}"))
}

/// Loads `name`, then keeps the pinned program if it has the same
/// instructions (tag) and uses exactly these maps; otherwise pins the new
/// one in its place.
fn program(
    ebpf: &mut Ebpf,
    name: &str,
    dir: &Path,
    map_ids: &HashSet<u32>,
) -> Result<Program, DpError> {
    let p: &mut SchedClassifier = ebpf
        .program_mut(name)
        .ok_or_else(|| DpError::Backend(format!("the BPF object has no program {name}")))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| {
            DpError::Backend(format!("program {name}: {e}"))
        })?;
    // The verifier gives up with EAGAIN when a signal is pending for the
    // thread (e.g. SIGCHLD of a child process, with tokio's handler
    // installed); libbpf retries such loads, and so do we.
    let mut tries = 0;
    loop {
        match p.load() {
            Ok(()) => break,
            Err(aya::programs::ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && tries < 5 =>
            {
                tries += 1;
            }
            Err(e) => return Err(load_error(name, e)),
        }
    }
    let new_tag = p
        .info()
        .map_err(|e| DpError::Backend(format!("program {name}: {e}")))?
        .tag();
    let pin = dir.join(name);
    if pin.exists() {
        if let Ok(old) = SchedClassifier::from_pin(&pin)
            && let Ok(info) = old.info()
        {
            let same_maps =
                matches!(info.map_ids(), Ok(Some(ids)) if ids.iter().all(|i| map_ids.contains(i)));
            if info.tag() == new_tag && same_maps {
                return Ok(Program {
                    id: info.id(),
                    prog: old,
                    replaced: false,
                });
            }
        }
        std::fs::remove_file(&pin)
            .map_err(|e| backend("removing an outdated program pin")(e.to_string()))?;
    }
    p.pin(&pin)
        .map_err(|e| DpError::Backend(format!("pinning program {name}: {e}")))?;
    let prog = SchedClassifier::from_pin(&pin)
        .map_err(|e| DpError::Backend(format!("opening pinned program {name}: {e}")))?;
    let id = prog
        .info()
        .map_err(|e| DpError::Backend(format!("program {name}: {e}")))?
        .id();
    Ok(Program {
        prog,
        id,
        replaced: true,
    })
}
