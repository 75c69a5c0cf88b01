//! Runs the `embedded-store-tour` binary and checks what it reports.

use std::process::Command;

#[test]
fn tour_succeeds_and_tells_what_it_did() {
    let out = Command::new(env!("CARGO_BIN_EXE_embedded-store-tour"))
        .output()
        .expect("run embedded-store-tour");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for expected in [
        "created tenant          default              at revision 1",
        "created network         default:contiv-net   at revision 2",
        "created endpointGroup   default:db           at revision 3",
        "Put /contiv/v1/obj/tenant/default at revision 1",
        "with ModRevision(2): ok at revision 4",
        "refused, as it must be",
        "store revision 4 (refused writes create none)",
        "network         default:contiv-net   ok (mod_revision 4)",
        "replays history up to revision 4",
        "tour ok: 3 objects, 4 revisions",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
