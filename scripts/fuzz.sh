#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each one.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default 60 s each, every target
# Targets: normalize parsers engine (detection engine), http_head config (proxy),
#          session (a whole proxy session against a scripted upstream), admission (webhook).
#          scripts/test.sh runs each for a few seconds as a smoke.
# New inputs go to build-fuzz/fuzz-work/<target>; crashes to build-fuzz/fuzz-artifacts/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-60}"
shift || true
declare -A BIN=(
  [normalize]=bulwark_fuzz_normalize [parsers]=bulwark_fuzz_parsers [engine]=bulwark_fuzz_engine
  [http_head]=bulwark_fuzz_http_head [config]=bulwark_fuzz_config [admission]=webhook_admission_fuzz
  [session]=bulwark_fuzz_session
)
declare -A CORPUS=(
  [normalize]=tests/fuzz/normalize_corpus [parsers]=tests/fuzz/parsers_corpus
  [engine]=tests/fuzz/engine_corpus [http_head]=tests/fuzz/http/http_head_corpus
  [config]=tests/fuzz/http/config_corpus [admission]=tests/fuzz/webhook/admission_corpus
  [session]=tests/fuzz/http/session_corpus
)
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(normalize parsers engine http_head config session admission)
fi
BUILD="$ROOT/build-fuzz"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBULWARK_FUZZ=ON >/dev/null
bins=()
for t in "${TARGETS[@]}"; do
  [ -n "${BIN[$t]:-}" ] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
  bins+=("${BIN[$t]}")
done
ninja -C "$BUILD" "${bins[@]}"
mkdir -p "$BUILD/fuzz-artifacts"
status=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/fuzz-work/$t"
  mkdir -p "$work"
  echo "== fuzz $t for ${SECONDS_EACH}s"
  if ! "$BUILD/bin/${BIN[$t]}" "$work" "$ROOT/${CORPUS[$t]}" \
      -max_total_time="$SECONDS_EACH" -max_len=8192 -rss_limit_mb=2048 \
      -artifact_prefix="$BUILD/fuzz-artifacts/${t}-" -print_final_stats=1 2>"$work.log"; then
    tail -40 "$work.log" >&2
    echo "fuzz $t: FAILED (artifacts in $BUILD/fuzz-artifacts)" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$work.log" | tail -1 || true
  fi
done
exit $status
