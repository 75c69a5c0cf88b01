//! How long attaching `from_endpoint` to a fresh veth takes, by tcx (a
//! pinned link) and by netlink (`clsact` + `cls_bpf`, with the veth up or
//! still down), and deleting the veth afterwards: medians over N veths of
//! each kind, interleaved. The measurement behind `kernel::clsbpf`.
//!
//! Root, in a namespace of its own (it makes `x…` veths there):
//! `unshare -n target/debug/examples/attach_timing 20`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use aya::programs::links::FdLink;
use aya::programs::tc::{self, NlOptions, TcAttachOptions, TcHandle};
use aya::programs::{LinkOrder, TcAttachType};
use contiv_dp_ebpf::kernel::{bpffs, load};
use rtnetlink::{LinkUnspec, LinkVeth};
use std::time::{Duration, Instant};

fn med(v: &mut [Duration]) -> String {
    v.sort();
    format!(
        "med {:>8.3} ms  min {:>8.3}  max {:>8.3}",
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[0].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let bpffs_root = std::path::PathBuf::from("/sys/fs/bpf");
    bpffs::ensure_mounted(&bpffs_root).unwrap();
    let root = bpffs_root.join(format!("cexp{}", std::process::id()));
    let (_maps, mut progs, _) = load::load(&root).unwrap();
    let (conn, h, _) = rtnetlink::new_connection().unwrap();
    tokio::spawn(conn);
    let links = load::links_dir(&root);
    let modes = ["tcx", "nl-up", "nl-down"];
    let mut t: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
    let mut rec = |k: String, d: Duration| t.entry(k).or_default().push(d);
    for i in 0..n {
        for m in modes {
            let name = format!("x{m}{i}").replace('-', "");
            let peer = format!("{name}p");
            let s = Instant::now();
            h.link()
                .add(LinkVeth::new(&name, &peer).build())
                .execute()
                .await
                .unwrap();
            rec(format!("{m} veth add"), s.elapsed());
            let idx = contiv_core::linux::link::index(&h, &name)
                .await
                .unwrap()
                .unwrap();
            let up = |h: rtnetlink::Handle| async move {
                let s = Instant::now();
                h.link()
                    .set(LinkUnspec::new_with_index(idx).up().build())
                    .execute()
                    .await
                    .unwrap();
                s.elapsed()
            };
            let p = &mut progs.endpoint.prog;
            match m {
                "tcx" => {
                    rec(format!("{m} up"), up(h.clone()).await);
                    let s = Instant::now();
                    let id = p
                        .attach_with_options(
                            &name,
                            TcAttachType::Ingress,
                            TcAttachOptions::TcxOrder(LinkOrder::default()),
                        )
                        .unwrap();
                    rec(format!("{m} attach"), s.elapsed());
                    let s = Instant::now();
                    let fd: FdLink = p.take_link(id).unwrap().try_into().unwrap();
                    fd.pin(links.join(&name)).unwrap();
                    rec(format!("{m} pin"), s.elapsed());
                }
                _ => {
                    if m == "nl-up" {
                        rec(format!("{m} up"), up(h.clone()).await);
                    }
                    let s = Instant::now();
                    tc::qdisc_add_clsact(&name).unwrap();
                    rec(format!("{m} clsact"), s.elapsed());
                    let s = Instant::now();
                    let id = p
                        .attach_with_options(
                            &name,
                            TcAttachType::Ingress,
                            TcAttachOptions::Netlink(NlOptions {
                                priority: 1,
                                handle: TcHandle::new(0, 1),
                                classid: None,
                            }),
                        )
                        .unwrap();
                    rec(format!("{m} attach"), s.elapsed());
                    // leave it in the kernel: forget the link
                    std::mem::forget(p.take_link(id).unwrap());
                    if m == "nl-down" {
                        rec(format!("{m} up"), up(h.clone()).await);
                    }
                }
            }
        }
    }
    for i in 0..n {
        for m in modes {
            let name = format!("x{m}{i}").replace('-', "");
            let idx = contiv_core::linux::link::index(&h, &name)
                .await
                .unwrap()
                .unwrap();
            if m == "tcx" {
                let s = Instant::now();
                std::fs::remove_file(links.join(&name)).unwrap();
                rec(format!("{m} unpin"), s.elapsed());
            }
            let s = Instant::now();
            h.link().del(idx).execute().await.unwrap();
            rec(format!("{m} veth del"), s.elapsed());
        }
    }
    for (k, mut v) in t {
        println!("{k:<20} {}", med(&mut v));
    }
    drop(progs);
    std::fs::remove_dir_all(&root).ok();
}
