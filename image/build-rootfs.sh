#!/usr/bin/env bash
# Assembles the runtime root filesystem of the Bulwark image from the host: the three binaries
# (stripped), exactly the shared libraries they load (ldd, with the dynamic loader), the iptables
# tools bulwark-init runs in iptables mode (xtables-legacy-multi, xtables-nft-multi, their
# libraries and the few xtables match/target modules our rules use), and /etc/passwd + /etc/group
# with UID/GID 101. Nothing else: no shell, no package manager, no CA store (the webhook serves
# TLS, it never verifies a peer). By default the result is for the host's architecture.
#
# --arch arm64 on an amd64 host: the arm64 rootfs from the cross-built binaries
# (scripts/build-arm64.sh) and the host's :arm64 multiarch libraries (scripts/deps/arm64.txt):
# dependencies are listed by the arm64 dynamic loader run under qemu-aarch64 (`ld.so --list`, what
# ldd does), binaries are stripped with aarch64-linux-gnu-strip, and the iptables tools and
# xtables modules come from Debian's iptables:arm64 package, downloaded (apt-get download, the
# version of the installed libxtables12:arm64) into $BULWARK_DEB_CACHE (default .cache/debs) and
# unpacked, since it cannot be installed beside the host's iptables. docs/image.md.
#
# usage: image/build-rootfs.sh [--arch ARCH] OUT_DIR BULWARK_PROXY BULWARK_INIT BULWARK_WEBHOOK
set -euo pipefail

ARCH=""
if [ "${1:-}" = "--arch" ]; then
  ARCH=${2:?--arch needs an architecture (arm64)}
  shift 2
fi
OUT=${1:?usage: build-rootfs.sh [--arch ARCH] OUT_DIR BULWARK_PROXY BULWARK_INIT BULWARK_WEBHOOK}
PROXY=${2:?bulwark-proxy binary}
INIT=${3:?bulwark-init binary}
WEBHOOK=${4:?bulwark-webhook binary}
HOST_ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ -n "$ARCH" ] || ARCH=$HOST_ARCH

# list_deps ELF: ldd-format lines for ELF and the libraries it loads.
IPT_ROOT="" # where the iptables tools and modules are taken from ("" = the host)
if [ "$ARCH" = "$HOST_ARCH" ]; then
  STRIP=${STRIP:-strip}
  LIST_DEPS=(ldd)
elif [ "$ARCH" = arm64 ]; then
  STRIP=${STRIP:-aarch64-linux-gnu-strip}
  QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
  [ -n "$QEMU" ] || { echo "build-rootfs: qemu-aarch64 not found (scripts/deps/arm64.txt)" >&2; exit 2; }
  [ -e /lib/ld-linux-aarch64.so.1 ] || { echo "build-rootfs: no arm64 libraries (scripts/deps.sh arm64)" >&2; exit 2; }
  LIST_DEPS=("$QEMU" /lib/ld-linux-aarch64.so.1 --list)
  ipt_version=$(dpkg-query -W -f '${Version}' libxtables12:arm64 2>/dev/null || true)
  [ -n "$ipt_version" ] || { echo "build-rootfs: libxtables12:arm64 not installed (scripts/deps.sh arm64)" >&2; exit 2; }
  CACHE=${BULWARK_DEB_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/debs}
  deb="$CACHE/iptables_${ipt_version//:/%3a}_arm64.deb"
  if [ ! -s "$deb" ]; then
    mkdir -p "$CACHE"
    (cd "$CACHE" && apt-get download -q "iptables:arm64=$ipt_version" >/dev/null 2>&1) ||
      { echo "build-rootfs: cannot download iptables:arm64=$ipt_version" >&2; exit 2; }
  fi
  IPT_ROOT="$CACHE/iptables_${ipt_version//:/%3a}_arm64"
  if [ ! -x "$IPT_ROOT/usr/sbin/xtables-nft-multi" ]; then
    rm -rf "$IPT_ROOT"
    dpkg-deb -x "$deb" "$IPT_ROOT"
  fi
else
  echo "build-rootfs: --arch $ARCH: only the host's ($HOST_ARCH) and arm64 are supported" >&2
  exit 2
fi

for tool in "${LIST_DEPS[0]}" "$STRIP"; do
  command -v "$tool" >/dev/null || { echo "build-rootfs: $tool not found" >&2; exit 2; }
done
for b in "$PROXY" "$INIT" "$WEBHOOK"; do
  [ -x "$b" ] || { echo "build-rootfs: $b is not an executable" >&2; exit 2; }
done

# The iptables mode of bulwark-init runs iptables-{legacy,nft}-{save,restore} (ip6tables-* too)
# and `iptables --version` (capture/src/apply_iptables.cpp, probe.cpp). Both backends: the node
# decides which one holds the rules. Without them only nftables (netlink, in-process) works.
XTABLES=()
for t in xtables-legacy-multi xtables-nft-multi; do
  if [ -n "$IPT_ROOT" ]; then
    p=$IPT_ROOT/usr/sbin/$t
    [ -x "$p" ] || p=""
  else
    p=$(command -v "$t" || true)
  fi
  if [ -z "$p" ]; then
    echo "build-rootfs: $t not found (Debian package iptables); the image would lack iptables mode" >&2
    exit 2
  fi
  XTABLES+=("$p")
done
# Match/target modules the capture rules use (tests/golden/capture/iptables/): -m comment,
# -m owner, -m tcp/-p tcp, -j REDIRECT, -j RETURN/chain jumps (standard), plus multiport for
# port lists.
XT_MODULES=(libxt_comment libxt_owner libxt_tcp libxt_REDIRECT libxt_standard libxt_multiport
            libxt_udp libxt_mark)
# XT_DIR: the module directory as iptables was built to look for it (the path in the image);
# read from $IPT_ROOT$XT_DIR.
XT_DIR=${XTABLES_LIBDIR:-}
if [ -z "$XT_DIR" ] && [ -n "$IPT_ROOT" ]; then
  XT_DIR=/usr/lib/aarch64-linux-gnu/xtables
fi
if [ -z "$XT_DIR" ]; then
  for d in /usr/lib/*/xtables /usr/lib/xtables /usr/lib64/xtables; do
    if [ -f "$d/libxt_comment.so" ]; then XT_DIR=$d; break; fi
  done
fi
[ -n "$XT_DIR" ] && [ -f "$IPT_ROOT$XT_DIR/libxt_comment.so" ] ||
  { echo "build-rootfs: xtables module directory not found" >&2; exit 2; }

rm -rf "$OUT"
mkdir -p "$OUT"/usr/bin "$OUT"/usr/sbin "$OUT"/usr/lib "$OUT"/etc "$OUT"/tmp "$OUT"/run/bulwark \
         "$OUT"/etc/bulwark/policy "$OUT"/etc/bulwark/tls "$OUT"/etc/bulwark/config "$OUT"/var/run
chmod 1777 "$OUT"/tmp
# merged /usr, like Debian: /bin, /sbin, /lib, /lib64 point into /usr.
ln -s usr/bin "$OUT"/bin
ln -s usr/sbin "$OUT"/sbin
ln -s usr/lib "$OUT"/lib

# copy_real SRC: copies SRC (symlinks resolved) to the same canonical path under $OUT, and keeps
# the requested name (the soname) as the file name, so no symlink farm is needed.
copy_lib() {
  local src=$1
  local dir
  dir=$(cd "$(dirname "$src")" && pwd -P)
  mkdir -p "$OUT$dir"
  if [ ! -e "$OUT$dir/$(basename "$src")" ]; then
    cp -L "$src" "$OUT$dir/$(basename "$src")"
    chmod 0755 "$OUT$dir/$(basename "$src")"
  fi
  # The loader is also reached by the path written in the binaries (e.g. /lib64/ld-linux-x86-64.so.2).
  if [ "$(dirname "$src")" != "$dir" ] && [ ! -e "$OUT$(dirname "$src")" ]; then
    mkdir -p "$(dirname "$OUT$(dirname "$src")")"
    ln -s "$dir" "$OUT$(dirname "$src")" 2>/dev/null || true
  fi
}

copy_deps() {
  local elf=$1
  # ldd lines: "libx.so => /path (addr)" or "/lib64/ld-linux-x86-64.so.2 (addr)".
  local deps
  deps=$("${LIST_DEPS[@]}" "$elf") || { echo "build-rootfs: ${LIST_DEPS[*]} $elf failed" >&2; exit 1; }
  echo "$deps" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }' |
    while read -r lib; do
      copy_lib "$lib"
    done
  if grep -q 'not found' <<<"$deps"; then
    echo "build-rootfs: $elf: a library is missing: $(echo "$deps" | grep 'not found')" >&2
    exit 1
  fi
}

for b in "$PROXY" "$INIT" "$WEBHOOK"; do
  name=$(basename "$b")
  "$STRIP" --strip-all -o "$OUT/usr/bin/$name" "$b"
  copy_deps "$b"
done

for x in "${XTABLES[@]}"; do
  name=$(basename "$x")
  "$STRIP" --strip-all -o "$OUT/usr/sbin/$name" "$(readlink -f "$x")"
  copy_deps "$x"
done
for fam in iptables ip6tables; do
  for s in "" -save -restore; do
    ln -s xtables-legacy-multi "$OUT/usr/sbin/$fam-legacy$s"
    ln -s xtables-nft-multi "$OUT/usr/sbin/$fam-nft$s"
    # Debian's default alternative is the nft backend.
    ln -s xtables-nft-multi "$OUT/usr/sbin/$fam$s"
  done
done
mkdir -p "$OUT$XT_DIR"
for m in "${XT_MODULES[@]}"; do
  if [ -f "$IPT_ROOT$XT_DIR/$m.so" ]; then
    cp -L "$IPT_ROOT$XT_DIR/$m.so" "$OUT$XT_DIR/$m.so"
    copy_deps "$IPT_ROOT$XT_DIR/$m.so"
  else
    echo "build-rootfs: warning: $IPT_ROOT$XT_DIR/$m.so not found" >&2
  fi
done

cat > "$OUT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
bulwark:x:101:101:bulwark:/nonexistent:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat > "$OUT/etc/group" <<'EOF'
root:x:0:
bulwark:x:101:
nogroup:x:65534:
EOF
cat > "$OUT/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
# iptables resolves -p tcp through its own table, but keep the protocol names it may look up.
printf 'ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6-icmp\t58\tIPv6-ICMP\n' > "$OUT/etc/protocols"
chmod 0644 "$OUT"/etc/passwd "$OUT"/etc/group "$OUT"/etc/nsswitch.conf "$OUT"/etc/protocols

du -sb "$OUT" | awk '{printf "build-rootfs: %s: %.1f MB\n", $2, $1 / 1e6}'
