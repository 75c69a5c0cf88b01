#!/usr/bin/env bash
# Fan-out bench: a release netmaster and N simulated agents (registered
# nodes heartbeating, each following the watch stream); prints, per N,
# rule → every agent latency, POST latency, netmaster CPU per change,
# memory per stream, mass reconnect and resume times.
#
#   benches/fanout.sh [N,N,…=10,100,1000,5000] [RULES=20]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p contiv-bins --bin netmaster
exec cargo bench -q -p contiv-benches --bench fanout -- "${1:-10,100,1000,5000}" "${2:-20}"
