#!/usr/bin/env bash
# TCP throughput side by side (iperf3): Linux bridge + veth, the eBPF
# datapath and OVS userspace on one host; kernel vxlan + bridge and the
# eBPF datapath across two hosts; the eBPF datapath with 100k rules.
# Prints every run and a table of medians (benches/benches/throughput.rs).
#
#   benches/throughput.sh [SECONDS=10] [ROUNDS=2]
#
# Needs root, iperf3 and openvswitch-switch (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -q -p contiv-benches --bench throughput -- "${1:-10}" "${2:-2}"
