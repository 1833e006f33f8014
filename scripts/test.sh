#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs each libFuzzer target briefly (clang,
# ASan + UBSan), then ctest: unit tests, golden files, integration tests with a real app behind
# bulwark-proxy, e2e capture tests in network namespaces (root), webhook/chart schema checks,
# benchmark smoke runs; then it checks that nothing was left behind (scripts/leftovers.sh). With
# CI=true, warnings are errors and tests that need privileges or tools fail instead of skipping.
# FUZZ_SECONDS (default 8) sets the fuzz smoke per target.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
./scripts/fuzz.sh "${FUZZ_SECONDS:-8}"
# linux/arm64: cross build of the shipped binaries into build-arm64/ (ctest arm64_qemu and
# image_build_arm64 run them under qemu-aarch64).
./scripts/build-arm64.sh
# Afterwards nothing of ours may remain (processes, network namespaces, nftables tables, iptables
# chains), also after a test killed by its timeout: scripts/leftovers.sh lists, removes and fails.
LEFTOVERS_BASE=$(mktemp)
trap 'rm -f "$LEFTOVERS_BASE"' EXIT
./scripts/leftovers.sh --save "$LEFTOVERS_BASE"
# The end-to-end tests add their scenario rows here; one table is printed at the end.
BULWARK_E2E_SUMMARY=$(mktemp)
export BULWARK_E2E_SUMMARY
trap 'rm -f "$LEFTOVERS_BASE" "$BULWARK_E2E_SUMMARY"' EXIT
rc=0
(cd "${BULWARK_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j2 "$@") || rc=$?
if [ -s "$BULWARK_E2E_SUMMARY" ]; then
  echo "end-to-end scenarios:"
  awk -F'\t' '{ printf "  %-66s %-5s %s\n", $1, $2, $3 }' "$BULWARK_E2E_SUMMARY"
fi
./scripts/leftovers.sh --baseline "$LEFTOVERS_BASE" --grace 5 --kill || rc=1
exit "$rc"
