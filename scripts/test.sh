#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, then ctest (unit tests, integration tests with a
# real app behind bulwark-proxy, benchmark smoke). With CI=true, warnings are errors and tests
# that need privileges fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
cd "${BULWARK_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j2 "$@"
