#!/usr/bin/env bash
# Capture benchmark: in a "pod" and a "client" network namespace joined by a veth pair, compares
#   app-direct     client -> nginx app :8080 (no proxy, no capture)
#   proxy-direct   client -> bulwark-proxy :26001 -> app (the 'proxy' port, capture none)
#   nftables       client -> :8080, REDIRECTed by table inet bulwark -> proxy -> app
#   iptables-legacy / iptables-nft   the same through BULWARK_* chains
#   ebpf           client -> :8080, steered by the sk_lookup program of `bulwark-init hold`
#                  to the proxy's own socket (no NAT) -> app
# with wrk: keep-alive requests/s and new connections/s (Connection: close, one request per
# connection), and the conntrack entries each mode creates in the pod. Prints a table, the
# ratios to proxy-direct and to iptables, and each mode's apply time.
# Needs root (namespaces, netfilter). Everything is removed on exit (trap), also on failure.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

DURATION=5
CONNS=32
THREADS=1
QUICK=0
ROUNDS=1
INIT="${BULWARK_INIT_BIN:-${BULWARK_INIT_BIN_DEFAULT:-$REPO_ROOT/build/bin/bulwark-init}}"
PROXY="${BULWARK_PROXY_BIN:-${BULWARK_PROXY_BIN_DEFAULT:-$REPO_ROOT/build/bin/bulwark-proxy}}"
NGINX="${NGINX:-/usr/sbin/nginx}"
WRK="${WRK:-wrk}"
MODES="app-direct proxy-direct ebpf nftables iptables-legacy iptables-nft"

usage() {
    cat <<EOF
Usage: bench/capture-bench.sh [options]

Options:
  --duration S   wrk seconds per measurement (default $DURATION)
  --conns C      wrk connections (default $CONNS)
  --threads N    bulwark-proxy worker threads (default $THREADS)
  --modes "..."  subset of: $MODES
  --init PATH    bulwark-init (default \$BULWARK_INIT_BIN or build/bin/bulwark-init)
  --proxy PATH   bulwark-proxy (default \$BULWARK_PROXY_BIN or build/bin/bulwark-proxy)
  --rounds N     measure every mode N times, modes interleaved per round (noise on a shared
                 machine hits every mode alike); the table shows each mode's median
  --quick        smoke run (1 s, 4 connections): every mode moves traffic; used by ctest
  -h, --help     this help
Exit: 0 ok, 1 failure, 77 not root (skipped; with CI=true a failure instead).
EOF
}

die() { echo "capture-bench: error: $*" >&2; exit 1; }
log() { echo "capture-bench: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --conns) CONNS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --modes) MODES="$2"; shift 2 ;;
        --init) INIT="$2"; shift 2 ;;
        --proxy) PROXY="$2"; shift 2 ;;
        --rounds) ROUNDS=$2; [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"; shift 2 ;;
        --quick) QUICK=1; DURATION=1; CONNS=4; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    [ "${CI:-}" = "true" ] && die "CI=true: needs root (network namespaces, netfilter)"
    log "skipped: needs root (network namespaces, netfilter)"
    exit 77
fi
for t in ip setpriv "$WRK" curl "$NGINX" nft iptables-legacy-save iptables-nft-save python3; do
    command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
done
[ -x "$INIT" ] || die "bulwark-init not found at $INIT (--init)"
[ -x "$PROXY" ] || die "bulwark-proxy not found at $PROXY (--proxy)"

POD_IP=198.18.0.2
CLI_IP=198.18.0.1
POD="bwb-pod-$$"
CLI="bwb-cli-$$"
TMP=$(mktemp -d /tmp/bulwark-capture-bench.XXXXXX)
PIDS=()

# Whatever runs inside a namespace is killed by namespace (ip netns pids) before its name goes:
# a process left in a namespace whose name is deleted keeps running (and listening) unseen.
kill_netns() { # name
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null) || return 0
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for _ in $(seq 1 20); do
        pids=$(ip netns pids "$1" 2>/dev/null)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}
BPF_STATS_WAS=""
cleanup() {
    [ -n "$BPF_STATS_WAS" ] && sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    kill_netns "$POD"
    kill_netns "$CLI"
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$POD" 2>/dev/null || true
    ip netns del "$CLI" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inpod() { ip netns exec "$POD" "$@"; }
incli() { ip netns exec "$CLI" "$@"; }

ip netns add "$POD"
ip netns add "$CLI"
ip -n "$POD" link add eth0 type veth peer name eth0 netns "$CLI"
for ns in "$POD" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$POD" addr add "$POD_IP/24" dev eth0
ip -n "$CLI" addr add "$CLI_IP/24" dev eth0
ip -n "$POD" link set eth0 up
ip -n "$CLI" link set eth0 up
# Many short connections: wide port range and TIME_WAIT reuse on the client side.
incli sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1

cat > "$TMP/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/nginx-error.log warn;
pid $TMP/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP;
    proxy_temp_path $TMP;
    fastcgi_temp_path $TMP;
    uwsgi_temp_path $TMP;
    scgi_temp_path $TMP;
    keepalive_requests 1000000;
    server {
        listen 8080 reuseport backlog=4096;
        location / { return 200 "hello\n"; }
    }
}
NGX
# Started directly (not through the inpod function, whose subshell would sit in between), with
# a parent-death signal: if this script is killed (ctest timeout), they die with it.
ip netns exec "$POD" setpriv --pdeathsig KILL "$NGINX" -c "$TMP/nginx.conf" -p "$TMP" \
    >"$TMP/nginx.out" 2>&1 &
PIDS+=($!)
RUN_DIR="$TMP/run"
mkdir -p "$RUN_DIR"
ip netns exec "$POD" setpriv --pdeathsig KILL "$PROXY" --listen 0.0.0.0:26001 --app-port 8080 --mode monitoring \
    --threads "$THREADS" --log-level error --ebpf-handoff "$RUN_DIR/steer.sock" \
    >"$TMP/proxy.out" 2>&1 &
PIDS+=($!)
HOLD_PID=""

wait_http() { # bounded: 10 s
    for _ in $(seq 1 100); do
        incli curl -s -o /dev/null -m 1 "$1" && return 0
        sleep 0.1
    done
    return 1
}
wait_http "http://$POD_IP:8080/" || die "app did not start: $(cat "$TMP/nginx.out")"
wait_http "http://$POD_IP:26001/" || die "proxy did not start: $(cat "$TMP/proxy.out")"

requests_total() {
    inpod curl -s -m 2 http://127.0.0.1:10246/metrics |
        awk '/^bulwark_requests_total/ { s += $NF } END { printf "%d", s }'
}

# Every wrk run connects from a client address of its own (198.18.0.10-249, in turn). With one
# client address, the runs share the pod's TIME_WAIT sockets (the proxy and the app close first
# on Connection: close, and a run of new connections cycles through the client's whole port
# range in seconds): a later run's SYNs land on the TIME_WAIT sockets an earlier run left, and
# which mode came after which decided its rate (proxy-direct at half of ebpf's when it followed
# the REDIRECT modes, whose accepted sockets are also on :26001).
SRC_SEQ=0
fresh_source() {
    local prev=$(( 10 + (SRC_SEQ + 239) % 240 )) next=$(( 10 + SRC_SEQ % 240 ))
    SRC_SEQ=$(( SRC_SEQ + 1 ))
    incli ip addr add "198.18.0.$next/24" dev eth0 2>/dev/null || true
    incli ip route replace 198.18.0.0/24 dev eth0 src "198.18.0.$next"
    [ "$prev" != "$next" ] && incli ip addr del "198.18.0.$prev/24" dev eth0 2>/dev/null || true
}

# wrk -> "rps errors"
run_wrk() { # url extra-args...
    local url="$1"; shift
    local out
    out=$(incli "$WRK" -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s "$@" "$url" 2>&1) ||
        die "wrk failed: $out"
    local rps errs non2xx
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    echo "${rps:-0} $(( ${errs:-0} + ${non2xx:-0} ))"
}

# Conntrack entries in the pod (0 when no conntrack user is active in the namespace).
ct_count() {
    inpod cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0
}

# "runs run_time_ns" of the sk_lookup program(s) attached to the pod's network namespace (the
# kernel counts them while kernel.bpf_stats_enabled is 1).
bpf_prog_stats() {
    python3 - "$POD" <<'PY'
import json, os, subprocess, sys
ino = os.stat("/run/netns/" + sys.argv[1]).st_ino
def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j"] + list(args), capture_output=True,
                                     text=True).stdout or "null")
cnt = ns = 0
for link in bpftool("link", "show") or []:
    if link.get("attach_type") == "sk_lookup" and link.get("netns_ino") == ino:
        prog = bpftool("prog", "show", "id", str(link["prog_id"])) or {}
        cnt += prog.get("run_cnt", 0)
        ns += prog.get("run_time_ns", 0)
print(cnt, ns)
PY
}

# The eBPF holder for the ebpf mode: it attaches at start; the proxy hands it its socket.
start_holder() {
    ip netns exec "$POD" setpriv --pdeathsig KILL "$INIT" hold --mode ebpf --app-port 8080 --pod-ip "$POD_IP" \
        --ipv6 off --run-dir "$RUN_DIR" --log-level error >"$TMP/hold.out" 2>&1 &
    HOLD_PID=$!
    PIDS+=("$HOLD_PID")
    for _ in $(seq 1 100); do # bounded: 10 s for the proxy's socket to arrive
        if [ -S "$RUN_DIR/control.sock" ] && python3 - "$RUN_DIR/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(2)
s.connect(sys.argv[1])
s.send(b'{"op":"status"}')
st = json.loads(s.recv(65536))
sys.exit(0 if st.get("listeners", {}).get("ipv4") else 1)
PY
        then
            return 0
        fi
        sleep 0.1
    done
    die "holder did not take the proxy's socket: $(cat "$TMP/hold.out")"
}
stop_holder() {
    inpod "$INIT" cleanup --mode ebpf --run-dir "$RUN_DIR" --log-level error >/dev/null ||
        die "cleanup ebpf"
    kill "$HOLD_PID" 2>/dev/null || true
    wait "$HOLD_PID" 2>/dev/null || true
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print 0; exit } if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A KA NC APPLY ERR CT KA_ALL NC_ALL
for round in $(seq 1 "$ROUNDS"); do
for mode in $MODES; do
    url="http://$POD_IP:8080/"
    APPLY[$mode]="-"
    case "$mode" in
        app-direct) ;;
        proxy-direct) url="http://$POD_IP:26001/" ;;
        ebpf) args=(--mode ebpf --run-dir "$RUN_DIR"); start_holder ;;
        nftables) args=(--mode nftables) ;;
        iptables-legacy) args=(--mode iptables --iptables-backend legacy) ;;
        iptables-nft) args=(--mode iptables --iptables-backend nft) ;;
        *) die "unknown mode $mode" ;;
    esac
    if [[ "$mode" != *-direct ]]; then
        out=$(inpod "$INIT" apply "${args[@]}" --app-port 8080 --pod-ip "$POD_IP" --ipv6 off \
              --json --log-level error) || die "apply $mode failed: $out"
        APPLY[$mode]=$(sed -n 's/.*"apply_ms":\([0-9.]*\).*/\1/p' <<<"$out")
        before=$(requests_total)
        incli curl -sf -o /dev/null -m 5 "$url" || die "$mode: request through capture failed"
        after=$(requests_total)
        [ "$after" -gt "$before" ] || die "$mode: request did not go through the proxy"
    fi
    fresh_source # here, not in run_wrk: that runs in a subshell
    read -r ka kaerr < <(run_wrk "$url")
    ct_before=$(ct_count)
    if [ "$mode" = ebpf ] && command -v bpftool >/dev/null; then
        # The program's own cost per new connection, measured by the kernel (noise-free, unlike
        # the rates on a shared machine). A global switch: restored right after (and on exit).
        BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo "")
        sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null || BPF_STATS_WAS=""
        read -r runs0 ns0 < <(bpf_prog_stats)
    fi
    fresh_source
    read -r nc ncerr < <(run_wrk "$url" -H "Connection: close")
    # Round 1 only: later rounds would see the table shrink as earlier runs' entries expire.
    [ "$round" -eq 1 ] && CT[$mode]=$(( $(ct_count) - ct_before ))
    if [ "$mode" = ebpf ] && [ -n "$BPF_STATS_WAS" ]; then
        read -r runs1 ns1 < <(bpf_prog_stats)
        sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS" 2>/dev/null || true
        BPF_STATS_WAS=""
        BPF_RUNS_ALL="${BPF_RUNS_ALL:-} $(( runs1 - runs0 ))"
        BPF_NS_ALL="${BPF_NS_ALL:-} $(awk -v n=$(( ns1 - ns0 )) -v r=$(( runs1 - runs0 )) \
            'BEGIN { if (r > 0) printf "%.0f", n / r; else print 0 }')"
    fi
    KA_ALL[$mode]="${KA_ALL[$mode]:-} $ka"
    NC_ALL[$mode]="${NC_ALL[$mode]:-} $nc"
    KA[$mode]=$(median <<<"${KA_ALL[$mode]}")
    NC[$mode]=$(median <<<"${NC_ALL[$mode]}")
    ERR[$mode]=$(( ${ERR[$mode]:-0} + kaerr + ncerr ))
    if [ "$mode" = ebpf ]; then
        stop_holder
    elif [[ "$mode" != *-direct ]]; then
        inpod "$INIT" cleanup "${args[@]}" --log-level error >/dev/null || die "cleanup $mode"
    fi
    log "round $round/$ROUNDS $mode: keep-alive ${ka} rps, new connections ${nc}/s," \
        "conntrack +${CT[$mode]}, errors $(( kaerr + ncerr ))"
done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
base="proxy-direct"
ipt=""
for m in iptables-legacy iptables-nft; do [ -n "${NC[$m]:-}" ] && { ipt=$m; break; }; done
printf '\n%-16s %14s %9s %14s %9s %9s %11s %10s %7s\n' mode "keepalive rps" "vs proxy" \
    "new conn/s" "vs proxy" "vs iptab" "conntrack+" "apply ms" errors
for mode in $MODES; do
    printf '%-16s %14s %9s %14s %9s %9s %11s %10s %7s\n' "$mode" "${KA[$mode]}" \
        "$(ratio "${KA[$mode]}" "${KA[$base]:-0}")" "${NC[$mode]}" \
        "$(ratio "${NC[$mode]}" "${NC[$base]:-0}")" "$(ratio "${NC[$mode]}" "${NC[$ipt]:-0}")" \
        "${CT[$mode]}" "${APPLY[$mode]}" "${ERR[$mode]}"
done
[ -n "${BPF_NS_ALL:-}" ] && echo "(ebpf: the sk_lookup program ran $(median <<<"$BPF_RUNS_ALL")" \
    "times per new-connection run, $(median <<<"$BPF_NS_ALL") ns per run (kernel bpf_stats;" \
    "per round: $(sed 's/^ //' <<<"$BPF_NS_ALL") ns); the holder is not on the connection path)"
[ "$ROUNDS" -gt 1 ] && echo "(medians of $ROUNDS interleaved rounds; new conn/s per round:" \
    "$(for m in $MODES; do printf '%s [%s] ' "$m" "$(sed 's/^ //' <<<"${NC_ALL[$m]}")"; done))"
echo "(wrk -t1 -c$CONNS -d${DURATION}s, each run from a client address of its own," \
     "proxy --threads $THREADS, IPv4, one veth pair;" \
     "\"vs proxy\" = / proxy-direct, \"vs iptab\" = new conn/s / ${ipt:-iptables};" \
     "conntrack+ = entries added in the pod during round 1's new-connection run)"

fail=0
for mode in $MODES; do
    awk -v r="${KA[$mode]}" 'BEGIN { exit !(r > 0) }' || { log "$mode moved no traffic"; fail=1; }
    [ "${ERR[$mode]}" -eq 0 ] || { log "$mode had ${ERR[$mode]} errors"; fail=1; }
done
[ "$QUICK" -eq 1 ] && log "quick smoke run: numbers are not meaningful"
exit $fail
