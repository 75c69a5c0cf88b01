//! A real CNI runtime for the tests: `libcni_harness.go` (next to this
//! file), a small program of ours over Debian's libcni, built offline into
//! a temporary directory (REAL_COMPONENTS §2), plus a CNI_PATH directory
//! holding `contiv-cni` and the reference plugins.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The harness source.
pub const SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/cni_support/libcni_harness.go"
);

/// The built harness and its CNI_PATH / cache directories.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub cni_path: PathBuf,
    pub cache: PathBuf,
}

/// What one harness run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub json: Value,
}

impl Harness {
    /// Builds the harness with Debian's Go and libcni (a missing
    /// toolchain is a failure: `make deps` installs golang-go and
    /// golang-github-appc-cni-dev); `contiv_cni` is linked into CNI_PATH.
    pub fn build(contiv_cni: &Path) -> Harness {
        assert!(
            Path::new("/usr/share/gocode/src/github.com/containernetworking/cni/libcni").is_dir(),
            "libcni sources missing: install golang-github-appc-cni-dev (make deps)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).expect("src dir");
        std::fs::copy(SOURCE, src.join("libcni_harness.go")).expect("copy the harness source");
        let bin = dir.path().join("libcni_harness");
        let gopath = format!("{}:/usr/share/gocode", dir.path().join("gopath").display());
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg("./libcni_harness.go")
            .current_dir(&src)
            .env("GOPATH", gopath)
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOCACHE", dir.path().join("gocache"))
            .stdin(Stdio::null())
            .output()
            .expect("go runs (install golang-go: make deps)");
        assert!(
            out.status.success(),
            "building the libcni harness failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cni_path = dir.path().join("cni-bin");
        std::fs::create_dir_all(&cni_path).expect("cni-bin");
        std::os::unix::fs::symlink(contiv_cni, cni_path.join("contiv-cni"))
            .expect("link contiv-cni");
        let cache = dir.path().join("cache");
        Harness {
            bin,
            cni_path,
            cache,
            dir,
        }
    }

    /// Writes a conflist named `name` (file in the harness directory).
    pub fn conflist(&self, name: &str, list: &Value) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.conflist"));
        std::fs::write(&p, list.to_string()).expect("write conflist");
        p
    }

    /// `CNI_PATH`: our plugin directory, then the reference plugins.
    pub fn path_var(&self) -> String {
        format!("{}:/usr/lib/cni", self.cni_path.display())
    }

    /// Runs `libcni_harness <args>`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::process::Command::new(&self.bin)
            .args(args)
            .env("CNI_PATH", self.path_var())
            .env("CNI_CACHE_DIR", &self.cache)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("libcni harness runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Run {
            code: out.status.code().unwrap_or(-1),
            json: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
            stdout: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}
