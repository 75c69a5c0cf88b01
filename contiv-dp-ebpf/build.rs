//! Compiles the BPF programs in `bpf/` with clang into `$OUT_DIR/datapath.o`
//! (embedded by `src/object.rs`). A missing clang is a build error that says
//! what to install.

use std::path::PathBuf;
use std::process::Command;

const SOURCES: &[&str] = &[
    "bpf/datapath.c",
    "bpf/abi.h",
    "bpf/maps.h",
    "bpf/parse.h",
    "bpf/conntrack.h",
    "bpf/policy.h",
    "bpf/respond.h",
    "bpf/service.h",
];

fn multiarch() -> &'static str {
    match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "aarch64-linux-gnu",
        Ok("riscv64") => "riscv64-linux-gnu",
        Ok("powerpc64") => "powerpc64le-linux-gnu",
        Ok("s390x") => "s390x-linux-gnu",
        _ => "x86_64-linux-gnu",
    }
}

fn main() {
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    println!("cargo:rerun-if-env-changed=CONTIV_BPF_CLANG");
    let clang = std::env::var("CONTIV_BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let obj = out.join("datapath.o");
    let status = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
        ])
        .arg(format!("-I/usr/include/{}", multiarch()))
        .args(["-c", "bpf/datapath.c", "-o"])
        .arg(&obj)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{clang} failed to compile bpf/datapath.c ({s}); see the errors above"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "contiv-dp-ebpf needs clang to compile its BPF programs, and `{clang}` was not found. \
             Install the Debian packages `clang`, `llvm` and `libbpf-dev` (`make deps` does), \
             or point CONTIV_BPF_CLANG at a clang binary."
        ),
        Err(e) => panic!("cannot run {clang}: {e}"),
    }
}
