//! Generates the gRPC client of gobgpd's API (netplugin's BGP speaker)
//! from the `.proto` files of gobgp 3.10 in `proto/gobgp` (copied from
//! Debian's `golang-github-osrg-gobgp-dev`; MIT licence, headers kept).
//! Needs `protoc` (Debian `protobuf-compiler`, installed by `make deps`).

fn main() {
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
