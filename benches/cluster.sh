#!/usr/bin/env bash
# Cluster scale bench: HOSTS namespace hosts × PER_HOST endpoints on the
# system-test harness; prints p50/p90/p99/max of "netctl rule-add → rule
# flow on every host" and "CNI ADD on host A → first ping reply from host B".
#
#   benches/cluster.sh [HOSTS=3] [PER_HOST=300] [RULE_SAMPLES=200] [EP_SAMPLES=100]
#
# DATAPATH=ebpf runs it on the eBPF datapath (default: OVS).
#
# Needs root and openvswitch-switch; builds the release binaries the
# cluster runs, then the bench (benches/benches/cluster.rs) finds them in
# target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p contiv-bins --bins
exec cargo bench -q -p contiv-benches --bench cluster -- "${1:-3}" "${2:-300}" "${3:-200}" "${4:-100}"
