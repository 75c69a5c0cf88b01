//! The kernel side: bpffs, the loaded object's maps and programs, tcx
//! attachments.

pub mod attach;
pub mod bpffs;
pub mod load;
pub mod maps;
