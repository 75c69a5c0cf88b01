//! The kernel side: bpffs, the loaded object's maps and programs, their
//! attachments (tcx links, `cls_bpf` filters).

pub mod attach;
pub mod bpffs;
pub mod clsbpf;
pub mod load;
pub mod maps;
