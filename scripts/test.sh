#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs each libFuzzer target briefly (clang,
# ASan + UBSan), then ctest: unit tests, golden files, integration tests with a real app behind
# bulwark-proxy, e2e capture tests in network namespaces (root), webhook/chart schema checks,
# benchmark smoke runs. With CI=true, warnings are errors and tests that need privileges or
# tools fail instead of skipping. FUZZ_SECONDS (default 8) sets the fuzz smoke per target.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
./scripts/fuzz.sh "${FUZZ_SECONDS:-8}"
cd "${BULWARK_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j2 "$@"
