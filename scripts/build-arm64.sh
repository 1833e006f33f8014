#!/usr/bin/env bash
# Cross-builds the shipped binaries (bulwark-proxy, bulwark-init, bulwark-webhook) for linux/arm64
# into build-arm64/bin (or $BULWARK_ARM64_BUILD_DIR), with Debian's aarch64 cross compiler and the
# :arm64 libraries (scripts/deps/arm64.txt, installed here if missing). The detection rule
# databases are compiled for arm64 by the arm64 bulwark-detect-dbgen run under qemu-aarch64
# (vectorscan databases are specific to the platform they were compiled for) and linked into the
# proxy like on amd64. Also builds bulwark-arm64-check (tests/arm64/), which tests/arm64/
# arm64_test.sh runs under qemu. Release, -O2, no tests, fuzzers or benchmarks; extra args go to
# cmake. docs/image.md ("ARM64").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BULWARK_ARM64_BUILD_DIR:-build-arm64}"
WERROR=OFF
if [ "${CI:-}" = "true" ]; then
  WERROR=ON
fi
./scripts/deps.sh arm64
start=$(date +%s)
# -Wno-mismatched-new-delete: GCC 12 for aarch64 inlines Boost.Asio's coroutine frame allocator
# (awaitable_frame_base::operator new/delete over thread_info_base's recycling cache) and then
# reports the class's own operator delete as mismatched with the ::operator new inside it; the
# pair is matched, and the amd64 build does not see through it.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
  -DCMAKE_CXX_FLAGS="-Wno-mismatched-new-delete" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DBULWARK_TESTS=OFF -DBULWARK_WERROR="$WERROR" \
  "$@" >/dev/null
ninja -C "$BUILD_DIR" ${BULWARK_ARM64_JOBS:+-j"$BULWARK_ARM64_JOBS"} \
  bulwark-proxy bulwark-init bulwark-webhook bulwark-arm64-check
for b in bulwark-proxy bulwark-init bulwark-webhook; do
  if ! grep -q 'Machine:.*AArch64' <<<"$(aarch64-linux-gnu-readelf -h "$BUILD_DIR/bin/$b")"; then
    echo "build-arm64: $BUILD_DIR/bin/$b is not an AArch64 executable" >&2
    exit 1
  fi
done
echo "build-arm64: $BUILD_DIR/bin: bulwark-proxy bulwark-init bulwark-webhook ($(($(date +%s) - start)) s)"
