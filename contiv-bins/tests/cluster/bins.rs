//! Where the contiv binaries the cluster runs are.
//!
//! In `contiv-bins`' own integration tests Cargo builds them and says where
//! (`CARGO_BIN_EXE_*`). Elsewhere (the scale bench) they are looked up in
//! `$CONTIV_BIN_DIR`, else next to the running executable's profile
//! directory (`target/<profile>/`, the parent of `deps/`).

use std::path::{Path, PathBuf};

/// Paths of the four binaries.
#[derive(Clone, Debug)]
pub struct Bins {
    /// `netmaster`.
    pub netmaster: PathBuf,
    /// `netplugin`.
    pub netplugin: PathBuf,
    /// `netctl`.
    pub netctl: PathBuf,
    /// `contiv-cni`.
    pub cni: PathBuf,
}

fn dir_candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("CONTIV_BIN_DIR") {
        v.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<exe> → target/<profile>
        if let Some(profile) = exe.parent().and_then(Path::parent) {
            v.push(profile.to_path_buf());
        }
    }
    v
}

fn locate(name: &str, built: Option<&'static str>) -> Result<PathBuf, String> {
    if let Some(p) = built {
        return Ok(PathBuf::from(p));
    }
    let dirs = dir_candidates();
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "the {name} binary is not in {dirs:?}: build it (`cargo build --release -p contiv-bins --bins`) or set CONTIV_BIN_DIR"
            )
        })
}

impl Bins {
    /// The binaries Cargo built for this test, or the ones found on disk.
    pub fn find() -> Result<Bins, String> {
        Ok(Bins {
            netmaster: locate("netmaster", option_env!("CARGO_BIN_EXE_netmaster"))?,
            netplugin: locate("netplugin", option_env!("CARGO_BIN_EXE_netplugin"))?,
            netctl: locate("netctl", option_env!("CARGO_BIN_EXE_netctl"))?,
            cni: locate("contiv-cni", option_env!("CARGO_BIN_EXE_contiv-cni"))?,
        })
    }
}
