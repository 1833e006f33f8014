#!/usr/bin/env bash
# Installs the npm packages the schema check needs into <repo>/.cache/npm (once; a marker file
# makes later runs instant), then runs k8s_check.js over the webhook golden files.
# Exit 77 (ctest: skipped) when node/npm or the registry is unavailable, unless CI=true.
set -euo pipefail
GOLDEN=${1:?usage: k8s_check.sh GOLDEN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${BULWARK_NPM_CACHE:-$REPO/.cache/npm}

skip() {
  echo "webhook_k8s_schema: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
  exit 77
}
command -v node >/dev/null || skip "node not found (scripts/deps.sh installs nodejs)"
command -v npm >/dev/null || skip "npm not found"

# install DIR PACKAGE...: idempotent; reinstalls only when the package list changed.
install() {
  local dir=$1
  shift
  local want="$*"
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
    return 0
  fi
  mkdir -p "$dir"
  echo '{"private": true}' > "$dir/package.json"
  if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@" >&2); then
    skip "npm install $want failed (registry unreachable?)"
  fi
  echo "$want" > "$dir/.installed"
}
# kubernetes-models 5.1.0 carries the 1.33 API (and 1.34 additions); 1.0.3 is Kubernetes 1.19.2.
install "$CACHE/k8s-1.33" kubernetes-models@5.1.0 fast-json-patch@3.1.1
install "$CACHE/k8s-1.19" kubernetes-models@1.0.3

exec node "$HERE/k8s_check.js" "$GOLDEN" "$CACHE"
