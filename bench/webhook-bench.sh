#!/usr/bin/env bash
# bulwark-webhook benchmark: AdmissionReviews/s and latency percentiles over TLS, with wrk
# (keep-alive connections, like the API server's) POSTing a real injected-pod review.
# Goal: p99 < 2 ms. Everything runs on 127.0.0.1 in a mktemp directory, stopped on exit.
#   bench/webhook-bench.sh [--duration S] [--conns N] [--threads N] [--case NAME] [--bin PATH]
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
DURATION=10
CONNS=8
THREADS=2
CASE=deployment-httpbin
BIN="${BULWARK_WEBHOOK_BIN:-$REPO_ROOT/build/bin/bulwark-webhook}"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --case) CASE=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in wrk openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "webhook-bench: $tool not found" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "webhook-bench: $BIN not built" >&2; exit 1; }
T=$(mktemp -d)
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=bulwark-bench" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
python3 - "$REPO_ROOT/tests/golden/webhook/$CASE.golden.json" "$T" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "3b1f7c1e-0000-4000-8000-000000000001",
                      "kind": {"group": "", "version": "v1", "kind": "Pod"},
                      "resource": {"group": "", "version": "v1", "resource": "pods"},
                      "namespace": "default", "operation": "CREATE", "object": g["pod"]}}
body = json.dumps(review)
open(sys.argv[2] + "/post.lua", "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ' +
    json.dumps(body) + "\n")
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "{\"threads\": $THREADS, \"log_level\": \"warn\"}" > "$T/cfg.json"
"$BIN" --config "$T/cfg.json" --listen "127.0.0.1:$PORT" --tls-cert "$T/tls.crt" \
  --tls-key "$T/tls.key" 2> "$T/log" &
PID=$!
for _ in $(seq 100); do
  curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
echo "bulwark-webhook bench: case $CASE, $CONNS keep-alive TLS connections, $DURATION s," \
     "webhook threads $THREADS, CPUs $(nproc)"
wrk -t1 -c1 -d1s -s "$T/post.lua" "https://127.0.0.1:$PORT/inject" >/dev/null # warm-up
WRK_THREADS=$(( CONNS < 2 ? 1 : 2 ))
wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$T/post.lua" "https://127.0.0.1:$PORT/inject" \
  | tee "$T/wrk.txt"
curl -sfk "https://127.0.0.1:$PORT/metrics" | grep -E '^bulwark_webhook_reviews_total|review_duration_seconds_(sum|count)'
p99=$(awk '$1 == "99%" {print $2}' "$T/wrk.txt")
rps=$(awk '/Requests\/sec/ {print $2}' "$T/wrk.txt")
echo "RESULT reviews_per_s=$rps p99=$p99 (goal p99 < 2ms)"
