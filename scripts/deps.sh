#!/usr/bin/env bash
# Installs what Bulwark needs to build, test and run its demo on Debian 12. Idempotent and quick
# when everything is already there (no apt-get update unless something is missing).
set -euo pipefail

# One list per module in scripts/deps/*.txt (whitespace separated, # comments). Arguments name
# the lists to install (e.g. `deps.sh base demo`); none = every list.
HERE="$(cd "$(dirname "$0")" && pwd)"
LISTS=("$HERE"/deps/*.txt)
if [ $# -gt 0 ]; then
  LISTS=()
  for l in "$@"; do LISTS+=("$HERE/deps/$l.txt"); done
fi
read -r -a PACKAGES <<< "$(cat "${LISTS[@]}" | sed 's/#.*//' | tr '\n' ' ')"

missing=()
for p in "${PACKAGES[@]}"; do
  if ! grep -q "install ok installed" <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
# Lists may name foreign-architecture packages (pkg:arm64, scripts/deps/arm64.txt): multiarch.
for a in $(printf '%s\n' "${missing[@]}" | sed -n 's/^[^:]*:\([a-z0-9]*\)$/\1/p' | sort -u); do
  if [ "$a" != "$(dpkg --print-architecture)" ] && ! grep -qx "$a" <<<"$(dpkg --print-foreign-architectures)"; then
    $SUDO dpkg --add-architecture "$a"
  fi
done
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian nginx package starts a system nginx on :80; Bulwark's tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
