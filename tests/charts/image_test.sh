#!/usr/bin/env bash
# Builds the Bulwark image the way CI does (image/build-rootfs.sh + buildah, vfs storage, FROM
# scratch) in a private buildah store, then checks it: default user 101, each binary runs from
# the image root (chroot into the mounted image) with --version, as UID 101; the iptables tools
# bulwark-init runs are there and work; with root and unshare, bulwark-init applies and
# verifies real rules in a fresh network namespace from inside the image (nftables, iptables
# nft and legacy backends). Prints the image size (uncompressed rootfs and gzip layer).
# usage: image_test.sh BULWARK_PROXY BULWARK_INIT BULWARK_WEBHOOK
# Exit 77 (skipped) without buildah or root, unless CI=true (then 1).
set -euo pipefail
PROXY=${1:?usage: image_test.sh PROXY INIT WEBHOOK}
INIT=${2:?}
WEBHOOK=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export BW_TEST=image_build
# shellcheck source-path=SCRIPTDIR source=../testlib/k8s_tools.sh
. "$REPO/tests/testlib/k8s_tools.sh"

command -v buildah >/dev/null || bw_skip "buildah not found (scripts/deps.sh installs it: scripts/deps/image.txt)"
[ "$(id -u)" -eq 0 ] || bw_skip "needs root (buildah vfs store, chroot into the image)"
command -v chroot >/dev/null || bw_skip "chroot not found"

# shellcheck source-path=SCRIPTDIR source=../testlib/buildah.sh
. "$REPO/tests/testlib/buildah.sh"

# 1. rootfs + build
"$REPO/image/build-rootfs.sh" "$WORK/ctx/rootfs" "$PROXY" "$INIT" "$WEBHOOK"
"${BUILDAH[@]}" bud --quiet --isolation chroot -f "$REPO/image/Containerfile" -t localhost/bulwark:test \
  "$WORK/ctx" >/dev/null
user=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' localhost/bulwark:test)
[ "$user" = "101:101" ] || bad "image user is '$user', want 101:101"
path=$("${BUILDAH[@]}" inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' localhost/bulwark:test | grep '^PATH=' || true)
[ -n "$path" ] || bad "image has no PATH (the webhook's command: [bulwark-proxy] needs it)"

# 2. mount the built image and run from its root
CTR=$("${BUILDAH[@]}" from --quiet localhost/bulwark:test)
MNT=$("${BUILDAH[@]}" mount "$CTR")
for b in bulwark-proxy bulwark-init bulwark-webhook; do
  if out=$(chroot --userspec=101:101 "$MNT" "/usr/bin/$b" --version 2>&1); then
    echo "ok   $b --version as 101 from the image: $out"
  else
    bad "$b --version from the image: $out"
  fi
done
for t in iptables-legacy-restore ip6tables-legacy-save iptables-nft-restore ip6tables-nft-save iptables; do
  if out=$(chroot "$MNT" "/usr/sbin/$t" --version 2>&1); then
    echo "ok   $t --version: $out"
  else
    bad "$t --version from the image: $out"
  fi
done
if out=$(chroot --userspec=101:101 "$MNT" bulwark-init plan --mode auto --app-port 8080 2>&1); then
  echo "ok   bulwark-init plan (no privilege) from the image"
else
  bad "bulwark-init plan from the image: $out"
fi
# nothing in the image that the binaries do not need: no shell
[ ! -e "$MNT/bin/sh" ] || bad "the image has a shell"

# 3. real rules from inside the image, in a throwaway network namespace
if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  for args in "--mode nftables" "--mode iptables --iptables-backend nft" "--mode iptables --iptables-backend legacy"; do
    # shellcheck disable=SC2086
    if out=$(unshare -n chroot "$MNT" /usr/bin/bulwark-init apply $args --app-port 8080 --json 2>&1) &&
       grep -q '"ok":true' <<<"$out"; then
      echo "ok   bulwark-init apply $args in a fresh netns from the image"
    else
      bad "bulwark-init apply $args from the image: $(echo "$out" | tail -c 400)"
    fi
  done
else
  echo "note: unshare -n not permitted here; rule application from the image not tried"
fi

# 4. size
rootfs=$(du -sb "$WORK/ctx/rootfs" | cut -f1)
layer=$(tar -C "$WORK/ctx/rootfs" -cf - . | gzip -9 | wc -c)
echo "image size: rootfs $(awk -v b="$rootfs" 'BEGIN {printf "%.1f", b / 1e6}') MB uncompressed," \
     "$(awk -v b="$layer" 'BEGIN {printf "%.1f", b / 1e6}') MB as a gzip layer"
if [ "$layer" -gt 20000000 ]; then
  bad "compressed image over 20 MB"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "image test passed"
