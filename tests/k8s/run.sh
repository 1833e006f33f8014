#!/usr/bin/env bash
# ctest entry of the Kubernetes tests: builds the control plane (tests/k8s/build.sh, cached),
# puts helm and kubectl on PATH (tests/testlib/k8s_tools.sh), then runs tests/k8s/test_k8s.py
# (root: network namespaces). Exit 77 = skipped (never under CI=true: then it fails).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BW_TEST=k8s
# shellcheck source=../testlib/k8s_tools.sh
source "$REPO/tests/testlib/k8s_tools.sh"
[ "$(id -u)" -eq 0 ] || bw_skip "needs root (network namespaces for the control plane and the pods)"
bw_helm_tools
start=$(date +%s)
if ! BULWARK_K8S_BIN=$("$HERE/build.sh"); then
    bw_skip "could not build the control plane (go, module proxy)"
fi
echo "k8s: control plane binaries ready in $(( $(date +%s) - start )) s" >&2
export BULWARK_K8S_BIN BULWARK_HELM_BIN_DIR="$BW_HELM_CACHE/bin"
BULWARK_K8S_VERSION=$(sed -n 's/^require k8s.io\/kubernetes //p' "$HERE/tools/go.mod")
export BULWARK_K8S_VERSION
rc=0
python3 "$HERE/test_k8s.py" || rc=$?
# all skipped -> 77 is decided by the test itself raising SkipTest in setUpClass
exit "$rc"
