#!/usr/bin/env bash
# Configures and builds Bulwark into build/ (or $BULWARK_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BULWARK_BUILD_DIR:-build}"
WERROR=OFF
if [ "${CI:-}" = "true" ]; then
  WERROR=ON
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULWARK_WERROR="$WERROR" "$@" >/dev/null
ninja -C "$BUILD_DIR"
