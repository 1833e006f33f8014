#!/usr/bin/env bash
# The main job: Bulwark end to end on this machine. The example Deployment's pod goes through a
# running bulwark-webhook as a real AdmissionReview over TLS; the returned JSON Patch is applied
# and the patched pod runs like a kubelet would run it (tests/e2e/podrunner.py): a network
# namespace with a veth to a client namespace, the bulwark-init init container with exactly the
# UID and capabilities of its securityContext, then the app and bulwark-proxy. From the client
# namespace, clean requests and attacks go to the pod IP on the app port — first in monitoring
# (logged, not blocked), then in block (the webhook run again with the mode annotation).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

CAPTURE=auto
MODES=monitoring,block
SCHEMA=single
DEPLOYMENT=examples/app-deployment.yaml
BUILD=1
JSON_OUT=""
APISERVER=0

usage() {
    cat <<EOF
Usage: sudo ./scripts/demo.sh [options]

  --capture MODE     auto (default) | nftables | iptables | none (capture off: clients use the
                     container port 'proxy') | ebpf (sk_lookup, no NAT: adds the bulwark-hold
                     sidecar; only when this build's bulwark-init has the BPF program)
  --mode LIST        filter modes to show, in order (default monitoring,block; also off,
                     safe_blocking)
  --schema single    the injection schema (split needs bulwark-helper, not in the image yet)
  --deployment FILE  the example to run (default examples/app-deployment.yaml; the
                     Wallarm-style one: examples/app-deployment-wallarm.yaml)
  --no-build         use the binaries in \$BULWARK_BIN_DIR or build/bin as they are
  --json-out FILE    also write the results as JSON
  --apiserver        through a real API server instead: etcd + kube-apiserver +
                     kube-controller-manager on this machine (tests/k8s; the first build takes
                     ~15 min), helm install of the chart, kubectl apply of the example, and the
                     Pod the ReplicaSet controller stored is the one that runs
  -h, --help         this help
Exit: 0 every check passed, 1 a check failed or the pod did not run, 2 usage.
Needs root (network namespaces, netfilter, setpriv). Installs what it needs (scripts/deps.sh)
and builds bulwark-init, bulwark-proxy and bulwark-webhook only.
EOF
}

refuse() { echo "demo: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --capture) CAPTURE="${2:-}"; shift 2 ;;
        --mode) MODES="${2:-}"; shift 2 ;;
        --schema) SCHEMA="${2:-}"; shift 2 ;;
        --deployment) DEPLOYMENT="${2:-}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --json-out) JSON_OUT="${2:-}"; shift 2 ;;
        --apiserver) APISERVER=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

case "$CAPTURE" in
    auto|nftables|iptables|none|ebpf) ;;
    *) refuse "--capture $CAPTURE: use auto, nftables, iptables, none or ebpf" ;;
esac
IFS=, read -r -a MODE_LIST <<< "$MODES"
[ ${#MODE_LIST[@]} -gt 0 ] || refuse "--mode: give at least one filter mode"
for m in "${MODE_LIST[@]}"; do
    case "$m" in
        off|monitoring|safe_blocking|block) ;;
        *) refuse "--mode $m: use off, monitoring, safe_blocking or block" ;;
    esac
done
case "$SCHEMA" in
    single) ;;
    split) refuse "--schema split adds the bulwark-helper container, whose binary is not in the image yet; use --schema single" ;;
    *) refuse "--schema $SCHEMA: use single" ;;
esac
[ -f "$DEPLOYMENT" ] || refuse "--deployment $DEPLOYMENT: no such file"
if [ "$(id -u)" -ne 0 ]; then
    refuse "needs root: it creates network namespaces, installs capture rules and runs each container as its own UID with setpriv (try: sudo $0 $*)"
fi

# Only the package lists the three binaries and the runner need (not the benchmark's WAF or
# the image builder).
./scripts/deps.sh base capture detect webhook demo

BIN="${BULWARK_BIN_DIR:-$ROOT/build/bin}"
if [ "$BUILD" = 1 ]; then
    BUILD_DIR="${BULWARK_BUILD_DIR:-build}"
    BIN="$ROOT/$BUILD_DIR/bin"
    if [ ! -f "$BUILD_DIR/build.ninja" ]; then
        echo "demo: configuring $BUILD_DIR (cmake)..."
        cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    echo "demo: building bulwark-init bulwark-proxy bulwark-webhook (a first build takes several minutes on 2 cores)..."
    ninja -C "$BUILD_DIR" bulwark-init bulwark-proxy bulwark-webhook | tail -n 1
fi
for b in bulwark-init bulwark-proxy bulwark-webhook; do
    [ -x "$BIN/$b" ] || refuse "$BIN/$b not found (build it, or drop --no-build)"
done

if [ "$CAPTURE" = ebpf ]; then
    if ! grep -qw ebpf <<<"$("$BIN/bulwark-init" --help 2>&1)"; then
        refuse "--capture ebpf: this build's bulwark-init does not list an ebpf mode"
    fi
    if ! msg=$("$BIN/bulwark-init" plan --mode ebpf --app-port 8080 2>&1); then
        refuse "--capture ebpf: not available in this build: $msg"
    fi
fi

K8S_ARGS=()
if [ "$APISERVER" = 1 ]; then
    REPO=$ROOT
    BW_TEST=demo
    # shellcheck source=../tests/testlib/k8s_tools.sh
    source tests/testlib/k8s_tools.sh
    bw_helm_tools
    echo "demo: building the control plane (tests/k8s/build.sh; cached after the first time)..."
    K8S_BIN=$(tests/k8s/build.sh)
    K8S_ARGS=(--apiserver --k8s-bin "$K8S_BIN" --helm-bin "$BW_HELM_CACHE/bin")
fi

# The runner ends its pods itself (also on Ctrl-C); this trap covers a runner that was killed:
# whatever still runs in its namespaces is ended and the namespaces are removed.
RUNNER_PID=""
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$RUNNER_PID" ]; then
        kill -TERM "$RUNNER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$RUNNER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$RUNNER_PID" 2>/dev/null || true
        for ns in $(ip netns list | awk '{print $1}' | grep -E "^bw-k(pod|cli|8s)-$RUNNER_PID-" || true); do
            # shellcheck disable=SC2046
            kill -KILL $(ip netns pids "$ns") 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        done
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

args=(demo --bin "$BIN" --deployment "$DEPLOYMENT" --capture "$CAPTURE" --mode "$MODES"
      --schema "$SCHEMA")
[ -n "$JSON_OUT" ] && args+=(--json-out "$JSON_OUT")
args+=("${K8S_ARGS[@]}")
python3 tests/e2e/podrunner.py "${args[@]}" &
RUNNER_PID=$!
rc=0
wait "$RUNNER_PID" || rc=$?
RUNNER_PID=""
exit "$rc"
