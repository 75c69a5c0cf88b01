#!/usr/bin/env bash
# Intent API bench against a release netmaster (embedded and etcd stores),
# and the original Go netmaster when CONTIV_ORIGINAL_NETMASTER=/path/to/it.
#
#   benches/control_plane.sh list [N,N…=1000,10000] [GETS=200]
#   benches/control_plane.sh writes [CLIENTS=1,8] [SECONDS=10] [RUNS=3]
#   benches/control_plane.sh rss [CYCLES=10] [N=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p contiv-bins --bin netmaster
exec cargo bench -q -p contiv-benches --bench control_plane -- "$@"
