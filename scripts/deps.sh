#!/usr/bin/env bash
# Installs the system packages contiv-rs builds and tests need, if missing.
# Idempotent and quiet when everything is present. Debian 12 (bookworm).
set -euo pipefail

PKGS=(
  protobuf-compiler libprotobuf-dev  # etcd-client's build (tonic/prost + well-known protos)
  etcd-server etcd-client    # StateStore etcd backend, HA tests
  openvswitch-switch         # OVS datapath (userspace, datapath_type=netdev)
  iproute2 ethtool tcpdump   # netns/veth plumbing, offload switches, captures
  iputils-ping netcat-openbsd  # packet-level tests: ping, TCP connect
  bind9-dnsutils dnsmasq-base  # built-in DNS tests: dig as client, dnsmasq as upstream resolver
  clang llvm libbpf-dev      # eBPF datapath programs
  iperf3                     # throughput benches (benches/throughput.sh)
  containernetworking-plugins  # reference CNI plugins (bridge, host-local) for side-by-side benches
  openssl                    # throwaway TLS certificates in tests
  curl                       # make demo: netmaster readiness and oper queries
  python3-venv               # the py-consul venv (checks the Consul test server)
  docker.io busybox-static   # real Docker engine with our remote plugin; busybox image built offline
  podman                     # podman (CNI backend) as a real CNI consumer
  golang-go golang-github-appc-cni-dev golang-github-containernetworking-plugins-dev  # libcni harness, built offline
  nftables iperf3            # external access (host-side NAT rules, nft), bandwidth scenarios (iperf3)
  python3-venv               # the schemathesis venv (below)
)

missing=()
for p in "${PKGS[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools the tests use (PyPI): the OpenAPI document is checked by an
# independent validator.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  echo "deps: installing openapi-spec-validator (PyPI)"
  python3 -m pip install -q openapi-spec-validator
fi

# Python tools from PyPI, each in a venv of its own under <repo>/.venvs/:
VENVS="$(cd "$(dirname "$0")/.." && pwd)/.venvs"

# py-consul checks the wire-faithful Consul test server
# (contiv-store/tests/consul_server_pyconsul.rs).
if ! "$VENVS/py-consul/bin/python3" -c 'import consul' 2>/dev/null; then
  echo "deps: installing py-consul (PyPI) into $VENVS/py-consul"
  python3 -m venv "$VENVS/py-consul"
  "$VENVS/py-consul/bin/pip" install -q 'py-consul>=1.6,<2'
fi

# The official VPP Python binding, for contiv-dp-vpp's golden vectors and
# as an independent client of its VPP test server (no VPP runs here), pinned.
if ! "$VENVS/vpp-papi/bin/python3" -c 'import vpp_papi, importlib.metadata as m; assert m.version("vpp_papi") == "2.4.2"' 2>/dev/null; then
  echo "deps: installing vpp-papi 2.4.2 (PyPI) into $VENVS/vpp-papi"
  python3 -m venv "$VENVS/vpp-papi"
  "$VENVS/vpp-papi/bin/python3" -m pip install -q vpp-papi==2.4.2
fi

# schemathesis: the OpenAPI fuzz run of netmaster
# (contiv-bins/tests/netmaster_schemathesis.rs).
if ! "$VENVS/schemathesis/bin/st" --version >/dev/null 2>&1; then
  echo "deps: installing schemathesis (PyPI) into $VENVS/schemathesis"
  python3 -m venv "$VENVS/schemathesis"
  "$VENVS/schemathesis/bin/pip" install -q "schemathesis>=4,<5"
fi

# Tools the build needs that are not Debian packages.
command -v protoc >/dev/null || { echo "deps: protoc still missing after install" >&2; exit 1; }
command -v cargo >/dev/null || { echo "deps: cargo (rustup toolchain) is required" >&2; exit 1; }
