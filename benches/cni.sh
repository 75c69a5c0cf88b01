#!/usr/bin/env bash
# CNI ADD/DEL latency side by side: contiv-cni (+ netplugin on a real
# userspace OVS) vs the reference bridge + host-local plugins, driven the same
# way by a libcni runtime; release builds. Prints every round and a table of
# medians and p99s (benches/benches/cni.rs).
#
#   benches/cni.sh [ROUNDS=5] [NAMESPACES=20]
#
# Needs root and `make deps` (openvswitch-switch, containernetworking-plugins,
# golang-go, golang-github-appc-cni-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-5}"
NS="${2:-20}"
cargo build -q --release -p contiv-bins --bins
exec cargo bench -q -p contiv-benches --bench cni -- "$ROUNDS" "$NS"
