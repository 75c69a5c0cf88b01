//! The one ethtool setting the userspace datapath needs: TX checksum
//! offload off on both ends of a veth. With it on, a veth hands packets to
//! OVS with partial checksums and userspace conntrack marks every one
//! `+inv` (REAL_COMPONENTS §10), so a stateful policy would drop
//! everything. `SIOCETHTOOL` with `ETHTOOL_STXCSUM`, on a socket created in
//! the interface's namespace.

use super::PlumbError;
use super::netns::{Netns, run_in};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GTXCSUM: u32 = 0x0000_0016;
const ETHTOOL_STXCSUM: u32 = 0x0000_0017;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct ifreq` with the `ifr_data` member of its union (40 bytes on
/// 64-bit Linux).
#[repr(C)]
struct IfReqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

fn socket() -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a negative result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a freshly created descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ethtool(ifname: &str, cmd: u32, data: u32) -> Result<u32, PlumbError> {
    let err = |message: String| PlumbError::Ethtool {
        ifname: ifname.to_owned(),
        message,
    };
    if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ {
        return Err(err("interface names are 1 to 15 bytes".into()));
    }
    let sock = socket().map_err(|e| err(format!("cannot open a socket: {e}")))?;
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReqData {
        name: [0; libc::IFNAMSIZ],
        data: (&mut value as *mut EthtoolValue).cast(),
        _pad: [0; 16],
    };
    for (d, s) in req.name.iter_mut().zip(ifname.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: `req` is a properly laid out `struct ifreq` whose data
    // pointer refers to `value`, which outlives the call; the kernel reads
    // and writes only those two objects.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            SIOCETHTOOL as _,
            &mut req as *mut IfReqData,
        )
    };
    if rc != 0 {
        return Err(err(format!(
            "SIOCETHTOOL failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(value.data)
}

/// Turns TX checksum offload of `ifname` (in `ns`) on or off.
pub async fn set_tx_checksum(ns: &Netns, ifname: &str, on: bool) -> Result<(), PlumbError> {
    let name = ifname.to_owned();
    run_in(ns, move || {
        ethtool(&name, ETHTOOL_STXCSUM, u32::from(on)).map(|_| ())
    })
    .await
}

/// Whether TX checksum offload of `ifname` (in `ns`) is on.
pub async fn tx_checksum(ns: &Netns, ifname: &str) -> Result<bool, PlumbError> {
    let name = ifname.to_owned();
    run_in(ns, move || {
        ethtool(&name, ETHTOOL_GTXCSUM, 0).map(|v| v != 0)
    })
    .await
}
