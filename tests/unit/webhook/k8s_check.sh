#!/usr/bin/env bash
# Installs the npm packages the schema check needs into <repo>/.cache/npm (once; a marker file
# makes later runs instant; tests/testlib/k8s_tools.sh, shared with the chart tests), then runs
# k8s_check.js over the webhook golden files.
# Exit 77 (ctest: skipped) when node/npm or the registry is unavailable, unless CI=true.
set -euo pipefail
GOLDEN=${1:?usage: k8s_check.sh GOLDEN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
export BW_TEST=webhook_k8s_schema
# shellcheck source-path=SCRIPTDIR source=../../testlib/k8s_tools.sh
. "$REPO/tests/testlib/k8s_tools.sh"

# kubernetes-models 5.1.0 carries the 1.33 API (and 1.34 additions); 1.0.3 is Kubernetes 1.19.2.
bw_npm_k8s
bw_npm_k8s_old

exec node "$HERE/k8s_check.js" "$GOLDEN" "$BW_CACHE"
