#!/usr/bin/env bash
# Instructions per request of bulwark-proxy, by component, with callgrind: a figure that does
# not depend on what else runs on the machine (wall-clock benchmarks on a shared machine vary by
# tens of percent from one run to the next; instruction counts by well under one).
#
#   bench/profile-proxy.sh [--mode block|off] [--workload mixed|get] [--duration S] [--bin PATH]
#                          [--out FILE]
#
# Starts an nginx app (answers 200 "hello\n") and bulwark-proxy --threads 1 under callgrind on
# 127.0.0.1 (random ports, everything in a mktemp directory, stopped on exit), warms up, then
# counts only while wrk sends the workload (bench/mixed.lua, or GET of one URL), and prints the
# instructions per request in all and in the parts that matter for the proxy's cost: the
# detection engine, the proxy's head checks, Beast's request and response head parsers, the
# forwarded heads, and the memory allocator (with the allocations per request).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
MODE=block
WORKLOAD=mixed
DURATION=8
BIN="${BULWARK_PROXY_BIN:-$REPO_ROOT/build/bin/bulwark-proxy}"
OUT=""
NGINX="${NGINX:-/usr/sbin/nginx}"

die() { echo "profile-proxy: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mode) [[ $# -ge 2 && ( $2 == block || $2 == off ) ]] || die "--mode needs block or off"; MODE=$2; shift 2 ;;
        --workload) [[ $# -ge 2 && ( $2 == mixed || $2 == get ) ]] || die "--workload needs mixed or get"; WORKLOAD=$2; shift 2 ;;
        --duration) [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || die "--duration needs seconds >= 1"; DURATION=$2; shift 2 ;;
        --bin) [[ $# -ge 2 ]] || die "--bin needs a path"; BIN=$2; shift 2 ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a file"; OUT=$2; shift 2 ;;
        -h|--help) sed -n 2,15p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1" ;;
    esac
done
for tool in valgrind callgrind_control callgrind_annotate wrk curl python3 "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
[[ -x "$BIN" ]] || die "bulwark-proxy binary not found: $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-profile.XXXXXX")
APP_PID=""; BW_PID=""
cleanup() {
    [[ -n "$BW_PID" ]] && kill "$BW_PID" 2>/dev/null || true
    [[ -n "$APP_PID" ]] && kill "$APP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    [[ "${PROFILE_KEEP:-0}" == 1 ]] && echo "profile-proxy: kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP_PORT=$(free_port); BW_PORT=$(free_port); ST_PORT=$(free_port)
mkdir -p "$WORK/tmp"
cat >"$WORK/app.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/app.pid;
error_log $WORK/app-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$APP_PORT;
        default_type text/plain;
        location / { return 200 "hello\n"; }
    }
}
EOF
"$NGINX" -p "$WORK" -c "$WORK/app.conf" -e "$WORK/app-error.log" </dev/null >/dev/null 2>&1 &
APP_PID=$!

echo '{}' >"$WORK/config.json"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out" \
    "$BIN" --config "$WORK/config.json" --mode "$MODE" --threads 1 \
    --listen "127.0.0.1:$BW_PORT" --status-listen "127.0.0.1:$ST_PORT" \
    --upstream "127.0.0.1:$APP_PORT" --log-level warn </dev/null >"$WORK/events.log" 2>"$WORK/proxy.log" &
BW_PID=$!
for _ in $(seq 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$ST_PORT/readyz" && break
    kill -0 "$BW_PID" 2>/dev/null || { cat "$WORK/proxy.log" >&2; die "bulwark-proxy exited at start"; }
    sleep 1
done
curl -sf -o /dev/null "http://127.0.0.1:$ST_PORT/readyz" || die "bulwark-proxy did not become ready"

WRK_ARGS=(-t 1 -c 8)
if [[ $WORKLOAD == mixed ]]; then
    WRK_ARGS+=(-s "$SCRIPT_DIR/mixed.lua")
    URL="http://127.0.0.1:$BW_PORT/"
else
    URL="http://127.0.0.1:$BW_PORT/api/items?id=42&sort=asc&q=hello"
fi
answered() {
    curl -sf "http://127.0.0.1:$ST_PORT/metrics" |
        awk '/^bulwark_requests_total\{/{n += $2} END {print n + 0}'
}
wrk "${WRK_ARGS[@]}" -d 2s "$URL" >/dev/null                      # warm-up, not counted
before=$(answered)
callgrind_control --instr=on "$BW_PID" >/dev/null 2>&1
wrk "${WRK_ARGS[@]}" -d "${DURATION}s" "$URL" >"$WORK/wrk.out"
callgrind_control --instr=off "$BW_PID" >/dev/null 2>&1
after=$(answered)
callgrind_control --dump "$BW_PID" >/dev/null 2>&1
REQS=$((after - before))
[[ $REQS -gt 0 ]] || die "no request answered"
grep -q "Non-2xx" "$WORK/wrk.out" && { cat "$WORK/wrk.out" >&2; die "non-2xx answers: numbers meaningless"; }
DUMP=$(ls -t "$WORK"/cg.out* | head -n 1)
callgrind_annotate --inclusive=yes --threshold=100 "$DUMP" >"$WORK/inclusive.txt" 2>/dev/null
callgrind_annotate --tree=caller --threshold=100 "$DUMP" >"$WORK/callers.txt" 2>/dev/null

python3 - "$WORK/inclusive.txt" "$WORK/callers.txt" "$REQS" "$MODE" "$WORKLOAD" "$OUT" <<'PY'
import json, re, sys
incl_path, callers_path, reqs, mode, workload, out = sys.argv[1:7]
reqs = int(reqs)
rows = []
total = 0
for line in open(incl_path, encoding="utf-8", errors="replace"):
    m = re.match(r"\s*([\d,]+)\s+(?:\([ \d.]+%\)\s+)?(\S.*)$", line)
    if not m:
        continue
    n = int(m.group(1).replace(",", ""))
    name = m.group(2)
    if "PROGRAM TOTALS" in name:
        total = n
    elif ":" in name:
        rows.append((n, name))

def incl(*patterns):
    """The largest inclusive count of a function whose name contains every pattern."""
    best = 0
    for n, name in rows:
        if all(p in name for p in patterns):
            best = max(best, n)
    return best

def calls(callee):
    """Calls of `callee` summed over its callers (the '(Nx)' counts in the caller tree)."""
    lines = open(callers_path, encoding="utf-8", errors="replace").read().split("\n")
    for i, line in enumerate(lines):
        if "*  " in line and callee in line:
            count, j = 0, i - 1
            while j >= 0 and "<" in lines[j]:
                m = re.search(r"\(([\d,]+)x\)", lines[j])
                count += int(m.group(1).replace(",", "")) if m else 0
                j -= 1
            return count
    return 0

parts = [
    ("detection engine (Engine::inspect)", incl("bulwark::detect::Engine::inspect(")),
    ("head checks (scanHead + checkRequestHead)",
     incl("http1::scanHead(") + incl("http1::checkRequestHead(")),
    ("Beast request head parser", incl("basic_parser<true>::put(")),
    ("Beast response head parser", incl("basic_parser<false>::put(")),
    ("forwarded heads (requestHeadForApp + responseHeadForClient)",
     incl("filter::requestHeadForApp(") + incl("filter::responseHeadForClient(")),
    ("allocator (malloc + free)", incl("malloc.c:malloc ") + incl("malloc.c:free ")),
]
allocs = calls("operator new(unsigned long)")
result = {"mode": mode, "workload": workload, "requests": reqs,
          "instructions_per_request": round(total / reqs),
          "allocations_per_request": round(allocs / reqs, 1),
          "parts": {name: round(n / reqs) for name, n in parts}}
print(f"bulwark-proxy --mode {mode}, workload {workload}: {reqs} requests counted")
print(f"  {'instructions per request, in all':62s} {total / reqs:10,.0f}")
for name, n in parts:
    print(f"  {name:62s} {n / reqs:10,.0f}  ({100 * n / max(total, 1):4.1f} %)")
print(f"  {'operator new calls per request':62s} {allocs / reqs:10.1f}")
if out:
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
PY
