#!/usr/bin/env bash
# Bulwark proxy benchmark: app-direct vs nginx reverse proxy vs bulwark-proxy (--mode off).
#
# Everything listens on 127.0.0.1 (unprivileged ports picked at random), lives in a mktemp
# directory, and is stopped on exit (trap), also on failure. Works as root or non-root.
# See --help.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER="$SCRIPT_DIR/bench_helper.py"

# ----------------------------------------------------------------------------- defaults
DURATION=10
WARMUP=2
THREADS=2          # bulwark --threads and nginx-proxy worker_processes
CONNS=32           # wrk connections
WRK_THREADS=2
IDLE_CONNS=10000
JSON_OUT=""
BIN="${BULWARK_PROXY_BIN:-$REPO_ROOT/build/bin/bulwark-proxy}"
URL_PATH='/api/items?id=42&sort=asc&q=hello'
WITH_BULWARK=1
WITH_MEMORY=1
KEEP=0
NGINX="${NGINX:-/usr/sbin/nginx}"
WRK="${WRK:-wrk}"
PYTHON="${PYTHON:-python3}"

usage() {
    cat <<EOF
Usage: bench/proxy-bench.sh [options]

Benchmarks three targets on 127.0.0.1 with wrk (keep-alive, GET $URL_PATH):
  app-direct   nginx (1 worker) answering 200 "hello\\n"
  nginx-proxy  nginx reverse proxy to the app (upstream keepalive 64), worker_processes = --threads
  bulwark      bulwark-proxy --mode off --threads N --upstream <app>
and measures the RSS of nginx-proxy (master + workers) and bulwark-proxy idle and with
--idle-conns idle client connections open. Prints a table and the bulwark/nginx-proxy rps
ratio (goal >= 1.0, not asserted). Exits 1 if bulwark answered any non-2xx or had socket errors.

Options:
  --duration S      wrk duration per target in seconds (default $DURATION)
  --threads N       bulwark threads and nginx-proxy workers (default $THREADS)
  --conns C         wrk connections (default $CONNS)
  --wrk-threads T   wrk threads (default $WRK_THREADS)
  --quick           CI smoke run: duration 3 s, warm-up 1 s
  --json FILE       also write the numbers as JSON to FILE
  --bin PATH        bulwark-proxy binary (default \$BULWARK_PROXY_BIN or build/bin/bulwark-proxy)
  --idle-conns N    idle connections for the memory test (default $IDLE_CONNS, max 100000)
  --no-memory       skip the idle-connection memory test
  --no-bulwark      only app-direct and nginx-proxy (to check the harness itself)
  --keep            keep the temporary directory (configs, logs, wrk outputs)
  -h, --help        this help
EOF
}

die() { echo "proxy-bench: error: $*" >&2; exit 1; }
log() { echo "proxy-bench: $*" >&2; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 ]] || die "--duration needs seconds >= 1"; DURATION=$2; shift 2 ;;
        --threads) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 256 ]] || die "--threads needs 1..256"; THREADS=$2; shift 2 ;;
        --conns) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 10000 ]] || die "--conns needs 1..10000"; CONNS=$2; shift 2 ;;
        --wrk-threads) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 256 ]] || die "--wrk-threads needs 1..256"; WRK_THREADS=$2; shift 2 ;;
        --quick) DURATION=3; WARMUP=1; shift ;;
        --json) [[ $# -ge 2 ]] || die "--json needs a file"; JSON_OUT=$2; shift 2 ;;
        --bin) [[ $# -ge 2 ]] || die "--bin needs a path"; BIN=$2; shift 2 ;;
        --idle-conns) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 100000 ]] || die "--idle-conns needs 1..100000"; IDLE_CONNS=$2; shift 2 ;;
        --no-memory) WITH_MEMORY=0; shift ;;
        --no-bulwark) WITH_BULWARK=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ $CONNS -ge $WRK_THREADS ]] || die "--conns must be >= --wrk-threads"
if [[ -n "$JSON_OUT" ]]; then
    case "$JSON_OUT" in /*) ;; *) JSON_OUT="$PWD/$JSON_OUT" ;; esac
fi

# ----------------------------------------------------------------------------- prerequisites
command -v "$NGINX" >/dev/null 2>&1 || die "nginx not found ($NGINX)"
command -v "$WRK" >/dev/null 2>&1 || die "wrk not found ($WRK)"
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 not found ($PYTHON)"
if [[ $WITH_BULWARK -eq 1 ]]; then
    [[ -x "$BIN" ]] || die "bulwark-proxy binary not found or not executable: $BIN (build it, or pass --bin)"
fi

# Raise the fd limit for everything started from here (proxies, idle-connection client).
HARD_NOFILE=$(ulimit -Hn)
WANT_NOFILE=$((IDLE_CONNS * 2 + 1024))
if [[ "$HARD_NOFILE" == unlimited ]] || [[ $HARD_NOFILE -ge $WANT_NOFILE ]]; then
    ulimit -n "$WANT_NOFILE" 2>/dev/null || true
else
    ulimit -n "$HARD_NOFILE" 2>/dev/null || true
fi
NOFILE=$(ulimit -n)
if [[ $WITH_MEMORY -eq 1 ]] && [[ $NOFILE -lt $((IDLE_CONNS + 256)) ]]; then
    log "warning: fd limit $NOFILE is below --idle-conns $IDLE_CONNS + 256; fewer connections will be held"
fi
WORKER_CONNECTIONS=$((NOFILE > 1024 ? NOFILE - 64 : 1024))

# ----------------------------------------------------------------------------- process management
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/tmp"
RESULTS="$WORK/results.kv"
: >"$RESULTS"
APP_PID=""
NGX_PID=""
BW_PID=""
IDLE_PID=""
FAILED=1

stop_pid() {  # stop_pid PID NAME TIMEOUT_S: TERM, bounded wait, then KILL (the PID and its children)
    local pid=$1 name=$2 timeout=$3 kids i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$("$PYTHON" "$HELPER" descendants "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: $name (pid $pid) did not exit within ${timeout}s of SIGTERM; killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for k in $kids; do
        [[ "$k" == "$pid" ]] && continue
        kill -KILL "$k" 2>/dev/null || true
    done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n "$IDLE_PID" ]] && { touch "$WORK/release" 2>/dev/null; stop_pid "$IDLE_PID" idle-conns 5; }
    stop_pid "$BW_PID" bulwark-proxy 10
    stop_pid "$NGX_PID" nginx-proxy 5
    stop_pid "$APP_PID" nginx-app 5
    if [[ $FAILED -ne 0 ]]; then
        for f in "$WORK"/bulwark.log "$WORK"/app-error.log "$WORK"/proxy-error.log; do
            [[ -s "$f" ]] || continue
            echo "----- tail of $(basename "$f") -----" >&2
            tail -n 20 "$f" >&2
        done
    fi
    if [[ $KEEP -eq 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

record() { echo "$1=$2" >>"$RESULTS"; }

alive() { kill -0 "$1" 2>/dev/null; }

# ----------------------------------------------------------------------------- configs
read -r APP_PORT NGX_PORT BW_PORT BW_STATUS_PORT < <("$PYTHON" "$HELPER" free-ports 4)
if [[ $(id -u) -eq 0 ]]; then
    USER_LINE="user root;"
else
    USER_LINE="# not root: workers run as the current user"
fi

render() {  # render TEMPLATE OUT
    sed -e "s|@DIR@|$WORK|g" \
        -e "s|@USER_LINE@|$USER_LINE|g" \
        -e "s|@THREADS@|$THREADS|g" \
        -e "s|@APP_PORT@|$APP_PORT|g" \
        -e "s|@PROXY_PORT@|$NGX_PORT|g" \
        -e "s|@NOFILE@|$NOFILE|g" \
        -e "s|@WORKER_CONNECTIONS@|$WORKER_CONNECTIONS|g" \
        "$1" >"$2"
}
render "$SCRIPT_DIR/nginx-app.conf.in" "$WORK/app.conf"
render "$SCRIPT_DIR/nginx-proxy.conf.in" "$WORK/proxy.conf"

record config.duration_s "$DURATION"
record config.warmup_s "$WARMUP"
record config.threads "$THREADS"
record config.wrk_connections "$CONNS"
record config.wrk_threads "$WRK_THREADS"
record config.path "$URL_PATH"
record config.idle_conns "$IDLE_CONNS"
record config.cpus "$(nproc)"

# ----------------------------------------------------------------------------- start
start_nginx() {  # start_nginx NAME CONF PORT -> sets STARTED_PID
    local name=$1 conf=$2 port=$3
    "$NGINX" -t -q -p "$WORK" -c "$conf" -e "$WORK/$name-error.log" >/dev/null 2>"$WORK/$name-test.log" ||
        { cat "$WORK/$name-test.log" >&2; die "nginx config test failed for $name"; }
    "$NGINX" -p "$WORK" -c "$conf" -e "$WORK/$name-error.log" </dev/null >>"$WORK/$name-stdout.log" 2>&1 &
    STARTED_PID=$!
    "$PYTHON" "$HELPER" wait-port "$port" 10 || die "$name did not start listening on 127.0.0.1:$port"
    alive "$STARTED_PID" || die "$name exited right after start"
}

log "work dir $WORK; ports: app $APP_PORT, nginx-proxy $NGX_PORT, bulwark $BW_PORT (status $BW_STATUS_PORT); fd limit $NOFILE"
start_nginx app "$WORK/app.conf" "$APP_PORT"; APP_PID=$STARTED_PID
start_nginx proxy "$WORK/proxy.conf" "$NGX_PORT"; NGX_PID=$STARTED_PID

if [[ $WITH_BULWARK -eq 1 ]]; then
    "$BIN" --mode off --threads "$THREADS" \
        --listen "127.0.0.1:$BW_PORT" --status-listen "127.0.0.1:$BW_STATUS_PORT" \
        --upstream "127.0.0.1:$APP_PORT" --log-level warn \
        </dev/null >>"$WORK/bulwark.log" 2>&1 &
    BW_PID=$!
    "$PYTHON" "$HELPER" wait-port "$BW_PORT" 15 || { alive "$BW_PID" || die "bulwark-proxy exited at start"; die "bulwark-proxy did not listen on 127.0.0.1:$BW_PORT"; }
    "$PYTHON" "$HELPER" wait-http "http://127.0.0.1:$BW_STATUS_PORT/readyz" 15 || die "bulwark-proxy /readyz not ready"
    alive "$BW_PID" || die "bulwark-proxy exited at start"
fi

# Sanity: each target answers the request with the app's body.
check_target() {  # check_target NAME PORT
    local body
    body=$("$PYTHON" "$HELPER" http-get "http://127.0.0.1:$2$URL_PATH" 5) || die "$1: GET $URL_PATH failed"
    [[ "$body" == "hello" ]] || die "$1: unexpected body: $(printf %q "$body")"
}
check_target app-direct "$APP_PORT"
check_target nginx-proxy "$NGX_PORT"
[[ $WITH_BULWARK -eq 1 ]] && check_target bulwark "$BW_PORT"

# ----------------------------------------------------------------------------- memory
rss_of() { "$PYTHON" "$HELPER" rss "$@"; }
fds_of() { "$PYTHON" "$HELPER" fds "$@"; }

memory_test() {  # memory_test KEY NAME PORT PID
    local key=$1 name=$2 port=$3 pid=$4 rss_idle base_fds fds i held fails rss_conns accepted
    sleep 1
    rss_idle=$(rss_of "$pid")
    base_fds=$(fds_of "$pid")
    record "$key.rss_idle" "$rss_idle"
    rm -f "$WORK/ready" "$WORK/release"
    "$PYTHON" "$HELPER" idle-conns --port "$port" --count "$IDLE_CONNS" --hold 120 \
        --connect-timeout 60 --ready-file "$WORK/ready" --release-file "$WORK/release" \
        2>>"$WORK/idle-$key.log" &
    IDLE_PID=$!
    for ((i = 0; i < 700; i++)); do   # <= 70 s
        [[ -f "$WORK/ready" ]] && break
        alive "$IDLE_PID" || break
        sleep 0.1
    done
    [[ -f "$WORK/ready" ]] || die "$name: idle-connection client did not get ready"
    read -r held fails <"$WORK/ready"
    # Wait (bounded) until the proxy has accepted them: its open fd count grows by ~held.
    for ((i = 0; i < 100; i++)); do   # <= 10 s
        fds=$(fds_of "$pid")
        [[ $((fds - base_fds)) -ge $held ]] && break
        sleep 0.1
    done
    sleep 2
    alive "$pid" || die "$name died while holding $held idle connections"
    rss_conns=$(rss_of "$pid")
    fds=$(fds_of "$pid")
    accepted=$((fds - base_fds))
    if [[ "$key" == bulwark ]]; then
        "$PYTHON" "$HELPER" http-get "http://127.0.0.1:$BW_STATUS_PORT/metrics" 5 >"$WORK/metrics-idle.txt" 2>/dev/null || true
        local active
        active=$(awk '$1 == "bulwark_connections_active" {print $2}' "$WORK/metrics-idle.txt")
        log "$name: bulwark_connections_active while held: ${active:-?}"
    fi
    touch "$WORK/release"
    wait "$IDLE_PID" || log "warning: idle-connection client exited non-zero"
    IDLE_PID=""
    sed 's/^/  /' "$WORK/idle-$key.log" >&2
    record "$key.rss_conns" "$rss_conns"
    record "$key.conns_held" "$held"
    record "$key.conns_accepted" "$accepted"
    record "$key.connect_failures" "$fails"
    log "$name: RSS idle $((rss_idle / 1024)) KiB, with $held idle conns $((rss_conns / 1024)) KiB (fds +$accepted, connect failures $fails)"
    [[ $held -ge $((IDLE_CONNS * 95 / 100)) ]] || log "warning: $name: only $held of $IDLE_CONNS connections could be opened"
    [[ $accepted -ge $((held * 98 / 100)) ]] || log "warning: $name: only ~$accepted of $held connections were accepted when RSS was read"
    # Let the proxy notice the closes before the load test (bounded).
    for ((i = 0; i < 100; i++)); do
        fds=$(fds_of "$pid")
        [[ $((fds - base_fds)) -le 16 ]] && break
        sleep 0.1
    done
    alive "$pid" || die "$name died after the idle connections were closed"
}

if [[ $WITH_MEMORY -eq 1 ]]; then
    memory_test nginx nginx-proxy "$NGX_PORT" "$NGX_PID"
    [[ $WITH_BULWARK -eq 1 ]] && memory_test bulwark bulwark "$BW_PORT" "$BW_PID"
fi

# ----------------------------------------------------------------------------- load
run_wrk() {  # run_wrk KEY NAME PORT
    local key=$1 name=$2 port=$3 url parsed rps p50 p99 non2xx sockerr reqs
    url="http://127.0.0.1:$port$URL_PATH"
    timeout $((WARMUP + 30)) "$WRK" -t "$WRK_THREADS" -c "$CONNS" -d "${WARMUP}s" --timeout 5s "$url" \
        >"$WORK/wrk-$key-warmup.txt" 2>&1 || die "$name: wrk warm-up failed: $(tail -n 3 "$WORK/wrk-$key-warmup.txt")"
    timeout $((DURATION + 30)) "$WRK" -t "$WRK_THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 5s --latency "$url" \
        >"$WORK/wrk-$key.txt" 2>&1 || die "$name: wrk failed: $(tail -n 3 "$WORK/wrk-$key.txt")"
    parsed=$("$PYTHON" "$HELPER" parse-wrk "$WORK/wrk-$key.txt") || { cat "$WORK/wrk-$key.txt" >&2; die "$name: cannot parse wrk output"; }
    read -r rps p50 p99 non2xx sockerr reqs <<<"$parsed"
    record "$key.rps" "$rps"
    record "$key.p50_ms" "$p50"
    record "$key.p99_ms" "$p99"
    record "$key.non2xx" "$non2xx"
    record "$key.socket_errors" "$sockerr"
    record "$key.requests" "$reqs"
    log "$name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx $non2xx, socket errors $sockerr"
}

log "load: wrk -t $WRK_THREADS -c $CONNS -d ${DURATION}s (warm-up ${WARMUP}s) on $(nproc) CPUs"
run_wrk app app-direct "$APP_PORT"
run_wrk nginx nginx-proxy "$NGX_PORT"
alive "$NGX_PID" || die "nginx-proxy died during the load test"
record nginx.rss_after_load "$(rss_of "$NGX_PID")"
if [[ $WITH_BULWARK -eq 1 ]]; then
    run_wrk bulwark bulwark "$BW_PORT"
    alive "$BW_PID" || die "bulwark-proxy died during the load test"
    record bulwark.rss_after_load "$(rss_of "$BW_PID")"
fi

# ----------------------------------------------------------------------------- bulwark checks
BW_FAIL=""
if [[ $WITH_BULWARK -eq 1 ]]; then
    if "$PYTHON" "$HELPER" http-get "http://127.0.0.1:$BW_STATUS_PORT/metrics" 5 >"$WORK/metrics.txt" 2>/dev/null; then
        log "bulwark metrics after the run:"
        "$PYTHON" "$HELPER" metrics-summary "$WORK/metrics.txt" >&2 || true
    else
        log "warning: could not read bulwark /metrics"
    fi
    bw_non2xx=$(awk -F= '$1 == "bulwark.non2xx" {print $2}' "$RESULTS")
    bw_sockerr=$(awk -F= '$1 == "bulwark.socket_errors" {print $2}' "$RESULTS")
    if [[ $bw_non2xx -ne 0 || $bw_sockerr -ne 0 ]]; then
        BW_FAIL="bulwark returned $bw_non2xx non-2xx responses and had $bw_sockerr socket errors"
    fi
    # Graceful stop: SIGTERM must make it exit 0 (bounded wait).
    kill -TERM "$BW_PID" 2>/dev/null || true
    bw_rc=""
    for ((i = 0; i < 300; i++)); do   # <= 30 s
        if ! alive "$BW_PID"; then
            set +e; wait "$BW_PID"; bw_rc=$?; set -e
            break
        fi
        sleep 0.1
    done
    if [[ -z "$bw_rc" ]]; then
        log "warning: bulwark-proxy still running 30 s after SIGTERM"
    else
        BW_PID=""
        record bulwark.sigterm_exit "$bw_rc"
        log "bulwark-proxy exited $bw_rc after SIGTERM"
        [[ $bw_rc -eq 0 ]] || log "warning: bulwark-proxy exited $bw_rc after SIGTERM (expected 0)"
    fi
    if [[ -s "$WORK/bulwark.log" ]]; then
        log "bulwark-proxy log ($(wc -l <"$WORK/bulwark.log") lines), last lines:"
        tail -n 5 "$WORK/bulwark.log" | sed 's/^/  /' >&2
    fi
fi

# ----------------------------------------------------------------------------- report
echo
if [[ -n "$JSON_OUT" ]]; then
    "$PYTHON" "$HELPER" report --results "$RESULTS" --json "$JSON_OUT"
    log "wrote $JSON_OUT"
else
    "$PYTHON" "$HELPER" report --results "$RESULTS"
fi

if [[ -n "$BW_FAIL" ]]; then
    echo >&2
    echo "proxy-bench: FAIL: $BW_FAIL (rerun with --keep to inspect wrk-bulwark.txt and bulwark.log)" >&2
    exit 1
fi
FAILED=0
exit 0
