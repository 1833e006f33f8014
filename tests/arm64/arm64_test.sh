#!/usr/bin/env bash
# Runs the linux/arm64 cross build (scripts/build-arm64.sh -> build-arm64/) under qemu-user:
#   1. each shipped binary is an AArch64 ELF and answers --version with the project version;
#   2. bulwark-init plan (no privilege) prints the same rules as the native build's;
#   3. the rule databases linked into the arm64 library load there ("prebuilt", not recompiled at
#      start) and are the arm64 ones (the full database is compiled again under qemu, about a
#      minute, and compared byte for byte: vectorscan would also accept an x86-64 database), and
#      the arm64 engine flags one attack and passes one benign request;
#   4. the arm64 bulwark-proxy, in block mode in front of the real test app, forwards a benign
#      request (200, the app's body) and answers an attack with 403.
# usage: arm64_test.sh BUILD_ARM64_DIR [NATIVE_BULWARK_INIT]
# Exit 77 (skipped) without qemu-aarch64 or without the cross build, unless CI=true (then 1).
set -euo pipefail
DIR=${1:?usage: arm64_test.sh BUILD_ARM64_DIR [NATIVE_BULWARK_INIT]}
NATIVE_INIT=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

skip() {
  echo "arm64_qemu: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
  exit 77
}

QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || skip "qemu-aarch64 not found (scripts/deps/arm64.txt: qemu-user-static)"
for b in bulwark-proxy bulwark-init bulwark-webhook bulwark-arm64-check; do
  [ -x "$DIR/bin/$b" ] || skip "$DIR/bin/$b missing: build it with scripts/build-arm64.sh"
done
[ -e /lib/ld-linux-aarch64.so.1 ] || skip "no arm64 libraries here (scripts/deps.sh arm64)"
VERSION=$(sed -n 's/^project(bulwark VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")

failures=0
bad() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
ok() { echo "ok   $*"; }
# qemu-user runs the arm64 dynamic loader and the :arm64 libraries from their multiarch paths.
arm() { timeout 120 "$QEMU" "$@"; }

# 1. architecture and --version
for b in bulwark-proxy bulwark-init bulwark-webhook; do
  # e_machine (ELF header offset 18, little endian): 183 = EM_AARCH64
  machine=$(od -An -t u2 -j 18 -N 2 "$DIR/bin/$b" | tr -d ' ')
  [ "$machine" = 183 ] || bad "$b: ELF machine $machine, want 183 (AArch64)"
  if out=$(arm "$DIR/bin/$b" --version 2>&1) && [ "$out" = "$b $VERSION" ]; then
    ok "$b --version under qemu-aarch64: $out"
  else
    bad "$b --version under qemu-aarch64: '$out', want '$b $VERSION'"
  fi
done

# 2. the capture plan is architecture-independent: same output as the native binary
if out=$(arm "$DIR/bin/bulwark-init" plan --mode auto --app-port 8080 --exclude-cidr 198.18.0.0/15 2>&1) &&
   grep -q 'tcp dport 8080 redirect to :26001' <<<"$out"; then
  if [ -n "$NATIVE_INIT" ] && [ -x "$NATIVE_INIT" ]; then
    native=$("$NATIVE_INIT" plan --mode auto --app-port 8080 --exclude-cidr 198.18.0.0/15 2>&1)
    if [ "$out" = "$native" ]; then
      ok "bulwark-init plan under qemu-aarch64 equals the native plan ($(echo "$out" | wc -l) lines)"
    else
      bad "bulwark-init plan differs from the native one: $(diff <(echo "$native") <(echo "$out") | head -5)"
    fi
  else
    ok "bulwark-init plan under qemu-aarch64 (no native binary to compare with)"
  fi
else
  bad "bulwark-init plan under qemu-aarch64: $(echo "$out" | tail -c 400)"
fi

# 3. rule databases and the engine
out=$(timeout 400 "$QEMU" "$DIR/bin/bulwark-arm64-check" ruledb 2>&1) || true
echo "$out" | sed 's/^/     /'
for set in full plain plain_token plain_hex; do
  if grep -q "^ruledb $set: prebuilt, .*fingerprint matches" <<<"$out"; then
    ok "rule database '$set' linked in for arm64 and deserialized under qemu-aarch64"
  else
    bad "rule database '$set' not used as prebuilt on arm64"
  fi
done
if grep -q "^ruledb full: linked bytes equal the database compiled on this platform" <<<"$out"; then
  ok "the linked full rule database is byte for byte the one arm64 vectorscan compiles"
else
  bad "the linked full rule database is not the arm64 one (vectorscan would load another platform's)"
fi
# One request of each kind; the engine's verdict must agree.
attack=$(arm "$DIR/bin/bulwark-arm64-check" inspect GET "/items?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--%20" 2>&1) || true
benign=$(arm "$DIR/bin/bulwark-arm64-check" inspect GET "/items?q=red%20running%20shoes&page=2" 2>&1) || true
case "$attack" in "attack sqli "*) ok "engine on arm64: UNION SELECT query -> $attack" ;;
  *) bad "engine on arm64: UNION SELECT query -> '$attack', want sqli" ;; esac
case "$benign" in clean*) ok "engine on arm64: benign query -> $benign" ;;
  *) bad "engine on arm64: benign query -> '$benign', want clean" ;; esac

# 4. the proxy in front of the real test app
WORK=$(mktemp -d)
APP_PID=""
PROXY_PID=""
cleanup() {
  for p in $PROXY_PID $APP_PID; do kill "$p" 2>/dev/null || true; done
  for p in $PROXY_PID $APP_PID; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
python3 "$REPO/tests/testlib/app.py" --port 0 > "$WORK/app.out" 2>"$WORK/app.err" &
APP_PID=$!
for _ in $(seq 100); do [ -s "$WORK/app.out" ] && break; sleep 0.1; done
APP_PORT=$(head -1 "$WORK/app.out")
read -r PROXY_PORT STATUS_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
"$QEMU" "$DIR/bin/bulwark-proxy" --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$APP_PORT" \
  --status-listen "127.0.0.1:$STATUS_PORT" --mode block --threads 1 > "$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
ready=""
for _ in $(seq 300); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$STATUS_PORT/readyz" 2>/dev/null; then ready=1; break; fi
  kill -0 "$PROXY_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ready" ]; then
  bad "bulwark-proxy under qemu-aarch64 not ready: $(tail -c 600 "$WORK/proxy.log")"
else
  code=$(curl -sS -o "$WORK/benign.body" -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/echo?q=red+running+shoes")
  if [ "$code" = 200 ] && grep -q '"path": *"/echo"' "$WORK/benign.body"; then
    ok "bulwark-proxy (arm64, block) forwards a benign request to the app: 200"
  else
    bad "benign request through the arm64 proxy: $code $(head -c 300 "$WORK/benign.body")"
  fi
  code=$(curl -sS -o "$WORK/attack.body" -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/echo?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--%20")
  if [ "$code" = 403 ]; then
    ok "bulwark-proxy (arm64, block) answers an SQL injection with 403"
  else
    bad "attack through the arm64 proxy: $code, want 403"
  fi
  # The blocked request never reached the app: it counted the benign one only.
  stats=$(curl -sS "http://127.0.0.1:$APP_PORT/stats" 2>&1 || true)
  if grep -q '"requests": *1[,}]' <<<"$stats"; then
    ok "the app saw the benign request only: $stats"
  else
    bad "the app's counters after one benign and one blocked request: $stats"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "arm64 test passed"
