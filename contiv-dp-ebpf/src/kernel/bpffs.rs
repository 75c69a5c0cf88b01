//! The bpffs the datapath pins into: checked, mounted when missing.

use contiv_core::datapath::DpError;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `BPF_FS_MAGIC` (statfs f_type of a bpffs).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn c_path(p: &Path) -> Result<CString, DpError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| DpError::InvalidArgument(format!("path {} contains a NUL", p.display())))
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> Result<bool, DpError> {
    let c = c_path(path)?;
    let mut st: libc::statfs = unsafe_zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(DpError::Backend(format!(
            "statfs {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    // f_type's width differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let t = st.f_type as i64;
    Ok(t == BPF_FS_MAGIC)
}

fn unsafe_zeroed() -> libc::statfs {
    // SAFETY: statfs is a plain C struct of integers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Makes `path` a bpffs: nothing if it is one, else creates the directory
/// and mounts a bpffs there.
pub fn ensure_mounted(path: &Path) -> Result<(), DpError> {
    std::fs::create_dir_all(path).map_err(|e| {
        DpError::Backend(format!(
            "cannot create the bpffs directory {}: {e}",
            path.display()
        ))
    })?;
    if is_bpffs(path)? {
        return Ok(());
    }
    mount(path)?;
    tracing::info!(path = %path.display(), "mounted a bpffs");
    Ok(())
}

/// Mounts a new bpffs instance at `path` (an existing directory).
pub fn mount(path: &Path) -> Result<(), DpError> {
    let target = c_path(path)?;
    let fstype = c"bpf";
    // SAFETY: every argument is a valid NUL-terminated string (or null
    // data); mount(2) does not keep the pointers.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(DpError::Backend(format!(
            "{} is not a bpffs and mounting one there failed: {} (mount -t bpf bpf {})",
            path.display(),
            std::io::Error::last_os_error(),
            path.display()
        )));
    }
    Ok(())
}

/// Unmounts `path` (lazily, so open pins do not block it).
pub fn unmount(path: &Path) -> Result<(), DpError> {
    let target = c_path(path)?;
    // SAFETY: `target` is a valid NUL-terminated path.
    let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        return Err(DpError::Backend(format!(
            "umount {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
