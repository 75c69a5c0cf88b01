#!/usr/bin/env bash
# BGP hand-off bench: one namespace host in routing mode peering with FRR
# playing the ToR; prints p50/p90/p99/max of "CNI ADD → the container's /32
# in the ToR's RIB", then the convergence after a netplugin restart with
# SCALE endpoints advertised (warm: gobgpd adopted; cold: gobgpd killed too),
# then "CNI DEL → the /32 withdrawn" for the first ADDS containers.
#
#   [DATAPATH=ovs|ebpf] benches/bgp.sh [ADDS=100] [SCALE=1000]
#
# It also prints the CPU seconds netplugin, gobgpd and ovs-vswitchd used
# during the bulk ADDs and the DELs (where the time at SCALE goes).
#
# Needs root, openvswitch-switch (DATAPATH=ovs), gobgpd and frr (make deps); builds the
# release binaries the cluster runs (benches/benches/bgp.rs finds them in
# target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p contiv-bins --bins
export CONTIV_CLUSTER_DATAPATH="${DATAPATH:-ovs}"
exec cargo bench -q -p contiv-benches --bench bgp -- "${1:-100}" "${2:-1000}"
