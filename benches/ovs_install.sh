#!/usr/bin/env bash
# Side-by-side install of the same N pipeline flows into one real userspace
# OVS bridge: our OpenFlow connection (one bundle) vs
# `ovs-ofctl -O OpenFlow13 --bundle add-flows`, interleaved rounds, each from
# an empty table; prints every round and the ratio of median rates.
#
#   benches/ovs_install.sh [N=100000] [ROUNDS=5]
#
# Needs root and openvswitch-switch (ovsdb-server, ovs-vswitchd, ovs-ofctl);
# the harness starts and stops its own private OVS (benches/benches/ovs_install.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
ROUNDS="${2:-5}"
exec cargo bench -q -p contiv-benches --bench ovs_install -- "$N" "$ROUNDS"
