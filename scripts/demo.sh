#!/usr/bin/env bash
# contiv-rs demo: the seed tutorial on one machine, for real.
#
# Starts netmaster (embedded store in a temporary directory), a datapath in a
# network namespace of its own — a private Open vSwitch (userspace datapath)
# with `netplugin --datapath ovs`, or with DATAPATH=ebpf the tc/BPF programs
# (`netplugin --datapath ebpf`, a private bpffs) — then walks the container
# networking tutorial (chapters 2, 3 and 5, the VLAN network of chapter 4,
# chapter 4's host NAT and published port on both datapaths, and a
# load-balanced service on OVS — the eBPF datapath does not realise
# services yet) and the
# policy walk-through of netplugin-docs.md, running every `netctl` command
# verbatim. "Containers" are network namespaces attached through the real CNI
# plugin (`contiv-cni`), exactly as a container runtime attaches them; they
# resolve each other through contiv's built-in DNS. Every check is printed
# with ✔ or ✘; the summary says what was proven; the exit status is non-zero
# if anything failed. Everything it creates is removed at the end, also on
# Ctrl-C.
#
#   sudo scripts/demo.sh            (make demo builds first, then runs this)
#   sudo DATAPATH=ebpf scripts/demo.sh   (make demo DATAPATH=ebpf)
#
# Binaries come from CONTIV_DEMO_BIN (default: <target dir>/debug).
# CONTIV_DEMO_KEEP=1 keeps the daemons' logs (in /tmp/contiv-demo-logs.*).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${CONTIV_DEMO_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
DATAPATH="${DATAPATH:-ovs}"
case "$DATAPATH" in
  ovs) DP_NAME="OVS" ;;
  ebpf) DP_NAME="eBPF" ;;
  *) echo "demo: DATAPATH=$DATAPATH: use ovs or ebpf" >&2; exit 1 ;;
esac
# The eBPF pin layout's version (its pins live under <pin-name>/v<ABI>/).
ABI="$(sed -n 's/^#define ABI_VERSION \([0-9]*\).*/\1/p' "$ROOT/contiv-dp-ebpf/bpf/abi.h")"

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (network namespaces, the datapath); run: sudo make demo" >&2
  exit 1
fi
for b in netmaster netplugin netctl contiv-cni; do
  [[ -x "$BIN/$b" ]] || { echo "demo: $BIN/$b is missing; run: make demo (it builds first)" >&2; exit 1; }
done
TOOLS=(ip nc ping ss curl python3 nft)
[[ "$DATAPATH" == ovs ]] && TOOLS+=(ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl)
for t in "${TOOLS[@]}"; do
  command -v "$t" >/dev/null || { echo "demo: $t is missing; run: make deps" >&2; exit 1; }
done

export PATH="$BIN:$PATH"
T="$(mktemp -d /tmp/contiv-demo.XXXXXX)"
SW="ctvdemo-sw$$"            # the datapath's namespace
PIDS=()                      # every process we started, killed by pid
CTRS=()                      # "containers" (network namespaces), in order
declare -A CTR_CID CTR_CONF  # container -> CNI container id / netconf file
declare -A IP                # container -> address
declare -A CTR_RESULT        # container -> its CNI ADD result (prevResult of a chain)
OUT="ctvdemo-out$$"          # "the outside world": a namespace behind the host
RESULTS=()                   # "✔ text" / "✘ text"
FAILED=0
PRE_NETNS="$(ls /var/run/netns 2>/dev/null || true)"
exec 3>&1 4>&2               # the terminal, for cleanup messages

# ---------------------------------------------------------------- output --
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
# Prints a command as the tutorial shows it, then runs it.
run() { printf '\033[36m$ %s\033[0m\n' "$*"; "$@"; }
ok() { RESULTS+=("✔ $*"); printf '\033[32m✔ %s\033[0m\n' "$*"; }
bad() { RESULTS+=("✘ $*"); FAILED=1; printf '\033[31m✘ %s\033[0m\n' "$*"; }
# check "what" cmd...: ✔ if cmd succeeds (retried up to 5 s: state propagates).
check() {
  local what="$1"; shift
  local i
  for i in $(seq 1 10); do
    if "$@" >"$T/check.out" 2>&1; then cat "$T/check.out"; ok "$what"; return 0; fi
    sleep 0.5
  done
  cat "$T/check.out"; bad "$what"; return 0
}
# check_fails "what" cmd...: ✔ if cmd fails (one attempt).
check_fails() {
  local what="$1"; shift
  if "$@" >"$T/check.out" 2>&1; then cat "$T/check.out"; bad "$what"; else cat "$T/check.out"; ok "$what"; fi
}

# --------------------------------------------------------------- cleanup --
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  exec 1>&3 2>&4
  ((rc == 0 || FAILED)) || say "demo stopped early (exit status $rc)"
  bold "Cleaning up"
  # Detach every container through the plugin while the agent runs (this
  # also gives the addresses back and removes the DNS endpoints).
  if [[ -S "$T/cni.sock" ]]; then
    local c
    for c in "${CTRS[@]}"; do
      CNI_COMMAND=DEL CNI_CONTAINERID="${CTR_CID[$c]}" CNI_NETNS="/var/run/netns/$c" \
        CNI_IFNAME=eth0 CNI_PATH="$BIN" contiv-cni <"${CTR_CONF[$c]}" >/dev/null 2>&1
    done
  fi
  local p
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p="${PIDS[$i]}"
    kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for p in ovs-vswitchd ovsdb-server; do
    [[ -f "$T/ovs/$p.pid" ]] && kill "$(cat "$T/ovs/$p.pid")" 2>/dev/null
  done
  # The eBPF datapath's pins (programs, maps, attachments) go with its bpffs.
  mountpoint -q "$T/bpffs" 2>/dev/null && umount -l "$T/bpffs"
  sleep 0.5
  for c in "${CTRS[@]}"; do
    ip netns delete "$c" 2>/dev/null
    rm -rf "/etc/netns/$c"
  done
  ip netns delete "$OUT" 2>/dev/null
  ip netns delete "$SW" 2>/dev/null
  # DNS namespaces a killed agent could not remove (created by this run).
  local n
  for n in $(ls /var/run/netns 2>/dev/null | grep '^cdns' || true); do
    grep -qx "$n" <<<"$PRE_NETNS" || ip netns delete "$n" 2>/dev/null
  done
  if [[ -n "${CONTIV_DEMO_KEEP:-}" ]]; then
    local keep
    keep="$(mktemp -d /tmp/contiv-demo-logs.XXXXXX)"
    cp "$T"/*.log "$T"/ovs/*.log "$keep"/ 2>/dev/null
    say "logs kept in $keep"
  fi
  rm -rf "$T"
  say "removed: processes, namespaces, the $DP_NAME datapath, $T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------- start --
free_port() {
  local p
  for p in 9999 $(seq 19990 20090); do
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
  echo "demo: no free port for netmaster" >&2; return 1
}

bold "Starting netmaster, the $DP_NAME datapath and netplugin (logs in $T)"
PORT="$(free_port)"
export NETMASTER="http://127.0.0.1:$PORT"
netmaster --store "embedded:$T/netmaster.redb" --listen-url "127.0.0.1:$PORT" >"$T/netmaster.log" 2>&1 &
PIDS+=($!)

ip netns add "$SW"
ip -n "$SW" link set lo up
for _ in $(seq 1 100); do curl -fs "$NETMASTER/api/v1/globals/" >/dev/null 2>&1 && break; sleep 0.1; done
if [[ "$DATAPATH" == ovs ]]; then
  mkdir -p "$T/ovs"
  ovsdb-tool create "$T/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  export OVS_RUNDIR="$T/ovs" OVS_LOGDIR="$T/ovs" OVS_DBDIR="$T/ovs"
  ip netns exec "$SW" ovsdb-server "$T/ovs/conf.db" --remote="punix:$T/ovs/db.sock" \
    --pidfile="$T/ovs/ovsdb-server.pid" --unixctl="$T/ovs/ovsdb-server.ctl" \
    --log-file="$T/ovs/ovsdb-server.log" --detach 2>>"$T/ovs/start.log"
  ovs-vsctl --db="unix:$T/ovs/db.sock" --no-wait init
  ip netns exec "$SW" ovs-vswitchd "unix:$T/ovs/db.sock" --pidfile="$T/ovs/ovs-vswitchd.pid" \
    --unixctl="$T/ovs/ovs-vswitchd.ctl" --log-file="$T/ovs/ovs-vswitchd.log" --detach 2>>"$T/ovs/start.log"
  unset OVS_RUNDIR OVS_LOGDIR OVS_DBDIR
  DP_ARGS=(--datapath ovs --ovs-rundir "$T/ovs" --ovs-netns "$SW")
  DP_SAY="OVS bridge contivbr (datapath_type=netdev)"
else
  # A private bpffs: the agent pins its programs, maps and attachments there.
  mkdir -p "$T/bpffs"
  mount -t bpf bpf "$T/bpffs"
  DP_ARGS=(--datapath ebpf --bpf-fs "$T/bpffs" --bpf-netns "$SW")
  DP_SAY="tc/BPF programs on each container's veth (pins in $T/bpffs)"
fi
netplugin "${DP_ARGS[@]}" --host demo-node1 --netmaster "$NETMASTER" \
  --cni-socket "$T/cni.sock" \
  --docker-plugin-dir "$T" --no-docker-plugin --state-dir "$T/netplugin" >"$T/netplugin.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  [[ -S "$T/cni.sock" ]] && CNI_COMMAND=STATUS contiv-cni <<<'{"cniVersion":"1.1.0","name":"x","type":"contiv-cni","socket":"'"$T/cni.sock"'"}' >/dev/null 2>&1 && break
  sleep 0.1
done
say "netmaster $NETMASTER (embedded store), $DP_SAY, netplugin ready"

# ------------------------------------------------------------ containers --
# ctr NAME TENANT NETWORK GROUP: a "container" attached through contiv-cni,
# the way a CNI runtime does it; it resolves names through the built-in DNS.
ctr() {
  local name="$1" tenant="$2" net="$3" group="${4:-}" label="${5:-}"
  if [[ -e "/var/run/netns/$name" ]]; then
    echo "demo: network namespace $name already exists; remove it first" >&2
    return 1
  fi
  ip netns add "$name"
  CTRS+=("$name")
  ip -n "$name" link set lo up
  local conf="$T/$name.conf"
  local args=""
  [[ -n "$label" ]] && args=',"args":{"cni":{"labels":[{"key":"'"${label%%=*}"'","value":"'"${label#*=}"'"}]}}'
  printf '{"cniVersion":"1.0.0","name":"%s","type":"contiv-cni","tenant":"%s","network":"%s","group":"%s","socket":"%s"%s}\n' \
    "$net" "$tenant" "$net" "$group" "$T/cni.sock" "$args" >"$conf"
  CTR_CID[$name]="demo-$name"
  CTR_CONF[$name]="$conf"
  local out
  if ! out="$(CNI_COMMAND=ADD CNI_CONTAINERID="demo-$name" CNI_NETNS="/var/run/netns/$name" \
    CNI_IFNAME=eth0 CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$name" CNI_PATH="$BIN" contiv-cni <"$conf")"; then
    bad "contiv-cni ADD $name: $out"
    return 0
  fi
  IP[$name]="$(sed -n 's/.*"address":"\([0-9.]*\)\/.*/\1/p' <<<"$out" | head -1)"
  CTR_RESULT[$name]="$out"
  mkdir -p "/etc/netns/$name"
  local ns
  ns="$(sed -n 's/.*"nameservers":\["\([0-9.]*\)".*/\1/p' <<<"$out")"
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "${ns:-169.254.53.53}" >"/etc/netns/$name/resolv.conf"
  local where="$net"; [[ -n "$group" ]] && where="$group.$net"; [[ "$tenant" != default ]] && where="$where/$tenant"
  say "  container $name on $where: eth0 ${IP[$name]}/24, nameserver ${ns:-none} (contiv-cni ADD)"
}
in_ctr() { local c="$1"; shift; run ip netns exec "$c" "$@"; }
# Addresses netmaster has allocated on network TENANT:NET.
allocated() {
  local n
  n="$(curl -fs "$NETMASTER/api/v1/inspect/networks/$1/" | sed -n 's/.*"allocatedAddressesCount":\([0-9]*\).*/\1/p')"
  echo "${n:-0}"
}
# Container interfaces the datapath holds: OVS ports of contivbr, or
# eBPF classifier attachments (one pinned link per container veth).
endpoint_ports() {
  if [[ "$DATAPATH" == ovs ]]; then
    ovs-vsctl --db="unix:$T/ovs/db.sock" list-ports contivbr | grep '^v' || true
  else
    ls "$T/bpffs/contiv/v$ABI/links" 2>/dev/null | grep '^ep_' || true
  fi
}
# The datapath, as it sees itself.
show_switch() {
  if [[ "$DATAPATH" == ovs ]]; then
    local ports flows
    ports="$(ovs-vsctl --db="unix:$T/ovs/db.sock" list-ports contivbr | tr '\n' ' ')"
    flows="$(ovs-ofctl -O OpenFlow13 dump-flows "unix:$T/ovs/contivbr.mgmt" | grep -c cookie= || true)"
    say "  OVS bridge contivbr: ports [ $ports], $flows flows"
  else
    local links
    links="$(ls "$T/bpffs/contiv/v$ABI/links" 2>/dev/null | tr '\n' ' ')"
    say "  eBPF datapath: pinned attachments [ $links] (ep_<ifindex>: a container veth)"
  fi
}
listen() { ip netns exec "$1" nc -lk "$2" >/dev/null 2>&1 & PIDS+=($!); }

# ------------------------------------------------------ chapter 2 --------
bold "Chapter 2: Multi-Host Networking with Contiv (one host here)"
run netctl net create --subnet=10.1.2.0/24 contiv-net
run netctl net ls
say "(docker run -itd --name=contiv-c1 --net=contiv-net alpine /bin/sh, and contiv-c2 — here:)"
ctr contiv-c1 default contiv-net
ctr contiv-c2 default contiv-net
check "contiv-c2 pings contiv-c1 by name (built-in DNS + $DP_NAME)" in_ctr contiv-c2 ping -c 2 contiv-c1
check "contiv-c1 pings contiv-c2 by name" in_ctr contiv-c1 ping -c 2 contiv-c2
show_switch

# ------------------------------------------------------ chapter 3 --------
bold "Chapter 3: Multiple Tenants, Arbitrary IPs"
run netctl tenant create blue
run netctl tenant ls
run netctl net create -t blue --subnet=10.1.2.0/24 contiv-net
run netctl net ls -t blue
say "(docker run -itd --name=contiv-blue-c1 --net=contiv-net/blue alpine /bin/sh, c2, c3 — here:)"
ctr contiv-blue-c1 blue contiv-net
ctr contiv-blue-c2 blue contiv-net
ctr contiv-blue-c3 blue contiv-net
check "contiv-blue-c3 pings contiv-blue-c1 by name" in_ctr contiv-blue-c3 ping -c 2 contiv-blue-c1
check "contiv-blue-c3 pings contiv-blue-c2 by name" in_ctr contiv-blue-c3 ping -c 2 contiv-blue-c2
if [[ "${IP[contiv-blue-c1]}" == "${IP[contiv-c1]}" ]]; then
  ok "tenant blue reuses the subnet: contiv-blue-c1 and contiv-c1 both have ${IP[contiv-c1]}"
else
  bad "overlapping addresses (${IP[contiv-blue-c1]} vs ${IP[contiv-c1]})"
fi
check_fails "blue is isolated: contiv-c1 (default) cannot reach ${IP[contiv-blue-c3]} (only blue has it)" \
  in_ctr contiv-c1 ping -c 2 -W 1 "${IP[contiv-blue-c3]}"
check_fails "blue does not see default's names: contiv-blue-c1 cannot resolve contiv-c2" \
  in_ctr contiv-blue-c1 ping -c 1 -W 1 contiv-c2

# ------------------------------------------------------ chapter 4 (VLAN) --
bold "Chapter 4: a VLAN network"
run netctl net create -p 112 -e vlan -s 10.1.3.0/24 contiv-vlan
run netctl net ls
ctr contiv-vlan-c1 default contiv-vlan
ctr contiv-vlan-c2 default contiv-vlan
check "contiv-vlan-c2 pings contiv-vlan-c1 by name on VLAN 112" in_ctr contiv-vlan-c2 ping -c 2 contiv-vlan-c1
check_fails "VLAN and VXLAN networks do not bridge: contiv-vlan-c1 cannot reach contiv-c1 (${IP[contiv-c1]})" \
  in_ctr contiv-vlan-c1 ping -c 1 -W 1 "${IP[contiv-c1]}"

# ------------------------------------------------------ chapter 5 --------
bold "Chapter 5: Applying Policies Between Containers with Contiv"
run netctl policy create db-policy
run netctl policy ls
run netctl policy rule-add db-policy 1 -direction=in -protocol=tcp -action=deny
run netctl policy rule-add db-policy 2 -direction=in -protocol=tcp -port=8888 -action=allow -priority=10
run netctl policy rule-ls db-policy
run netctl group create contiv-net db -policy=db-policy
run netctl group ls
say "(docker run -itd --name=contiv-db --net=db.contiv-net alpine /bin/sh; contiv-web on contiv-net — here:)"
ctr contiv-db default contiv-net db
ctr contiv-web default contiv-net
DB="${IP[contiv-db]}"
say "contiv-db is $DB; it listens on 8888, 8889 and 8890 (nc -lk)"
listen contiv-db 8888; listen contiv-db 8889; listen contiv-db 8890
sleep 0.5
check_fails "nc -nzvw 1 $DB 8890 times out (in tcp deny)" in_ctr contiv-web nc -nzvw 1 "$DB" 8890
check_fails "nc -nzvw 1 $DB 8889 times out (in tcp deny)" in_ctr contiv-web nc -nzvw 1 "$DB" 8889
check "nc -nzvw 1 $DB 8888 connects (in tcp 8888 allow, priority 10)" in_ctr contiv-web nc -nzvw 1 "$DB" 8888
say "At this point you can add rules to the policy dynamically:"
run netctl policy rule-add db-policy 3 -direction=in -protocol=tcp -port=8889 -action=allow -priority=10
check "nc -nzvw 1 $DB 8889 connects after the rule added at runtime" in_ctr contiv-web nc -nzvw 1 "$DB" 8889
check_fails "nc -nzvw 1 $DB 8890 still times out" in_ctr contiv-web nc -nzvw 1 "$DB" 8890
if [[ "$DATAPATH" == ebpf ]]; then
  say "Why were those connections dropped? The datapath counts per rule:"
  run netctl counters --agent-socket "$T/cni.sock"
  check "the deny rule of db-policy counted the dropped connections" \
    bash -c "netctl counters -j --agent-socket '$T/cni.sock' | grep -A5 '\"policy\": \"default:db-policy\"' | grep -A3 '\"rule\": \"1\"' | grep -q '\"drops\": [1-9]'"
fi

# ------------------------------------------ netplugin-docs: prod_web --------
bold "netplugin-docs.md: Using Policies (prod_web)"
run netctl policy create prod_web
run netctl policy rule-add prod_web 1 -direction=in -protocol=tcp -action=deny
run netctl policy rule-add prod_web 2 -direction=in -protocol=tcp -port=80 -action=allow -priority=10
run netctl policy rule-add prod_web 3 -direction=in -protocol=tcp -port=443 -action=allow -priority=10
run netctl group create contiv-net web -policy=prod_web
say "(docker run -itd --net web.contiv-net ubuntu bash — here:)"
ctr contiv-web1 default contiv-net web
WEB="${IP[contiv-web1]}"
listen contiv-web1 80; listen contiv-web1 443; listen contiv-web1 8080
sleep 0.5
check "port 80 of the web group is reachable" in_ctr contiv-c1 nc -nzvw 1 "$WEB" 80
check "port 443 of the web group is reachable" in_ctr contiv-c1 nc -nzvw 1 "$WEB" 443
check_fails "port 8080 of the web group is blocked" in_ctr contiv-c1 nc -nzvw 1 "$WEB" 8080
say "Service discovery: the group is reachable by DNS name web (and web.contiv-net):"
check "ping web (the group's name) reaches $WEB" in_ctr contiv-c2 ping -c 1 web
check "ping web.contiv-net reaches $WEB" in_ctr contiv-c2 ping -c 1 web.contiv-net


# ------------------------------------------------------ chapter 4 --------
# http_name NS NAME PORT: an HTTP server answering NAME (python's http.server).
http_name() {
  local d="$T/www-$1"; mkdir -p "$d"; echo "$2" >"$d/index.html"
  (cd "$d" && exec ip netns exec "$1" python3 -m http.server "$3" >/dev/null 2>&1) & PIDS+=($!)
}
# The service echo over the providers echo-1 and echo-2 (on contiv-ext),
# reached by ext-c1 (both datapaths realise services).
service_demo() {
say "A load-balanced service: netctl allocates the VIP, the datapath DNATs to the providers (label app=echo)."
run netctl service create echo -s contiv-ext -l app=echo -p 80:8080:TCP
run netctl service ls
check "curl http://echo/ (the service by name: built-in DNS -> VIP -> a provider)" in_ctr ext-c1 curl -fsS --max-time 2 http://echo/
HITS="$(for _ in $(seq 1 30); do ip netns exec ext-c1 curl -fsS --max-time 2 http://echo/ 2>/dev/null; done | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
say "  30 requests: $HITS"
if [[ "$HITS" == *echo-1* && "$HITS" == *echo-2* ]]; then ok "the requests were spread over both providers"; else bad "not spread: $HITS"; fi
check "a provider reaches its own service (hairpin)" in_ctr echo-1 curl -fsS --max-time 2 http://echo/
}
bold "Chapter 4: External connectivity (host NAT, published ports) and a load-balanced service"
say "The switch's namespace is the host here; a namespace behind it, $OUT (198.51.100.2), is 'the outside'."
ip netns add "$OUT"
ip -n "$OUT" link set lo up
ip link add ctvout$$ netns "$SW" type veth peer name eth0 netns "$OUT"
ip -n "$SW" addr add 198.51.100.1/24 dev ctvout$$
ip -n "$SW" link set ctvout$$ up
ip -n "$OUT" addr add 198.51.100.2/24 dev eth0
ip -n "$OUT" link set eth0 up
# The outside's server answers with the address a connection came from.
ip netns exec "$OUT" python3 -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = (self.client_address[0] + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()' >/dev/null 2>&1 & PIDS+=($!)
run netctl net create --subnet=10.1.50.0/24 --gateway=10.1.50.254 contiv-ext
ctr ext-c1 default contiv-ext
ctr echo-1 default contiv-ext "" app=echo
ctr echo-2 default contiv-ext "" app=echo
http_name echo-1 echo-1 8080; http_name echo-2 echo-2 8080
sleep 1
say "Host NAT: a data network's traffic to outside the cluster leaves through the host, SNATed to its address."
check "ext-c1 reaches the outside (curl http://198.51.100.2:8080/)" in_ctr ext-c1 curl -fsS --max-time 2 http://198.51.100.2:8080/
SEEN="$(ip netns exec ext-c1 curl -fsS --max-time 2 http://198.51.100.2:8080/ 2>/dev/null || true)"
if [[ "$SEEN" == 198.51.100.1 ]]; then ok "the outside sees the host's address ($SEEN), not ${IP[ext-c1]}"; else bad "the outside saw '$SEEN'"; fi
service_demo
say "A published port: the reference portmap plugin chained after contiv-cni (prevResult passed on), host port 9099 -> echo-1:8080."
PM_CONF='{"cniVersion":"1.0.0","name":"contiv-ext","type":"portmap","capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[{"hostPort":9099,"containerPort":8080,"protocol":"tcp"}]},"prevResult":'"${CTR_RESULT[echo-1]}"'}'
if ip netns exec "$SW" env CNI_COMMAND=ADD CNI_CONTAINERID=demo-echo-1 CNI_NETNS=/var/run/netns/echo-1 CNI_IFNAME=eth0 \
   CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap <<<"$PM_CONF" >"$T/portmap.out" 2>&1; then
  ok "portmap ADD accepted contiv-cni's result"
else
  cat "$T/portmap.out"; bad "portmap ADD"
fi
check "the outside reaches the published port (curl http://198.51.100.1:9099/)" in_ctr "$OUT" curl -fsS --max-time 2 http://198.51.100.1:9099/
ip netns exec "$SW" env CNI_COMMAND=DEL CNI_CONTAINERID=demo-echo-1 CNI_NETNS=/var/run/netns/echo-1 CNI_IFNAME=eth0 \
   CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap <<<"$PM_CONF" >/dev/null 2>&1 || true
check_fails "portmap DEL closed the port" in_ctr "$OUT" curl -fsS --max-time 2 http://198.51.100.1:9099/
run netctl service rm echo

# ------------------------------------------------------ release ------------
bold "Detaching the containers (contiv-cni DEL) gives every address back"
show_switch
NETS="default:contiv-net blue:contiv-net default:contiv-vlan default:contiv-ext"
say "  addresses allocated before: $(for n in $NETS; do printf '%s=%s ' "$n" "$(allocated "$n")"; done)"
for c in "${CTRS[@]}"; do
  CNI_COMMAND=DEL CNI_CONTAINERID="${CTR_CID[$c]}" CNI_NETNS="/var/run/netns/$c" \
    CNI_IFNAME=eth0 CNI_PATH="$BIN" contiv-cni <"${CTR_CONF[$c]}" >/dev/null || bad "contiv-cni DEL $c"
done
AFTER="$(for n in $NETS; do printf '%s=%s ' "$n" "$(allocated "$n")"; done)"
say "  addresses allocated after:  $AFTER"
if [[ "$AFTER" != *=[1-9]* ]]; then ok "every address was released"; else bad "addresses left: $AFTER"; fi
PORTS="$(endpoint_ports | grep -c . || true)"
show_switch
if [[ "$PORTS" == 0 ]]; then ok "no container port (nor DNS endpoint) is left in the datapath"; else bad "$PORTS ports left in the datapath"; fi

# ------------------------------------------------------ summary ------------
bold "Summary: what this run proved"
for r in "${RESULTS[@]}"; do say "  $r"; done
if ((FAILED)); then
  say "Some steps failed (✘). Rerun with CONTIV_DEMO_KEEP=1 to keep the daemons' logs."
  exit 1
fi
say "Every step passed."
