#!/usr/bin/env bash
# Builds the linux/arm64 image from the cross-built binaries (image/build-rootfs.sh --arch arm64
# + buildah bud --arch arm64, vfs storage, private store) and checks it: the image config says
# arm64 and user 101:101, every ELF in it is AArch64, and from the image root alone (chroot with
# a static qemu-aarch64 copied in for the run, so nothing of the host's libraries can help) each
# binary answers --version as UID 101, the iptables tools answer --version, and bulwark-init plan
# runs. Prints the sizes. Rules are not applied: qemu-user does not emulate netfilter netlink.
# usage: image_test.sh BUILD_ARM64_DIR
# Exit 77 (skipped) without buildah, root, qemu-aarch64-static or the cross build, unless CI=true
# (then 1).
set -euo pipefail
DIR=${1:?usage: image_test.sh BUILD_ARM64_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

export BW_TEST=image_build_arm64
# shellcheck source-path=SCRIPTDIR source=../testlib/k8s_tools.sh
. "$REPO/tests/testlib/k8s_tools.sh"
command -v buildah >/dev/null || bw_skip "buildah not found (scripts/deps/image.txt)"
[ "$(id -u)" -eq 0 ] || bw_skip "needs root (buildah vfs store, chroot into the image)"
QEMU=$(command -v qemu-aarch64-static || true)
[ -n "$QEMU" ] || bw_skip "qemu-aarch64-static not found (scripts/deps/arm64.txt)"
for b in bulwark-proxy bulwark-init bulwark-webhook; do
  [ -x "$DIR/bin/$b" ] || bw_skip "$DIR/bin/$b missing: build it with scripts/build-arm64.sh"
done
VERSION=$(sed -n 's/^project(bulwark VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")

# shellcheck source-path=SCRIPTDIR source=../testlib/buildah.sh
. "$REPO/tests/testlib/buildah.sh"
# The static qemu copied into the mounted image for the run goes before the unmount.
bw_image_cleanup_extra() {
  if [ -n "$MNT" ]; then rm -f "$MNT/.qemu-aarch64"; fi
}

# 1. rootfs + image
"$REPO/image/build-rootfs.sh" --arch arm64 "$WORK/ctx/rootfs" "$DIR/bin/bulwark-proxy" \
  "$DIR/bin/bulwark-init" "$DIR/bin/bulwark-webhook"
"${BUILDAH[@]}" bud --quiet --isolation chroot --arch arm64 -f "$REPO/image/Containerfile" \
  -t localhost/bulwark:test-arm64 "$WORK/ctx" >/dev/null
cfg=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.OS}}/{{.OCIv1.Architecture}} {{.OCIv1.Config.User}}' localhost/bulwark:test-arm64)
[ "$cfg" = "linux/arm64 101:101" ] && ok "image config: $cfg" || bad "image config is '$cfg', want 'linux/arm64 101:101'"

# 2. every ELF file in the image is AArch64 (e_machine 183), none is the host's
CTR=$("${BUILDAH[@]}" from --quiet --arch arm64 localhost/bulwark:test-arm64)
MNT=$("${BUILDAH[@]}" mount "$CTR")
elves=0
while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  elves=$((elves + 1))
  m=$(od -An -t u2 -j 18 -N 2 "$f" | tr -d ' ')
  [ "$m" = 183 ] || bad "${f#"$MNT"}: ELF machine $m, want 183 (AArch64)"
done < <(find "$MNT" -type f -print0)
[ "$elves" -gt 10 ] && ok "$elves ELF files in the image, all AArch64" || bad "only $elves ELF files in the image"

# 3. run from the image root: only its own libraries are there
cp "$QEMU" "$MNT/.qemu-aarch64"
for b in bulwark-proxy bulwark-init bulwark-webhook; do
  if out=$(chroot --userspec=101:101 "$MNT" /.qemu-aarch64 "/usr/bin/$b" --version 2>&1) &&
     [ "$out" = "$b $VERSION" ]; then
    ok "$b --version as 101 from the arm64 image: $out"
  else
    bad "$b --version from the arm64 image: $out"
  fi
done
# (`iptables --version` itself is not tried: on the nft backend it opens a netfilter netlink
# socket first, which qemu-user does not emulate; the link is checked instead.)
for t in iptables-legacy-restore ip6tables-legacy-save iptables-nft-restore ip6tables-nft-save iptables-legacy; do
  if out=$(chroot "$MNT" /.qemu-aarch64 "/usr/sbin/$t" --version 2>&1) && grep -q '^ip6*tables' <<<"$out"; then
    ok "$t --version from the arm64 image: $out"
  else
    bad "$t --version from the arm64 image: $out"
  fi
done
link=$(readlink "$MNT/usr/sbin/iptables" || true)
[ "$link" = xtables-nft-multi ] && ok "iptables -> $link" || bad "iptables links to '$link', want xtables-nft-multi"
if out=$(chroot --userspec=101:101 "$MNT" /.qemu-aarch64 /usr/bin/bulwark-init plan --mode auto --app-port 8080 2>&1) &&
   grep -q 'redirect to :26001' <<<"$out"; then
  ok "bulwark-init plan (no privilege) from the arm64 image"
else
  bad "bulwark-init plan from the arm64 image: $(echo "$out" | tail -c 400)"
fi
rm -f "$MNT/.qemu-aarch64"
[ ! -e "$MNT/bin/sh" ] || bad "the image has a shell"

# 4. size
rootfs=$(du -sb "$WORK/ctx/rootfs" | cut -f1)
layer=$(tar -C "$WORK/ctx/rootfs" -cf - . | gzip -9 | wc -c)
echo "arm64 image size: rootfs $(awk -v b="$rootfs" 'BEGIN {printf "%.1f", b / 1e6}') MB uncompressed," \
     "$(awk -v b="$layer" 'BEGIN {printf "%.1f", b / 1e6}') MB as a gzip layer"
[ "$layer" -le 20000000 ] || bad "compressed arm64 image over 20 MB"

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "arm64 image test passed"
