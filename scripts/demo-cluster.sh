#!/usr/bin/env bash
# make demo-cluster: the seeds' two-node walk-through on two "hosts" that
# are network namespaces on this machine.
#
#   netplugin-docs.md        quick start (net create, web on node1, db on node2, ping db)
#   container-networking-tutorial.md
#     chapter 2   multi-host networking over VXLAN, ping by name
#     chapter 3   a second tenant with the same subnet: isolated
#     chapter 4   a VLAN network across hosts, the tag seen with tcpdump -e
#     chapter 5   a policy that blocks and allows across hosts
#
# Each node is a namespace with its own datapath — an Open vSwitch
# (userspace datapath), or with DATAPATH=ebpf the tc/BPF programs on a
# private bpffs — and its own netplugin; a hub namespace holds the "switch" (a Linux bridge
# for the underlay, one for the VLAN trunk) and netmaster. `docker run`
# becomes a namespace plumbed by the real contiv-cni binary; `docker exec`
# becomes `ip netns exec`. netctl commands are the tutorial's, verbatim,
# run on node1. Every expectation is checked: the script exits non-zero if
# anything behaves differently. Everything it creates is removed on exit.
#
#   BIN_DIR=target/debug scripts/demo-cluster.sh     (needs root)
#   DATAPATH=ebpf BIN_DIR=target/debug scripts/demo-cluster.sh
#   KEEP=1 keeps the work directory with every daemon's log.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/target/debug}"
BIN_DIR="$(cd "$BIN_DIR" && pwd)"

DATAPATH="${DATAPATH:-ovs}"

die() { echo "demo-cluster: $*" >&2; exit 1; }
[[ "$DATAPATH" == ovs || "$DATAPATH" == ebpf ]] || die "DATAPATH=$DATAPATH: use ovs or ebpf"
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, the datapath)"
for b in netmaster netplugin netctl contiv-cni; do
  [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b missing: cargo build -p contiv-bins --bins (or set BIN_DIR)"
done
TOOLS=(ip ethtool tcpdump nc ping timeout)
[[ "$DATAPATH" == ovs ]] && TOOLS+=(ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl)
for t in "${TOOLS[@]}"; do
  command -v "$t" >/dev/null || die "$t not found: make deps"
done

T="$(mktemp -d /tmp/contiv-demo-cluster.XXXXXX)"
P="cdemo$$"                 # prefix of every namespace this run creates
HUB="$P-hub"
NM_ADDR=172.31.200.250
export NETMASTER="http://$NM_ADDR:9999"
NAMESPACES=()
PIDS=()
CTRS=()

# The namespaces netplugin's built-in DNS creates (one per network with a
# local endpoint; they outlive the agent so a restart finds them) are named
# cdns<6 hex digits of FNV-1a 64 of "<host>\0<state dir>">-<network hash>;
# see netns_prefix/agent_identity in contiv-bins/src/netplugin/dns.rs.
dns_prefix() {
  local host=$1 dir=$2 h=$((0xcbf29ce484222325)) i c s
  for s in "$host" "" "$dir"; do
    for ((i=0; i<${#s}; i++)); do printf -v c '%d' "'${s:i:1}"; h=$(( (h ^ c) * 0x100000001b3 )); done
    [[ -z $s ]] && h=$(( h * 0x100000001b3 ))   # the NUL separator
  done
  printf 'cdns%s-' "$(printf '%016x' "$h" | tail -c 6)"
}

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for n in 1 2; do
    prefix=$(dns_prefix "node$n" "$T/node$n/state")
    for ns in $(ls /var/run/netns 2>/dev/null); do [[ $ns == "$prefix"* ]] && ip netns delete "$ns"; done
  done
  for c in "${CTRS[@]}"; do rm -rf "/etc/netns/$c"; done
  for ((i=${#NAMESPACES[@]}-1; i>=0; i--)); do ip netns delete "${NAMESPACES[i]}" 2>/dev/null; done
  # The eBPF nodes' pins (programs, maps, attachments) go with their bpffs.
  for n in 1 2; do mountpoint -q "$T/node$n/bpffs" 2>/dev/null && umount -l "$T/node$n/bpffs"; done
  if [[ -n "${KEEP:-}" ]]; then echo "logs kept in $T"; else rm -rf "$T"; fi
  if ((rc == 0)); then echo; echo "demo-cluster: all steps behaved as the tutorial says"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say()  { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '   # %s\n' "$*"; }
fail() { echo "demo-cluster: FAILED: $*" >&2; exit 1; }

netns_add() { ip netns add "$1"; NAMESPACES+=("$1"); ip -n "$1" link set lo up; }

# Runs a daemon in a namespace in the background (ip netns exec execs it,
# so $! is the daemon's pid); output to $T/<log>.
daemon() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$T/$log" 2>&1 &
  PIDS+=($!)
}

wait_for() {  # wait_for <what> <seconds> <command…>
  local what=$1 secs=$2; shift 2
  for ((i=0; i<secs*20; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "$what did not happen within ${secs}s"
}

# ---------------------------------------------------------------- topology
say "Setting up: hub (underlay + trunk bridges, netmaster) and two nodes"
note "work directory $T, namespaces $P-*"
netns_add "$HUB"
for br in underlay trunk; do ip -n "$HUB" link add $br type bridge; ip -n "$HUB" link set $br up; done
ip -n "$HUB" addr add $NM_ADDR/24 dev underlay
daemon "$HUB" netmaster.log "$BIN_DIR/netmaster" --listen-url $NM_ADDR:9999 \
  --store "embedded:$T/netmaster.redb" --mode test --log-level warn
wait_for "netmaster" 20 ip netns exec "$HUB" "$BIN_DIR/netctl" tenant ls

for n in 1 2; do
  node="node$n"; ns="$P-$node"; D="$T/$node"; mkdir -p "$D"
  netns_add "$ns"
  ip link add ul0 netns "$ns" type veth peer name "h${n}u" netns "$HUB"
  ip link add vl0 netns "$ns" type veth peer name "h${n}v" netns "$HUB"
  ip -n "$HUB" link set "h${n}u" master underlay up
  ip -n "$HUB" link set "h${n}v" master trunk up
  for i in ul0 vl0; do ip -n "$ns" link set $i up; ip netns exec "$ns" ethtool -K $i tx off >/dev/null; done
  if [[ "$DATAPATH" == ovs ]]; then
    ovsdb-tool create "$D/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    export OVS_RUNDIR="$D" OVS_LOGDIR="$D" OVS_DBDIR="$D"
    daemon "$ns" "$node-ovsdb.log" ovsdb-server "$D/conf.db" --remote="punix:$D/db.sock" \
      --unixctl="$D/ovsdb-server.ctl" --log-file="$D/ovsdb-server.log" --no-chdir
    wait_for "ovsdb-server on $node" 10 test -S "$D/db.sock"
    ovs-vsctl --db="unix:$D/db.sock" --no-wait init
    daemon "$ns" "$node-vswitchd.log" ovs-vswitchd "unix:$D/db.sock" \
      --unixctl="$D/ovs-vswitchd.ctl" --log-file="$D/ovs-vswitchd.log" --no-chdir
    wait_for "ovs-vswitchd on $node" 10 ovs-appctl -t "$D/ovs-vswitchd.ctl" version
    unset OVS_RUNDIR OVS_LOGDIR OVS_DBDIR
    # The node's "eth1": the underlay port in br-phy, the VTEP address on it.
    mac=$(ip -n "$ns" -br link show ul0 | awk '{print $3}')
    ovs-vsctl --db="unix:$D/db.sock" add-br br-phy -- set bridge br-phy datapath_type=netdev \
      fail_mode=standalone other_config:hwaddr="$mac" -- add-port br-phy ul0
    ip -n "$ns" addr add "172.31.200.$n/24" dev br-phy
    ip -n "$ns" link set br-phy up
    DP_ARGS=(--datapath ovs --ovs-rundir "$D")
  else
    # The node's "eth1" carries the VTEP address; the agent pins its
    # programs, maps and attachments on a bpffs of the node's own (mounted
    # here, outside `ip netns exec`'s private mounts, so it outlives the
    # agent as /sys/fs/bpf would).
    ip -n "$ns" addr add "172.31.200.$n/24" dev ul0
    mkdir -p "$D/bpffs"
    mount -t bpf bpf "$D/bpffs"
    DP_ARGS=(--datapath ebpf --bpf-fs "$D/bpffs")
  fi
  # netplugin: VTEP on the underlay, VLAN uplink vl0 (the tutorial's eth2).
  daemon "$ns" "$node-netplugin.log" "$BIN_DIR/netplugin" "${DP_ARGS[@]}" --host "$node" \
    --vtep-ip "172.31.200.$n" --netmaster "$NETMASTER" --vlan-if vl0 \
    --cni-socket "$D/cni.sock" --state-dir "$D/state" --docker-plugin-dir "$D" --no-docker-plugin \
    --log-level warn
done
for n in 1 2; do wait_for "netplugin on node$n" 30 test -S "$T/node$n/cni.sock"; done
note "node1 VTEP 172.31.200.1, node2 VTEP 172.31.200.2, netmaster $NETMASTER"

# ------------------------------------------------------------------ helpers
# on <node> <command…>: a command on a node (netctl talks to netmaster over
# the underlay), printed with the node's prompt.
on() {
  local node=$1; shift
  printf '%s$ %s\n' "$node" "$*"
  ip netns exec "$P-$node" env PATH="$BIN_DIR:$PATH" NETMASTER="$NETMASTER" "$@"
}

# cni <ADD|DEL> <node> <name> <tenant> <network> [group] [label k=v]
cni() {
  local cmd=$1 node=$2 name=$3 tenant=$4 net=$5 group=${6:-} label=${7:-} extra=""
  local args="IgnoreUnknown=1;K8S_POD_NAME=$name;CONTIV_TENANT=$tenant;CONTIV_NETWORK=$net"
  [[ -n $group ]] && args+=";CONTIV_GROUP=$group"
  [[ -n $label ]] && extra=',"args":{"cni":{"labels":[{"key":"'"${label%%=*}"'","value":"'"${label#*=}"'"}]}}'
  printf '{"cniVersion":"1.0.0","name":"contiv-net","type":"contiv-cni","socket":"%s"%s}' "$T/$node/cni.sock" "$extra" |
    ip netns exec "$P-$node" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$name-$P" \
      CNI_NETNS="/var/run/netns/$P-c-$name" CNI_IFNAME=eth0 CNI_PATH="$BIN_DIR" CNI_ARGS="$args" \
      "$BIN_DIR/contiv-cni"
}

declare -A IP NODE
# docker_run <node> <name> <net spec as in --net=…>: `[group.]network[/tenant]`
# [label k=v].
docker_run() {
  local node=$1 name=$2 spec=$3 label=${4:-} tenant=default group="" net
  printf '%s$ docker run -itd --name=%s --net=%s alpine /bin/sh\n' "$node" "$name" "$spec"
  net=$spec
  if [[ $net == */* ]]; then tenant=${net#*/}; net=${net%/*}; fi
  if [[ $net == *.* ]]; then group=${net%%.*}; net=${net#*.}; fi
  local ctr="$P-c-$name"
  netns_add "$ctr"; CTRS+=("$ctr")
  local out
  out=$(cni ADD "$node" "$name" "$tenant" "$net" "$group" "$label") || fail "CNI ADD of $name: $out"
  IP[$name]=$(grep -o '"address":"[0-9.]*' <<<"$out" | head -1 | cut -d'"' -f4)
  NODE[$name]=$node
  mkdir -p "/etc/netns/$ctr"
  grep -o '"nameservers":\["[^"]*"' <<<"$out" | sed 's/.*\["/nameserver /; s/"$//' >"/etc/netns/$ctr/resolv.conf"
  note "$name is $ctr on $node: eth0 ${IP[$name]} (contiv-cni ADD)"
}

docker_rm() {
  for name in "$@"; do
    printf '%s$ docker rm -f %s\n' "${NODE[$name]}" "$name"
    local tenant=default
    cni DEL "${NODE[$name]}" "$name" "$tenant" "" >/dev/null || fail "CNI DEL of $name"
  done
}

# exec_in <name> <command…>: a command in a container, printed as in the tutorial.
exec_in() {
  local name=$1; shift
  printf '%s / # %s\n' "$name" "$*"
  ip netns exec "$P-c-$name" "$@"
}

expect_ok()   { "$@" || fail "expected success: $*"; }
expect_fail() { if "$@"; then fail "expected failure: $*"; fi; echo "   (failed, as expected)"; }
# expect_blocked <container> <ip> <port>: the connection times out (the
# policy drops the SYN) — not "refused", which would only mean nothing
# listens.
expect_blocked() {
  local out
  out=$(exec_in "$1" nc -nzvw 1 "$2" "$3" 2>&1) && fail "expected $1 -> $2:$3 to be blocked: $out"
  echo "$out"
  grep -q "timed out" <<<"$out" || fail "expected a timeout (policy drop), got: $out"
  echo "   (timed out: blocked by the policy, as expected)"
}
# First contact may lose a packet while ARP and tunnel neighbours resolve.
warm() { ip netns exec "$P-c-$1" ping -c 1 -W 2 "$2" >/dev/null || true; }

# --------------------------------------------------------------- quick start
say "netplugin-docs.md quick start: a network, web on node1, db on node2"
expect_ok on node1 netctl net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001
docker_run node1 web contiv-net
docker_run node2 db contiv-net
warm web "${IP[db]}"
expect_ok exec_in web ping -c 2 db
docker_rm web db
expect_ok on node1 netctl net rm contiv-net

# ----------------------------------------------------------------- chapter 2
say "Chapter 2: multi-host networking with Contiv (VXLAN)"
expect_ok on node1 netctl net create --subnet=10.1.2.0/24 contiv-net
expect_ok on node1 netctl net ls
docker_run node1 contiv-c1 contiv-net
docker_run node2 contiv-c2 contiv-net
warm contiv-c2 "${IP[contiv-c1]}"
note "the ping crosses the underlay as VXLAN (tcpdump on node1's underlay port at the hub):"
ip netns exec "$HUB" timeout 5 tcpdump -e -n -c 2 -i h1u udp port 4789 >"$T/vxlan.txt" 2>/dev/null &
TD=$!; sleep 0.5
expect_ok exec_in contiv-c2 ping -c 2 contiv-c1
wait $TD || true
head -4 "$T/vxlan.txt" | sed 's/^/   /'
grep -q "VXLAN" "$T/vxlan.txt" || fail "no VXLAN frame seen on node1's underlay"

# ----------------------------------------------------------------- chapter 3
say "Chapter 3: multiple tenants, arbitrary (overlapping) IPs"
expect_ok on node1 netctl tenant create blue
expect_ok on node1 netctl tenant ls
expect_ok on node1 netctl net create -t blue --subnet=10.1.2.0/24 contiv-net
expect_ok on node1 netctl net ls -t blue
docker_run node1 contiv-blue-c1 contiv-net/blue
docker_run node2 contiv-blue-c2 contiv-net/blue
docker_run node2 contiv-blue-c3 contiv-net/blue
warm contiv-blue-c3 "${IP[contiv-blue-c1]}"
expect_ok exec_in contiv-blue-c3 ping -c 2 contiv-blue-c1
expect_ok exec_in contiv-blue-c3 ping -c 2 contiv-blue-c2
note "contiv-c1 (default) and contiv-blue-c1 (blue) have the same address ${IP[contiv-c1]}:"
[[ "${IP[contiv-c1]}" == "${IP[contiv-blue-c1]}" ]] || fail "expected overlapping addresses"
expect_ok exec_in contiv-c2 ping -c 1 "${IP[contiv-c1]}"
mac=$(ip netns exec "$P-c-contiv-c2" ip neigh show "${IP[contiv-c1]}" | awk '{print $5}')
want=$(ip netns exec "$P-c-contiv-c1" cat /sys/class/net/eth0/address)
note "contiv-c2 reached $mac, contiv-c1's MAC is $want: the default tenant's container"
[[ "$mac" == "$want" ]] || fail "contiv-c2 reached $mac, not contiv-c1 ($want)"
note "blue's ${IP[contiv-blue-c3]} does not exist in the default tenant:"
expect_fail exec_in contiv-c2 ping -c 2 -W 1 "${IP[contiv-blue-c3]}"

# ----------------------------------------------------------------- chapter 4
say "Chapter 4: natively connecting to external networks (a VLAN network)"
expect_ok on node1 netctl net create -p 112 -e vlan -s 10.1.3.0/24 contiv-vlan
expect_ok on node1 netctl net ls
docker_run node1 contiv-vlan-c1 contiv-vlan
docker_run node2 contiv-vlan-c2 contiv-vlan
warm contiv-vlan-c2 "${IP[contiv-vlan-c1]}"
note "tcpdump -e on node1's uplink (its trunk port at the hub) while contiv-vlan-c2 pings:"
ip netns exec "$HUB" timeout 6 tcpdump -e -n -c 4 -i h1v icmp >"$T/vlan.txt" 2>/dev/null &
TD=$!; sleep 0.5
expect_ok exec_in contiv-vlan-c2 ping -c 3 contiv-vlan-c1
wait $TD || true
sed 's/^/   /' "$T/vlan.txt"
grep -q "vlan 112" "$T/vlan.txt" || fail "VLAN tag 112 not seen on the trunk"

# ----------------------------------------------------------------- chapter 5
say "Chapter 5: applying policies between containers"
expect_ok on node1 netctl net create --subnet=10.1.2.0/24 contiv-net
expect_ok on node1 netctl policy create db-policy
expect_ok on node1 netctl policy ls
expect_ok on node1 netctl policy rule-add db-policy 1 -direction=in -protocol=tcp -action=deny
expect_ok on node1 netctl policy rule-add db-policy 2 -direction=in -protocol=tcp -port=8888 -action=allow -priority=10
expect_ok on node1 netctl policy rule-ls db-policy
expect_ok on node1 netctl group create contiv-net db -policy=db-policy
expect_ok on node1 netctl group ls
docker_run node1 contiv-db db.contiv-net
DB=${IP[contiv-db]}
printf 'contiv-db / # nc -l 8888 &\n'
ip netns exec "$P-c-contiv-db" nc -lk 8888 >/dev/null 2>&1 &
PIDS+=($!)
docker_run node2 contiv-web contiv-net
warm contiv-web "$DB"
wait_for "the listener in contiv-db" 5 bash -c "ip netns exec $P-c-contiv-db ss -ltn | grep -q :8888"
expect_blocked contiv-web "$DB" 8890
expect_blocked contiv-web "$DB" 8889
expect_ok exec_in contiv-web nc -nzvw 1 "$DB" 8888
note "rules change dynamically: allow 8890 too, then delete that rule again"
printf 'contiv-db / # nc -l 8890 &\n'
ip netns exec "$P-c-contiv-db" nc -lk 8890 >/dev/null 2>&1 &
PIDS+=($!)
expect_ok on node1 netctl policy rule-add db-policy 3 -direction=in -protocol=tcp -port=8890 -action=allow -priority=10
wait_for "rule 3 to open port 8890" 10 ip netns exec "$P-c-contiv-web" nc -nzw 1 "$DB" 8890
expect_ok exec_in contiv-web nc -nzvw 1 "$DB" 8890
expect_ok on node1 netctl policy rule-rm db-policy 3
wait_for "port 8890 to close again" 10 bash -c "! ip netns exec $P-c-contiv-web nc -nzw 1 $DB 8890"
expect_blocked contiv-web "$DB" 8890
if [[ "$DATAPATH" == ebpf ]]; then
  note "why were those connections dropped? node1's datapath counts per rule:"
  printf 'node1$ netctl counters\n'
  ip netns exec "$P-node1" "$BIN_DIR/netctl" counters --agent-socket "$T/node1/cni.sock" | tee "$T/counters.txt" | sed 's/^/   /'
  grep -q "^default:db-policy  1 " "$T/counters.txt" || fail "no counters for rule 1 of db-policy"
fi

# ------------------------------------------------------- a service across hosts
say "A load-balanced service whose providers live on both hosts"
expect_ok on node1 netctl net create --subnet=10.1.60.0/24 --gateway=10.1.60.254 svc-net
docker_run node1 echo-1 svc-net app=echo
docker_run node2 echo-2 svc-net app=echo
docker_run node1 svc-client svc-net
for e in echo-1 echo-2; do
  mkdir -p "$T/www-$e"; echo "$e on ${NODE[$e]}" >"$T/www-$e/index.html"
  (cd "$T/www-$e" && exec ip netns exec "$P-c-$e" python3 -m http.server 8080 >/dev/null 2>&1) &
  PIDS+=($!)
done
expect_ok on node1 netctl service create echo -s svc-net -l app=echo -p 80:8080:TCP
expect_ok on node1 netctl service ls
warm svc-client "${IP[echo-2]}"
wait_for "the service to answer" 15 ip netns exec "$P-c-svc-client" curl -fsS --max-time 2 http://echo/
printf 'svc-client / # for i in $(seq 20); do curl -s http://echo/; done | sort | uniq -c\n'
HITS=$(for _ in $(seq 1 20); do ip netns exec "$P-c-svc-client" curl -fsS --max-time 2 http://echo/ 2>/dev/null; done | sort | uniq -c)
echo "$HITS" | sed 's/^/   /'
grep -q "echo-1 on node1" <<<"$HITS" || fail "no request reached the provider on node1"
grep -q "echo-2 on node2" <<<"$HITS" || fail "no request reached the provider on node2"
note "the VIP is DNATed on the client's host; the provider on node2 is reached over VXLAN (its reply reverse-NATed there too)"
