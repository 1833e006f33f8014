#!/usr/bin/env bash
# bulwark-webhook over real TLS, driven by curl: /healthz, POST /inject with a real
# AdmissionReview (patch equals the golden one), 400/404/405/413, TLS < 1.2 refused,
# certificate rotation picked up without a restart, a broken rotation keeps the old pair,
# /metrics, SIGTERM exits 0. Exit 77 (skipped) without curl/openssl/python3 unless CI=true.
set -euo pipefail
BIN=${1:?usage: tls_test.sh BULWARK_WEBHOOK GOLDEN_DIR}
GOLDEN=${2:?}
for tool in curl openssl python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "webhook_tls_curl: $tool not found" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 77
  fi
done
T=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- webhook log:" >&2
  tail -20 "$T/log" >&2 || true
  exit 1
}

gen() { # gen NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.crt" \
    2>/dev/null
}
gen one bulwark-one
gen two bulwark-two
cp "$T/one.crt" "$T/tls.crt"
cp "$T/one.key" "$T/tls.key"
echo '{"cert_check_interval_ms": 100, "threads": 2}' > "$T/cfg.json"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT"
"$BIN" --config "$T/cfg.json" --listen "127.0.0.1:$PORT" --tls-cert "$T/tls.crt" \
  --tls-key "$T/tls.key" 2> "$T/log" &
PID=$!
for _ in $(seq 100); do
  curl -sf --cacert "$T/one.crt" "$URL/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
c() { curl -sS --cacert "$T/one.crt" "$@"; }
[ "$(c "$URL/healthz")" = "ok" ] || fail "/healthz"
echo "ok   healthz over TLS"

# A real AdmissionReview built from a golden case; the answer's patch must equal the golden one.
python3 - "$GOLDEN/deployment-httpbin.golden.json" "$T" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "3b1f7c1e-0000-4000-8000-000000000001",
                      "kind": {"group": "", "version": "v1", "kind": "Pod"},
                      "resource": {"group": "", "version": "v1", "resource": "pods"},
                      "namespace": "default", "operation": "CREATE", "object": g["pod"]}}
json.dump(review, open(sys.argv[2] + "/review.json", "w"))
json.dump(g["patch"], open(sys.argv[2] + "/want.json", "w"))
PY
code=$(c -o "$T/resp.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$T/review.json" "$URL/inject")
[ "$code" = 200 ] || fail "/inject answered $code"
python3 - "$T" <<'PY' || fail "/inject response"
import base64, json, sys
t = sys.argv[1]
r = json.load(open(t + "/resp.json"))
assert r["apiVersion"] == "admission.k8s.io/v1" and r["kind"] == "AdmissionReview", r
resp = r["response"]
assert resp["uid"] == "3b1f7c1e-0000-4000-8000-000000000001" and resp["allowed"] is True
assert resp["patchType"] == "JSONPatch"
assert json.loads(base64.b64decode(resp["patch"])) == json.load(open(t + "/want.json"))
PY
echo "ok   POST /inject answers the golden patch"

code=$(c -o /dev/null -w '%{http_code}' --data-binary '{"kind":' "$URL/inject")
[ "$code" = 400 ] || fail "malformed body answered $code"
code=$(c -o /dev/null -w '%{http_code}' "$URL/inject")
[ "$code" = 405 ] || fail "GET /inject answered $code"
code=$(c -o /dev/null -w '%{http_code}' "$URL/nope")
[ "$code" = 404 ] || fail "/nope answered $code"
head -c 5000000 /dev/zero | tr '\0' ' ' > "$T/big"
code=$(c -o /dev/null -w '%{http_code}' --data-binary @"$T/big" "$URL/inject" || true)
[ "$code" = 413 ] || fail "5 MB body answered $code"
[ "$(c "$URL/healthz")" = "ok" ] || fail "alive after bad requests"
echo "ok   400 / 405 / 404 / 413, still alive"

if curl -s --cacert "$T/one.crt" --tlsv1.0 --tls-max 1.1 "$URL/healthz" >/dev/null 2>&1; then
  fail "TLS 1.1 accepted"
fi
curl -sf --cacert "$T/one.crt" --tlsv1.2 --tls-max 1.2 "$URL/healthz" >/dev/null || fail "TLS 1.2"
curl -sf --cacert "$T/one.crt" --tlsv1.3 "$URL/healthz" >/dev/null || fail "TLS 1.3"
echo "ok   TLS 1.0/1.1 refused, 1.2 and 1.3 accepted"

# Rotation the way a Secret volume does it: new files moved into place.
cp "$T/two.key" "$T/tls.key.new" && cp "$T/two.crt" "$T/tls.crt.new"
mv "$T/tls.key.new" "$T/tls.key" && mv "$T/tls.crt.new" "$T/tls.crt"
ok=0
for _ in $(seq 50); do
  if curl -sf --cacert "$T/two.crt" "$URL/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || fail "rotated certificate not served"
if curl -sf --cacert "$T/one.crt" "$URL/healthz" >/dev/null 2>&1; then
  fail "old certificate still served after rotation"
fi
echo "ok   certificate rotation picked up without a restart"

echo "garbage" > "$T/tls.crt"
sleep 0.4
curl -sf --cacert "$T/two.crt" "$URL/healthz" >/dev/null || fail "broken rotation dropped the old pair"
metrics=$(curl -sf --cacert "$T/two.crt" "$URL/metrics")
grep -q '^bulwark_webhook_reviews_total{result="injected"} 1$' <<<"$metrics" || fail "metrics: injected"
grep -q '^bulwark_webhook_reviews_total{result="bad_request"} 1$' <<<"$metrics" || fail "metrics: bad"
echo "$metrics" | grep -Eq '^bulwark_webhook_tls_reload_errors_total [1-9]' || fail "metrics: reload errors"
echo "$metrics" | grep -Eq '^bulwark_webhook_tls_handshake_errors_total [1-9]' || fail "metrics: handshake"
echo "ok   broken rotation keeps the old pair; /metrics counts it all"

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
[ $rc = 0 ] || fail "exit status $rc after SIGTERM"
echo "ok   SIGTERM -> exit 0"
