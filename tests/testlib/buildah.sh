# shellcheck shell=bash disable=SC2034  # BUILDAH, CTR, MNT and failures are used by the sourcing script
# Shared by the image tests: a private buildah store (vfs driver) in a temporary folder, removed
# with every image and container in it on exit, and the ok/bad reporting the tests print.
#
# Source it after the skip checks. Then:
#   "${BUILDAH[@]}" ...      buildah on the private store
#   CTR / MNT                set them to the working container and its mount point; the exit
#                            trap unmounts and removes the container
#   bw_image_cleanup_extra   define it to run more clean-up first (it may use MNT)
#   ok MESSAGE / bad MESSAGE print a result line; bad counts into $failures

WORK=$(mktemp -d)
BUILDAH=(buildah --storage-driver vfs --root "$WORK/storage" --runroot "$WORK/runroot")
CTR=""
MNT=""
failures=0

bw_image_cleanup() {
  if declare -F bw_image_cleanup_extra >/dev/null; then
    bw_image_cleanup_extra || true
  fi
  if [ -n "$CTR" ]; then
    "${BUILDAH[@]}" umount "$CTR" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || true
  fi
  "${BUILDAH[@]}" rmi -a -f >/dev/null 2>&1 || true
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap bw_image_cleanup EXIT

bad() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
ok() { echo "ok   $*"; }
