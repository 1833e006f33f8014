#!/usr/bin/env bash
# Builds the Kubernetes control plane the k8s tests start on loopback: kube-apiserver and
# kube-controller-manager (Kubernetes version pinned in tests/k8s/tools/go.mod) and etcd (the
# version that release pins), with Go's module and build caches under $BULWARK_K8S_CACHE
# (default <repo>/.cache/k8s), so a second run only checks them. Prints the bin directory.
# Niced: it is CPU-heavy (a cold build is the bulk of the k8s tests' time).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${BULWARK_K8S_CACHE:-$REPO/.cache/k8s}
BIN="$CACHE/bin"
# Go >= 1.24 (the release's go.mod). Debian 12 has 1.19: then the Go toolchain is fetched once
# from the Go module proxy as the module golang.org/toolchain (what GOTOOLCHAIN does), checked
# against the SHA-256 below.
GO_FALLBACK=go1.26.8
GO_FALLBACK_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
go_ok() {
    command -v go >/dev/null 2>&1 || return 1
    local v
    v=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
    [ "$(printf '%s\n1.24\n' "${v%%[a-z-]*}" | sort -V | head -n1)" = "1.24" ]
}
if ! go_ok; then
    tc="$CACHE/toolchain/$GO_FALLBACK"
    if [ ! -x "$tc/bin/go" ]; then
        [ "$(uname -m)" = x86_64 ] || { echo "k8s build: need Go >= 1.24" >&2; exit 1; }
        mkdir -p "$CACHE/toolchain"
        tmp=$(mktemp -d "$CACHE/toolchain/.tmp.XXXXXX")
        echo "k8s build: fetching the $GO_FALLBACK toolchain from the Go module proxy" >&2
        curl -fsSL -o "$tmp/tc.zip" \
            "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-$GO_FALLBACK.linux-amd64.zip"
        echo "$GO_FALLBACK_SHA256  $tmp/tc.zip" | sha256sum -c --quiet - ||
            { echo "k8s build: toolchain checksum mismatch" >&2; rm -rf "$tmp"; exit 1; }
        python3 -m zipfile -e "$tmp/tc.zip" "$tmp/x"
        chmod -R a+x "$tmp/x/golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-amd64/bin" \
            "$tmp/x/golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-amd64/pkg/tool"
        rm -rf "$tc"
        mv "$tmp/x/golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-amd64" "$tc"
        rm -rf "$tmp"
    fi
    export PATH="$tc/bin:$PATH" GOROOT="$tc"
fi
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=mod
export CGO_ENABLED=0
mkdir -p "$BIN"
stamp="$BIN/.built"
want=$(cat "$HERE/tools/go.mod" "$HERE/tools/go.sum" "$0" | sha256sum | cut -d' ' -f1)
# The release's version, stamped as its own build does (helm checks the chart's kubeVersion).
KV=$(sed -n 's/^require k8s.io\/kubernetes v//p' "$HERE/tools/go.mod")
KMAJ=${KV%%.*}
KMIN=${KV#*.}
KMIN=${KMIN%%.*}
VPKG=k8s.io/component-base/version
LDFLAGS="-s -w -X $VPKG.gitVersion=v$KV -X $VPKG.gitMajor=$KMAJ -X $VPKG.gitMinor=$KMIN"
LDFLAGS="$LDFLAGS -X $VPKG.gitTreeState=clean -X $VPKG.buildDate=1970-01-01T00:00:00Z"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ]; then
    echo "$BIN"
    exit 0
fi
start=$(date +%s)
(
    cd "$HERE/tools"
    flock -w 3600 9
    nice -n 19 go build -trimpath -ldflags="$LDFLAGS" -o "$BIN/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager >&2
    nice -n 19 go build -trimpath -ldflags="-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2
) 9>"$CACHE/.lock"
echo "$want" > "$stamp"
echo "k8s build: control plane built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
