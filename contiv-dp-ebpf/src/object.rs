//! The BPF object built by `build.rs` from `bpf/*.c`, embedded.

/// 8-byte alignment for the ELF parser.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

static OBJECT: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/datapath.o")));

/// The compiled object (`bpf/datapath.c`).
pub static DATAPATH: &[u8] = &OBJECT.0;
