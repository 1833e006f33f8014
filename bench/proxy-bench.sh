#!/usr/bin/env bash
# Bulwark proxy benchmark: app-direct vs nginx reverse proxy vs bulwark-proxy (--mode off);
# with --waf also nginx + ModSecurity + OWASP CRS vs bulwark-proxy --mode block.
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
TRICKLE=0          # --trickle: wrk rps while 10k connections trickle request heads
TRICKLE_CONNS=10000
TRICKLE_INTERVAL=2
JSON_OUT=""
BIN="${BULWARK_PROXY_BIN:-$REPO_ROOT/build/bin/bulwark-proxy}"
URL_PATH='/api/items?id=42&sort=asc&q=hello'
WITH_BULWARK=1
WITH_MEMORY=1
KEEP=0
QUICK=0
WAF=0              # --waf: also nginx + ModSecurity + CRS and bulwark --mode block
MIXED=0            # --mixed: a second row of numbers with bench/mixed.lua
MIXED_LUA="$SCRIPT_DIR/mixed.lua"
# Must be answered 403 by the blocking WAFs (and 200 by everything else) before anything is measured.
ATTACK_PATH='/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E'
MODSEC_MODULE="${MODSEC_MODULE:-/usr/lib/nginx/modules/ngx_http_modsecurity_module.so}"
MODSEC_BASE_CONF="${MODSEC_BASE_CONF:-/etc/nginx/modsecurity.conf}"
MODSEC_UNICODE_MAP="${MODSEC_UNICODE_MAP:-/etc/nginx/unicode.mapping}"
CRS_CONF_DIR="${CRS_CONF_DIR:-/etc/modsecurity/crs}"
CRS_RULES_DIR="${CRS_RULES_DIR:-/usr/share/modsecurity-crs/rules}"
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
--idle-conns idle client connections open: first keep-alive connections that each made one
request (GET $URL_PATH) and wait for the next, then fresh connections that never sent a byte;
the figure is the RSS growth divided by the connections held (bytes per idle connection). Prints a table and the bulwark/nginx-proxy rps
ratio (goal >= 1.0, not asserted), the target's CPU time per request, and how much CPU other
processes on the machine took during each run (numbers are unreliable when that is high). Exits 1 if bulwark answered any non-2xx or had socket errors.

With --waf (one run, no memory test) two more targets are measured:
  nginx-modsec   nginx-proxy + ModSecurity v3 + OWASP CRS 3.3 (Debian libnginx-mod-http-modsecurity,
                 modsecurity-crs; SecRuleEngine On, paranoia level 1, default anomaly thresholds:
                 blocking), worker_processes = --threads
  bulwark-block  bulwark-proxy --mode block --threads N (a second process on its own port)
Before measuring, GET $ATTACK_PATH (<script>alert(1)</script>) must be answered 403 by
nginx-modsec and bulwark-block and 200 by the others, and GET $URL_PATH 200 by all.
Prints the ratios bulwark-block/bulwark-off (goal >= 0.9) and bulwark-block/nginx-modsec
(goal >= 50); not asserted.
With --trickle (not with --waf) nginx-proxy and bulwark are measured once more while
--trickle-conns connections (default $TRICKLE_CONNS) each send one byte of a request head every
--trickle-interval seconds (default $TRICKLE_INTERVAL; a connection closed by the target's header
timeout is opened again); the rps drop against the plain run is printed (goal <= 10 %).
With --mixed every target is measured a second time with bench/mixed.lua (20 benign GET/POST
JSON/POST form requests, cycled; checked to be answered 2xx by every target first).

Options:
  --duration S      wrk duration per target in seconds (default $DURATION)
  --threads N       bulwark threads and nginx-proxy workers (default $THREADS)
  --conns C         wrk connections (default $CONNS)
  --wrk-threads T   wrk threads (default $WRK_THREADS)
  --quick           CI smoke run: duration 3 s, warm-up 1 s; with --waf --mixed: duration 2 s,
                    and the mixed row without warm-up and without app-direct (about 40 s in all)
  --waf             also nginx + ModSecurity + CRS and bulwark --mode block (skips the memory test)
  --mixed           also measure every target with the mixed workload (bench/mixed.lua)
  --json FILE       also write the numbers as JSON to FILE
  --bin PATH        bulwark-proxy binary (default \$BULWARK_PROXY_BIN or build/bin/bulwark-proxy)
  --idle-conns N    idle connections for the memory test (default $IDLE_CONNS, max 100000)
  --trickle         also measure nginx-proxy and bulwark under a slow-header trickle
  --trickle-conns N trickling connections (default $TRICKLE_CONNS, max 100000)
  --trickle-interval S  seconds between two bytes on one trickling connection (default $TRICKLE_INTERVAL)
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
        --quick) QUICK=1; shift ;;
        --waf) WAF=1; shift ;;
        --mixed) MIXED=1; shift ;;
        --json) [[ $# -ge 2 ]] || die "--json needs a file"; JSON_OUT=$2; shift 2 ;;
        --bin) [[ $# -ge 2 ]] || die "--bin needs a path"; BIN=$2; shift 2 ;;
        --idle-conns) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 100000 ]] || die "--idle-conns needs 1..100000"; IDLE_CONNS=$2; shift 2 ;;
        --trickle) TRICKLE=1; shift ;;
        --trickle-conns) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 100000 ]] || die "--trickle-conns needs 1..100000"; TRICKLE_CONNS=$2; shift 2 ;;
        --trickle-interval) [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 && $2 -le 60 ]] || die "--trickle-interval needs 1..60 seconds"; TRICKLE_INTERVAL=$2; shift 2 ;;
        --no-memory) WITH_MEMORY=0; shift ;;
        --no-bulwark) WITH_BULWARK=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ $CONNS -ge $WRK_THREADS ]] || die "--conns must be >= --wrk-threads"
if [[ $QUICK -eq 1 ]]; then   # keep a CI smoke run short (~40 s at most)
    DURATION=3; WARMUP=1
    [[ $WAF -eq 1 && $MIXED -eq 1 ]] && DURATION=2
fi
if [[ $WAF -eq 1 && $WITH_MEMORY -eq 1 ]]; then
    WITH_MEMORY=0   # one run compares throughput; the memory test is the plain run's business
fi
[[ $WAF -eq 1 && $TRICKLE -eq 1 ]] && die "--trickle is a run of its own (without --waf)"
MAX_CONNS=$IDLE_CONNS
[[ $TRICKLE -eq 1 && $TRICKLE_CONNS -gt $MAX_CONNS ]] && MAX_CONNS=$TRICKLE_CONNS
if [[ -n "$JSON_OUT" ]]; then
    case "$JSON_OUT" in /*) ;; *) JSON_OUT="$PWD/$JSON_OUT" ;; esac
fi

# ----------------------------------------------------------------------------- prerequisites
command -v "$NGINX" >/dev/null 2>&1 || die "nginx not found ($NGINX)"
command -v "$WRK" >/dev/null 2>&1 || die "wrk not found ($WRK)"
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 not found ($PYTHON)"
# Resolve the real interpreter once: wrappers such as pyenv shims cost ~0.5 s of CPU per call,
# which would disturb the measurements (the helper is called between and around the runs).
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)') || die "python3 does not run"
[[ -x "$PYTHON" ]] || die "cannot resolve the python3 interpreter"
# -S (no site module): the helper needs only the standard library, and Python starts ~3x faster
# (~0.2 s per call on a busy 2-CPU machine adds up over the ~10 calls of each wrk run).
helper() { "$PYTHON" -S "$HELPER" "$@"; }
if [[ $WITH_BULWARK -eq 1 ]]; then
    [[ -x "$BIN" ]] || die "bulwark-proxy binary not found or not executable: $BIN (build it, or pass --bin)"
fi
if [[ $WAF -eq 1 ]]; then
    for f in "$MODSEC_MODULE" "$MODSEC_BASE_CONF" "$MODSEC_UNICODE_MAP" "$CRS_CONF_DIR/crs-setup.conf" \
             "$CRS_RULES_DIR/REQUEST-949-BLOCKING-EVALUATION.conf"; do
        [[ -r "$f" ]] || die "--waf needs $f (install the packages in scripts/deps/bench.txt: scripts/deps.sh)"
    done
fi
if [[ $MIXED -eq 1 ]]; then
    [[ -r "$MIXED_LUA" ]] || die "mixed workload script not found: $MIXED_LUA"
fi

# Raise the fd limit for everything started from here (proxies, idle-connection client).
HARD_NOFILE=$(ulimit -Hn)
WANT_NOFILE=$((MAX_CONNS * 2 + 1024))
if [[ "$HARD_NOFILE" == unlimited ]] || [[ $HARD_NOFILE -ge $WANT_NOFILE ]]; then
    ulimit -n "$WANT_NOFILE" 2>/dev/null || true
else
    ulimit -n "$HARD_NOFILE" 2>/dev/null || true
fi
NOFILE=$(ulimit -n)
if [[ $WITH_MEMORY -eq 1 ]] && [[ $NOFILE -lt $((IDLE_CONNS + 256)) ]]; then
    log "warning: fd limit $NOFILE is below --idle-conns $IDLE_CONNS + 256; fewer connections will be held"
fi
# nginx preallocates worker_connections per worker (~0.4 KiB each): size it for the test, not the fd limit.
WORKER_CONNECTIONS=$((MAX_CONNS + CONNS + 1024))
[[ $WORKER_CONNECTIONS -le $((NOFILE - 64)) ]] || WORKER_CONNECTIONS=$((NOFILE - 64))
[[ $WORKER_CONNECTIONS -ge 1024 ]] || WORKER_CONNECTIONS=1024

# ----------------------------------------------------------------------------- process management
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/tmp"
RESULTS="$WORK/results.kv"
: >"$RESULTS"
APP_PID=""
NGX_PID=""
MS_PID=""          # nginx + ModSecurity (--waf)
BW_PID=""
BWB_PID=""         # bulwark --mode block (--waf)
IDLE_PID=""
TRICKLE_PID=""
CHECK_PIDS=()      # the --mixed pre-check's wrk processes while they run
FAILED=1

stop_pid() {  # stop_pid PID NAME TIMEOUT_S: TERM, bounded wait, then KILL (the PID and its children)
    local pid=$1 name=$2 timeout=$3 kids i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$(helper descendants "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: $name (pid $pid) did not exit within ${timeout}s of SIGTERM; killing it and its children"
        kill -KILL "$pid" 2>/dev/null || true
        for k in $kids; do   # only on this forced path: a graceful exit takes its children along
            [[ "$k" == "$pid" ]] && continue
            kill -KILL "$k" 2>/dev/null || true
        done
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n "$IDLE_PID" ]] && { touch "$WORK/release" 2>/dev/null; stop_pid "$IDLE_PID" idle-conns 5; }
    [[ -n "$TRICKLE_PID" ]] && { touch "$WORK/trickle-release" 2>/dev/null; stop_pid "$TRICKLE_PID" trickle 10; }
    for p in "${CHECK_PIDS[@]}"; do stop_pid "$p" wrk 2; done
    stop_pid "$BWB_PID" bulwark-proxy-block 10
    stop_pid "$BW_PID" bulwark-proxy 10
    stop_pid "$MS_PID" nginx-modsec 5
    stop_pid "$NGX_PID" nginx-proxy 5
    stop_pid "$APP_PID" nginx-app 5
    if [[ $FAILED -ne 0 ]]; then
        for f in "$WORK"/bulwark.log "$WORK"/bulwark-block.log "$WORK"/app-error.log \
                 "$WORK"/proxy-error.log "$WORK"/modsec-error.log; do
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
read -r APP_PORT NGX_PORT BW_PORT BW_STATUS_PORT MS_PORT BWB_PORT BWB_STATUS_PORT \
    < <(helper free-ports 7)
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
        -e "s|@MODSEC_PORT@|$MS_PORT|g" \
        -e "s|@MODSEC_MODULE@|$MODSEC_MODULE|g" \
        -e "s|@NOFILE@|$NOFILE|g" \
        -e "s|@WORKER_CONNECTIONS@|$WORKER_CONNECTIONS|g" \
        "$1" >"$2"
}
render "$SCRIPT_DIR/nginx-app.conf.in" "$WORK/app.conf"
render "$SCRIPT_DIR/nginx-proxy.conf.in" "$WORK/proxy.conf"

# ModSecurity: Debian's base configuration with the engine blocking, audit and debug logs off and
# every path absolute or inside $WORK, then CRS (modsec-main.conf.in). Each edit is checked: a
# base configuration that does not match would silently leave ModSecurity detection-only.
render_modsec() {
    local base="$WORK/modsec/modsecurity.conf" before after
    mkdir -p "$WORK/modsec"
    sed -e 's/^[[:space:]]*SecRuleEngine[[:space:]].*/SecRuleEngine On/' \
        -e 's/^[[:space:]]*SecAuditEngine[[:space:]].*/SecAuditEngine Off/' \
        -e "s|^[[:space:]]*SecAuditLog[[:space:]].*|SecAuditLog $WORK/modsec-audit.log|" \
        -e 's/^[[:space:]]*SecDebugLog[[:space:]].*/# (SecDebugLog removed by proxy-bench.sh)/' \
        -e "s|^[[:space:]]*SecUnicodeMapFile[[:space:]]\+[^[:space:]]\+|SecUnicodeMapFile $MODSEC_UNICODE_MAP|" \
        -e "s|^[[:space:]]*SecTmpDir[[:space:]].*|SecTmpDir $WORK/tmp/|" \
        -e "s|^[[:space:]]*SecDataDir[[:space:]].*|SecDataDir $WORK/tmp/|" \
        -e 's/^[[:space:]]*SecStatusEngine[[:space:]].*/SecStatusEngine Off/' \
        "$MODSEC_BASE_CONF" >"$base"
    grep -qx 'SecRuleEngine On' "$base" || die "$MODSEC_BASE_CONF: no SecRuleEngine line to turn on"
    grep -qx 'SecAuditEngine Off' "$base" || echo 'SecAuditEngine Off' >>"$base"
    grep -q "^SecUnicodeMapFile $MODSEC_UNICODE_MAP" "$base" || echo "SecUnicodeMapFile $MODSEC_UNICODE_MAP 20127" >>"$base"
    if grep -Eq '^[[:space:]]*SecRuleEngine[[:space:]]+(Off|DetectionOnly)' "$base"; then
        die "$MODSEC_BASE_CONF: SecRuleEngine could not be switched on"
    fi
    # libmodsecurity 3.0 has no IncludeOptional: include the local exclusion files when present.
    before="# no $CRS_CONF_DIR/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
    after="# no $CRS_CONF_DIR/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    [[ -r "$CRS_CONF_DIR/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf" ]] &&
        before="Include $CRS_CONF_DIR/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
    [[ -r "$CRS_CONF_DIR/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf" ]] &&
        after="Include $CRS_CONF_DIR/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    sed -e "s|@DIR@|$WORK|g" \
        -e "s|@CRS_SETUP@|$CRS_CONF_DIR/crs-setup.conf|g" \
        -e "s|@CRS_RULES_DIR@|$CRS_RULES_DIR|g" \
        -e "s|@INCLUDE_EXCLUSIONS_BEFORE@|$before|g" \
        -e "s|@INCLUDE_EXCLUSIONS_AFTER@|$after|g" \
        "$SCRIPT_DIR/modsec-main.conf.in" >"$WORK/modsec/main.conf"
    render "$SCRIPT_DIR/nginx-modsec.conf.in" "$WORK/modsec.conf"
}
[[ $WAF -eq 1 ]] && render_modsec

record config.duration_s "$DURATION"
record config.warmup_s "$WARMUP"
record config.threads "$THREADS"
record config.wrk_connections "$CONNS"
record config.wrk_threads "$WRK_THREADS"
record config.path "$URL_PATH"
record config.idle_conns "$IDLE_CONNS"
record config.trickle "$TRICKLE"
[[ $TRICKLE -eq 1 ]] && { record config.trickle_conns "$TRICKLE_CONNS"; record config.trickle_interval_s "$TRICKLE_INTERVAL"; }
record config.cpus "$(nproc)"
record config.waf "$WAF"
record config.mixed "$MIXED"

# ----------------------------------------------------------------------------- start
start_nginx() {  # start_nginx NAME CONF PORT -> sets STARTED_PID
    local name=$1 conf=$2 port=$3
    "$NGINX" -t -q -p "$WORK" -c "$conf" -e "$WORK/$name-error.log" >/dev/null 2>"$WORK/$name-test.log" ||
        { cat "$WORK/$name-test.log" >&2; die "nginx config test failed for $name"; }
    "$NGINX" -p "$WORK" -c "$conf" -e "$WORK/$name-error.log" </dev/null >>"$WORK/$name-stdout.log" 2>&1 &
    STARTED_PID=$!
    helper wait-port "$port" 10 || die "$name did not start listening on 127.0.0.1:$port"
    alive "$STARTED_PID" || die "$name exited right after start"
}

start_bulwark() {  # start_bulwark NAME MODE PORT STATUS_PORT -> sets STARTED_PID; logs: NAME.log (stderr), NAME-events.log (stdout)
    local name=$1 mode=$2 port=$3 status_port=$4
    # the connection cap sized for the test, as nginx's worker_connections is
    printf '{"limits": {"max_connections": %d}}\n' "$WORKER_CONNECTIONS" >"$WORK/$name-config.json"
    "$BIN" --config "$WORK/$name-config.json" --mode "$mode" --threads "$THREADS" \
        --listen "127.0.0.1:$port" --status-listen "127.0.0.1:$status_port" \
        --upstream "127.0.0.1:$APP_PORT" --log-level warn \
        </dev/null >>"$WORK/$name-events.log" 2>>"$WORK/$name.log" &
    STARTED_PID=$!
    helper wait-port "$port" 15 || { alive "$STARTED_PID" || die "$name exited at start"; die "$name did not listen on 127.0.0.1:$port"; }
    helper wait-http "http://127.0.0.1:$status_port/readyz" 15 || die "$name /readyz not ready"
    alive "$STARTED_PID" || die "$name exited at start"
}

ports="app $APP_PORT, nginx-proxy $NGX_PORT, bulwark $BW_PORT (status $BW_STATUS_PORT)"
[[ $WAF -eq 1 ]] && ports="$ports, nginx-modsec $MS_PORT, bulwark-block $BWB_PORT (status $BWB_STATUS_PORT)"
log "work dir $WORK; ports: $ports; fd limit $NOFILE"
# The targets, in the order they are measured (bulwark off and block next to each other).
T_KEYS=(); T_NAMES=(); T_PORTS=(); T_PIDS=()
add_target() { T_KEYS+=("$1"); T_NAMES+=("$2"); T_PORTS+=("$3"); T_PIDS+=("$4"); }

start_nginx app "$WORK/app.conf" "$APP_PORT"; APP_PID=$STARTED_PID
add_target app app-direct "$APP_PORT" "$APP_PID"
start_nginx proxy "$WORK/proxy.conf" "$NGX_PORT"; NGX_PID=$STARTED_PID
add_target nginx nginx-proxy "$NGX_PORT" "$NGX_PID"
if [[ $WAF -eq 1 ]]; then
    start_nginx modsec "$WORK/modsec.conf" "$MS_PORT"; MS_PID=$STARTED_PID
    add_target modsec nginx-modsec "$MS_PORT" "$MS_PID"
fi
if [[ $WITH_BULWARK -eq 1 ]]; then
    start_bulwark bulwark off "$BW_PORT" "$BW_STATUS_PORT"; BW_PID=$STARTED_PID
    add_target bulwark bulwark-off "$BW_PORT" "$BW_PID"
    if [[ $WAF -eq 1 ]]; then
        start_bulwark bulwark-block block "$BWB_PORT" "$BWB_STATUS_PORT"; BWB_PID=$STARTED_PID
        add_target bulwark_block bulwark-block "$BWB_PORT" "$BWB_PID"
    fi
fi

# Sanity: each target answers the request with the app's body.
check_target() {  # check_target NAME PORT
    local body
    body=$(helper http-get "http://127.0.0.1:$2$URL_PATH" 5) || die "$1: GET $URL_PATH failed"
    [[ "$body" == "hello" ]] || die "$1: unexpected body: $(printf %q "$body")"
}
for i in "${!T_KEYS[@]}"; do
    check_target "${T_NAMES[i]}" "${T_PORTS[i]}"
done

# --waf: the WAFs must really block (403) the attack and nothing else may (200).
if [[ $WAF -eq 1 ]]; then
    for i in "${!T_KEYS[@]}"; do
        name=${T_NAMES[i]}
        want=200
        [[ "${T_KEYS[i]}" == modsec || "${T_KEYS[i]}" == bulwark_block ]] && want=403
        st=$(helper http-status "http://127.0.0.1:${T_PORTS[i]}$ATTACK_PATH" 5) ||
            die "$name: GET $ATTACK_PATH got no answer"
        if [[ "$st" != "$want" ]]; then
            case "${T_KEYS[i]}" in
                bulwark_block) die "bulwark-block: GET $ATTACK_PATH (<script>alert(1)</script>) answered $st, expected 403:" \
                    "$BIN does not block in --mode block (a build without the detection engine?). Pass --bin with a detection-enabled build, or run without --waf." ;;
                modsec) die "nginx-modsec: GET $ATTACK_PATH answered $st, expected 403: ModSecurity + CRS is not blocking (see $WORK/modsec/main.conf; rerun with --keep)" ;;
                *) die "$name: GET $ATTACK_PATH answered $st, expected 200 (only the blocking WAFs may refuse it)" ;;
            esac
        fi
    done
    log "pre-check: GET $ATTACK_PATH -> 403 from nginx-modsec${BWB_PID:+ and bulwark-block}, 200 from the others; GET $URL_PATH -> 200 from all"
fi

# --mixed: every target must answer every request of the mixed workload 2xx. One wrk per target,
# in parallel (about 1 s in all); mixed.lua names the requests answered otherwise.
if [[ $MIXED -eq 1 ]]; then
    for i in "${!T_KEYS[@]}"; do
        timeout 30 "$WRK" -t 1 -c 1 -d 1s --timeout 5s -s "$MIXED_LUA" "http://127.0.0.1:${T_PORTS[i]}/" -- check \
            >"$WORK/mixed-check-${T_KEYS[i]}.txt" 2>&1 &
        CHECK_PIDS+=($!)
    done
    for i in "${!T_KEYS[@]}"; do
        name=${T_NAMES[i]} out="$WORK/mixed-check-${T_KEYS[i]}.txt"
        wait "${CHECK_PIDS[i]}" || die "$name: wrk mixed-workload check failed: $(tail -n 3 "$out")"
        summary=$(grep -m1 '^mixed-check: [0-9]* responses' "$out") || die "$name: no result from the mixed-workload check: $(tail -n 3 "$out")"
        read -r _ nresp _ _ _ _ _ nbad _ <<<"$summary"
        [[ $nresp -gt 0 ]] || die "$name: no answer to the mixed workload"
        if [[ $nbad -ne 0 ]]; then
            grep '^mixed-check: status' "$out" | sed "s/^mixed-check:/  $name:/" >&2
            case "${T_KEYS[i]}" in
                modsec|bulwark_block) log "warning: $name refused $nbad of $nresp benign mixed-workload requests (false positives; its mixed numbers include those answers)" ;;
                *) die "$name refused $nbad of $nresp mixed-workload requests (it does not inspect: the harness is broken)" ;;
            esac
        fi
    done
    CHECK_PIDS=()
    log "pre-check: mixed workload ($(grep -c '^  {"' "$MIXED_LUA") requests) checked on ${#T_KEYS[@]} targets"
fi

# ----------------------------------------------------------------------------- memory
rss_of() { helper rss "$@"; }
fds_of() { helper fds "$@"; }

memory_test() {  # memory_test KEY NAME PORT PID MODE: MODE keepalive (one request each, then idle) or fresh (no byte sent)
    local key=$1 name=$2 port=$3 pid=$4 mode=$5 rss_idle base_fds fds i held fails rss_conns accepted
    local req=() rk=$1
    if [[ $mode == keepalive ]]; then
        req=(--request "$URL_PATH")
        rk="$key.ka"
    fi
    sleep 1
    rss_idle=$(rss_of "$pid")
    base_fds=$(fds_of "$pid")
    record "$rk.rss_idle" "$rss_idle"
    rm -f "$WORK/ready" "$WORK/release"
    helper idle-conns --port "$port" --count "$IDLE_CONNS" --hold 120 "${req[@]}" \
        --connect-timeout 90 --ready-file "$WORK/ready" --release-file "$WORK/release" \
        2>>"$WORK/idle-$key.log" &
    IDLE_PID=$!
    for ((i = 0; i < 1000; i++)); do   # <= 100 s
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
        helper http-get "http://127.0.0.1:$BW_STATUS_PORT/metrics" 5 >"$WORK/metrics-idle.txt" 2>/dev/null || true
        local active
        active=$(awk '$1 == "bulwark_connections_active" {print $2}' "$WORK/metrics-idle.txt")
        log "$name: bulwark_connections_active while held: ${active:-?}"
    fi
    touch "$WORK/release"
    wait "$IDLE_PID" || log "warning: idle-connection client exited non-zero"
    IDLE_PID=""
    sed 's/^/  /' "$WORK/idle-$key.log" >&2
    record "$rk.rss_conns" "$rss_conns"
    record "$rk.conns_held" "$held"
    record "$rk.conns_accepted" "$accepted"
    record "$rk.connect_failures" "$fails"
    log "$name: RSS idle $((rss_idle / 1024)) KiB, with $held idle $mode conns $((rss_conns / 1024)) KiB ($(( (rss_conns - rss_idle) / (held > 0 ? held : 1) )) bytes each; fds +$accepted, connect failures $fails)"
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
    # keep-alive first: each process is measured from the state it started in
    memory_test nginx nginx-proxy "$NGX_PORT" "$NGX_PID" keepalive
    [[ $WITH_BULWARK -eq 1 ]] && memory_test bulwark bulwark-off "$BW_PORT" "$BW_PID" keepalive
    memory_test nginx nginx-proxy "$NGX_PORT" "$NGX_PID" fresh
    [[ $WITH_BULWARK -eq 1 ]] && memory_test bulwark bulwark-off "$BW_PORT" "$BW_PID" fresh
fi

# ----------------------------------------------------------------------------- load
all_pids() { echo "$APP_PID" "$NGX_PID" $MS_PID $BW_PID $BWB_PID; }   # word-split by its callers

run_wrk() {  # run_wrk KEY NAME PORT PID [LUA]: PID = the target's process (CPU per request is its CPU); LUA: wrk script
    local key=$1 name=$2 port=$3 pid=$4 lua=${5:-} url parsed rps p50 p99 non2xx sockerr reqs
    local cpu0 cpu1 ours0 ours1 busy0 busy1 wrk_cpu foreign_pct
    local script=()
    url="http://127.0.0.1:$port$URL_PATH"
    if [[ -n "$lua" ]]; then
        url="http://127.0.0.1:$port/"
        script=(-s "$lua")
    fi
    if [[ $RUN_WARMUP -gt 0 ]]; then
        timeout $((RUN_WARMUP + 30)) "$WRK" -t "$WRK_THREADS" -c "$CONNS" -d "${RUN_WARMUP}s" --timeout 5s "${script[@]}" "$url" \
            >"$WORK/wrk-$key-warmup.txt" 2>&1 || die "$name: wrk warm-up failed: $(tail -n 3 "$WORK/wrk-$key-warmup.txt")"
    fi
    # shellcheck disable=SC2046
    read -r cpu0 ours0 busy0 < <(helper cpu-snapshot "$pid" -- $(all_pids)) || die "cannot read CPU times"
    helper run-timed "$WORK/wrk-$key.cpu" \
        timeout $((DURATION + 30)) "$WRK" -t "$WRK_THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 5s --latency "${script[@]}" "$url" \
        >"$WORK/wrk-$key.txt" 2>&1 || die "$name: wrk failed: $(tail -n 3 "$WORK/wrk-$key.txt")"
    # shellcheck disable=SC2046
    read -r cpu1 ours1 busy1 < <(helper cpu-snapshot "$pid" -- $(all_pids)) || die "cannot read CPU times"
    wrk_cpu=$(cat "$WORK/wrk-$key.cpu")
    parsed=$(helper parse-wrk "$WORK/wrk-$key.txt") || { cat "$WORK/wrk-$key.txt" >&2; die "$name: cannot parse wrk output"; }
    read -r rps p50 p99 non2xx sockerr reqs <<<"$parsed"
    # CPU used on this machine by anything but the benchmark's own processes during the run,
    # as a percentage of all CPUs: the numbers are not trustworthy when this is high.
    foreign_pct=$(awk -v b="$busy1" -v a="$busy0" -v o1="$ours1" -v o0="$ours0" -v w="$wrk_cpu" \
        -v d="$DURATION" -v n="$(nproc)" 'BEGIN { f = (b - a) - (o1 - o0) - w; if (f < 0) f = 0; printf "%.1f", 100 * f / (d * n) }')
    record "$key.rps" "$rps"
    record "$key.p50_ms" "$p50"
    record "$key.p99_ms" "$p99"
    record "$key.non2xx" "$non2xx"
    record "$key.socket_errors" "$sockerr"
    record "$key.requests" "$reqs"
    record "$key.cpu_s" "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')"
    record "$key.wrk_cpu_s" "$wrk_cpu"
    record "$key.foreign_cpu_pct" "$foreign_pct"
    log "$name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx $non2xx, socket errors $sockerr; other load on the machine ${foreign_pct}%"
    if awk -v f="$foreign_pct" 'BEGIN { exit !(f > 5) }'; then
        log "warning: $name: ${foreign_pct}% of the machine's CPU went to other processes during the run; its numbers are unreliable"
    fi
}

log "load: wrk -t $WRK_THREADS -c $CONNS -d ${DURATION}s (warm-up ${WARMUP}s) on $(nproc) CPUs"
RUN_WARMUP=$WARMUP
for i in "${!T_KEYS[@]}"; do
    run_wrk "${T_KEYS[i]}" "${T_NAMES[i]}" "${T_PORTS[i]}" "${T_PIDS[i]}"
    alive "${T_PIDS[i]}" || die "${T_NAMES[i]} died during the load test"
done
if [[ $MIXED -eq 1 ]]; then
    # --quick: no second warm-up, the targets have just been loaded with the first workload
    [[ $QUICK -eq 1 ]] && RUN_WARMUP=0
    log "load, mixed workload: the same with -s $(basename "$MIXED_LUA") (warm-up ${RUN_WARMUP}s)"
    for i in "${!T_KEYS[@]}"; do
        # --quick: the app's own numbers are the same ceiling for both workloads
        [[ $QUICK -eq 1 && "${T_KEYS[i]}" == app ]] && continue
        run_wrk "${T_KEYS[i]}-mixed" "${T_NAMES[i]} (mixed)" "${T_PORTS[i]}" "${T_PIDS[i]}" "$MIXED_LUA"
        alive "${T_PIDS[i]}" || die "${T_NAMES[i]} died during the mixed load test"
    done
fi
# --trickle: the same GET load while TRICKLE_CONNS connections trickle request heads.
trickle_test() {  # trickle_test KEY NAME PORT PID
    local key=$1 name=$2 port=$3 pid=$4 i held fails peak
    rm -f "$WORK/trickle-ready" "$WORK/trickle-release"
    helper trickle --port "$port" --count "$TRICKLE_CONNS" --interval "$TRICKLE_INTERVAL" \
        --hold $((DURATION + WARMUP + 150)) --connect-timeout 90 \
        --ready-file "$WORK/trickle-ready" --release-file "$WORK/trickle-release" \
        2>>"$WORK/trickle-$key.log" &
    TRICKLE_PID=$!
    for ((i = 0; i < 1000; i++)); do   # <= 100 s
        [[ -f "$WORK/trickle-ready" ]] && break
        alive "$TRICKLE_PID" || break
        sleep 0.1
    done
    [[ -f "$WORK/trickle-ready" ]] || die "$name: trickle client did not get ready"
    read -r held fails <"$WORK/trickle-ready"
    sleep "$TRICKLE_INTERVAL"   # every connection has started its head
    run_wrk "$key-trickle" "$name (trickle)" "$port" "$pid"
    peak=$(rss_of "$pid")
    touch "$WORK/trickle-release"
    wait "$TRICKLE_PID" || log "warning: trickle client exited non-zero"
    TRICKLE_PID=""
    sed 's/^/  /' "$WORK/trickle-$key.log" >&2
    record "$key-trickle.conns_held" "$held"
    record "$key-trickle.rss" "$peak"
    log "$name: $held trickling connections (connect failures $fails), RSS during the run $((peak / 1024)) KiB"
    alive "$pid" || die "$name died during the trickle test"
}
if [[ $TRICKLE -eq 1 ]]; then
    log "trickle: $TRICKLE_CONNS connections, one head byte every ${TRICKLE_INTERVAL}s each, during wrk"
    RUN_WARMUP=0
    trickle_test nginx nginx-proxy "$NGX_PORT" "$NGX_PID"
    [[ $WITH_BULWARK -eq 1 ]] && trickle_test bulwark bulwark-off "$BW_PORT" "$BW_PID"
fi
for i in "${!T_KEYS[@]}"; do
    [[ "${T_KEYS[i]}" == app ]] || record "${T_KEYS[i]}.rss_after_load" "$(rss_of "${T_PIDS[i]}")"
done

# ----------------------------------------------------------------------------- bulwark checks
BW_FAIL=""
bulwark_check() {  # bulwark_check KEY NAME STATUS_PORT: metrics, and any non-2xx or socket error is a failure
    local key=$1 name=$2 status_port=$3 suffix non2xx sockerr
    if helper http-get "http://127.0.0.1:$status_port/metrics" 5 >"$WORK/metrics-$key.txt" 2>/dev/null; then
        log "$name metrics after the run:"
        helper metrics-summary "$WORK/metrics-$key.txt" >&2 || true
    else
        log "warning: could not read $name /metrics"
    fi
    for suffix in "" -mixed -trickle; do
        non2xx=$(awk -F= -v k="$key$suffix.non2xx" '$1 == k {print $2}' "$RESULTS")
        sockerr=$(awk -F= -v k="$key$suffix.socket_errors" '$1 == k {print $2}' "$RESULTS")
        [[ -n "$non2xx" ]] || continue
        if [[ $non2xx -ne 0 || $sockerr -ne 0 ]]; then
            BW_FAIL="${BW_FAIL:+$BW_FAIL; }$name${suffix:+ (mixed)} returned $non2xx non-2xx responses and had $sockerr socket errors (see wrk-$key$suffix.txt, ${key//_/-}.log, ${key//_/-}-events.log)"
        fi
    done
}

bulwark_stop() {  # bulwark_stop KEY NAME PIDVAR: after SIGTERM (already sent) it must exit 0 (bounded wait)
    local key=$1 name=$2 var=$3 pid rc="" i logf="$WORK/${1//_/-}.log"
    pid=${!var}
    for ((i = 0; i < 300; i++)); do   # <= 30 s
        if ! alive "$pid"; then
            set +e; wait "$pid"; rc=$?; set -e
            break
        fi
        sleep 0.1
    done
    if [[ -z "$rc" ]]; then
        log "warning: $name still running 30 s after SIGTERM"
    else
        printf -v "$var" '%s' ""
        record "$key.sigterm_exit" "$rc"
        log "$name exited $rc after SIGTERM"
        [[ $rc -eq 0 ]] || log "warning: $name exited $rc after SIGTERM (expected 0)"
    fi
    if [[ -s "$logf" ]]; then
        log "$name log ($(wc -l <"$logf") lines), last lines:"
        tail -n 5 "$logf" | sed 's/^/  /' >&2
    fi
}

if [[ $WITH_BULWARK -eq 1 ]]; then
    bulwark_check bulwark bulwark-off "$BW_STATUS_PORT"
    [[ -n "$BWB_PID" ]] && bulwark_check bulwark_block bulwark-block "$BWB_STATUS_PORT"
    if [[ -s "$WORK/bulwark-block-events.log" ]]; then
        log "bulwark-block reported $(wc -l <"$WORK/bulwark-block-events.log") attack event(s) (the pre-check's among them), last:"
        tail -n 3 "$WORK/bulwark-block-events.log" | cut -c 1-400 | sed 's/^/  /' >&2
    fi
    # Graceful stop of both at once (each waits up to a second for idle keep-alive connections).
    kill -TERM $BW_PID $BWB_PID 2>/dev/null || true
    bulwark_stop bulwark bulwark-off BW_PID
    [[ -n "$BWB_PID" ]] && bulwark_stop bulwark_block bulwark-block BWB_PID
fi

# ----------------------------------------------------------------------------- report
echo
if [[ -n "$JSON_OUT" ]]; then
    helper report --results "$RESULTS" --json "$JSON_OUT"
    log "wrote $JSON_OUT"
else
    helper report --results "$RESULTS"
fi

if [[ -n "$BW_FAIL" ]]; then
    echo >&2
    echo "proxy-bench: FAIL: $BW_FAIL (rerun with --keep to keep the files)" >&2
    exit 1
fi
FAILED=0
exit 0
