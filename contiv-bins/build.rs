//! Generates the gRPC client of gobgpd's API (netplugin's BGP speaker)
//! from the `.proto` files of gobgp 3.10 in `proto/gobgp` (copied from
//! Debian's `golang-github-osrg-gobgp-dev`; MIT licence, headers kept).
//! Needs `protoc` (Debian `protobuf-compiler`, installed by `make deps`);
//! only with the `netplugin` feature.

fn main() {
    #[cfg(feature = "netplugin")]
    gobgp_client();
}

/// Only the agent (feature `netplugin`) speaks to gobgpd.
#[cfg(feature = "netplugin")]
fn gobgp_client() {
    println!("cargo:rerun-if-changed=proto/gobgp");
    tonic_prost_build::configure()
        .build_server(false)
        .build_transport(false)
        .compile_protos(
            &["proto/gobgp/gobgp.proto", "proto/gobgp/attribute.proto"],
            &["proto/gobgp"],
        )
        .unwrap_or_else(|e| {
            panic!("cannot generate the gobgpd API client (is protoc installed? make deps): {e}")
        });
}
