#!/usr/bin/env bash
# Lists what tests, benchmarks and the demo must never leave behind on this machine, and (with
# --kill) removes it. Exit 0 when nothing is left, 1 when something is (so scripts/test.sh fails).
#
#   scripts/leftovers.sh [--kill] [--save FILE] [--baseline FILE] [--grace SECONDS]
#
# What counts (only our own names; nothing else on the machine is looked at):
#   netns      a named network namespace bw-* / bwb-* / bulwark-* whose creator is gone: the names
#              carry the creating process id (bw-pod-<pid>-<n>, bwb-pod-<pid>, bw-demo-pod-<pid>);
#              a name without one counts once it is older than 30 minutes
#   process    anything inside such a namespace; bulwark-* binaries, and nginx / wrk / python test
#              apps started by our scripts, inside a namespace whose name is already deleted and
#              reparented to init (their test is gone); in the machine's own namespace, such a
#              process reparented to init that started after --baseline was saved or runs for
#              more than 30 minutes (--kill ends those only after 30 minutes, or under CI=true:
#              a background job of someone at work here looks the same)
#   nftables   table inet bulwark in the machine's own network namespace
#   iptables   BULWARK_* chains in the machine's own nat tables (legacy and nft, IPv4 and IPv6)
# A namespace whose creator still runs is a test in progress (maybe another checkout's), not a
# leftover. --save FILE writes the current list; --baseline FILE ignores what that list holds
# (what was there before a run). --grace waits up to that many seconds for things to go away
# before judging (cleanups still finishing). Needs root to see everything (without root: exit 0
# with a note, nothing checked).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "leftovers: not root, nothing checked (namespaces and netfilter need root)" >&2
    exit 0
fi

exec python3 - "$@" <<'PY'
import argparse
import os
import re
import signal
import subprocess
import sys
import time

NETNS_DIR = "/run/netns"
NAME_RE = re.compile(r"^(bw|bwb|bulwark)-")
PID_RES = (re.compile(r"-(\d+)-\d+$"), re.compile(r"-(\d+)$"))
UNNAMED_MAX_AGE = 30 * 60
OUR_COMMS = ("nginx", "wrk", "kube-apiserver", "kube-controller", "etcd")
OUR_SCRIPTS = ("echo_app.py", "stream_app.py", "podrunner.py", "demo_app.py", "capture-bench", "proxy-bench")


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def alive(pid):
    """running (a zombie is dead: it only waits to be reaped)"""
    stat = read("/proc/%d/stat" % pid).decode(errors="replace")
    if not stat:
        return False
    return stat[stat.rfind(")") + 2:][:1] != "Z"


def netns_inode(pid):
    try:
        return os.readlink("/proc/%d/ns/net" % pid)
    except OSError:
        return None


def named_netns():
    """name -> (inode string like net:[N], age in seconds)"""
    out = {}
    try:
        names = os.listdir(NETNS_DIR)
    except OSError:
        return out
    for name in names:
        try:
            st = os.stat(os.path.join(NETNS_DIR, name))
        except OSError:
            continue
        out[name] = ("net:[%d]" % st.st_ino, time.time() - st.st_ctime)
    return out


def processes():
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = read("/proc/%d/stat" % pid).decode(errors="replace")
        if not stat:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        ppid = int(fields[1]) if len(fields) > 1 else 0
        cmdline = read("/proc/%d/cmdline" % pid).replace(b"\0", b" ").decode(errors="replace")
        if not cmdline:  # kernel thread
            continue
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK") if len(fields) > 19 else 0
        yield pid, ppid, comm, cmdline.strip(), uptime() - started


def uptime():
    return float(read("/proc/uptime").split()[0] or 0)


def ours(comm, cmdline):
    if comm.startswith("bulwark-"):
        return True
    if comm in OUR_COMMS or comm.startswith("python"):
        return "bulwark" in cmdline or any(s in cmdline for s in OUR_SCRIPTS)
    return False


def find(since=None):
    """[(key, description, kill action)]; since: epoch seconds the baseline was taken"""
    items = []
    host = netns_inode(os.getpid())
    names = named_netns()
    inode_to_name = {ino: n for n, (ino, _) in names.items()}
    stale = set()
    for name, (ino, age) in sorted(names.items()):
        if not NAME_RE.match(name):
            continue
        creator = None
        for rx in PID_RES:
            m = rx.search(name)
            if m:
                creator = int(m.group(1))
                break
        if creator is not None and alive(creator):
            continue
        if creator is None and age < UNNAMED_MAX_AGE:
            continue
        why = "creator %d gone" % creator if creator is not None else "older than 30 min"
        stale.add(ino)
        items.append(("netns %s" % name, "network namespace %s (%s, %d s old)" % (name, why, age),
                      ("netns", name)))
    for pid, ppid, comm, cmdline, age in processes():
        if pid == os.getpid():
            continue
        ino = netns_inode(pid)
        if ino is None:
            continue
        where, killable = None, True
        if ino in stale:
            where = "in leftover namespace %s" % inode_to_name[ino]
        elif not ours(comm, cmdline) or ppid != 1:
            continue
        elif ino != host and ino not in inode_to_name:
            where = "in a namespace whose name is deleted (%s), parent gone" % ino
        elif ino == host and (age > UNNAMED_MAX_AGE or (since and age < time.time() - since)):
            where = "reparented to init, running for %d s" % age
            killable = age > UNNAMED_MAX_AGE or os.environ.get("CI") == "true"
        if where is None:
            continue
        items.append(("process %d %s" % (pid, comm),
                      "process %d %s %s: %s" % (pid, comm, where, cmdline[:120]),
                      ("pid", pid) if killable else ("keep", pid)))
    res = sh(["nft", "list", "table", "inet", "bulwark"])
    if res is not None and res.returncode == 0:
        items.append(("nftables inet bulwark", "nftables table inet bulwark in the host namespace",
                      ("nft", None)))
    for tool in ("iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"):
        res = sh([tool + "-save", "-t", "nat"])
        if res is None or res.returncode != 0:
            continue
        for line in res.stdout.splitlines():
            m = re.match(r"^:(BULWARK_\S+)", line)
            if m:
                items.append(("%s %s" % (tool, m.group(1)),
                              "%s chain %s in the host namespace (nat)" % (tool, m.group(1)),
                              ("chain", (tool, m.group(1)))))
    return items


def kill_pids(pids):
    pids = [p for p in pids if alive(p)]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def children(pid):
    out = []
    for p, ppid, _, _, _ in processes():
        if ppid == pid:
            out.append(p)
            out.extend(children(p))
    return out


def remove(action):
    kind, arg = action
    if kind == "netns":
        res = sh(["ip", "netns", "pids", arg])
        if res is not None and res.returncode == 0:
            kill_pids([int(p) for p in res.stdout.split()])
        sh(["ip", "netns", "del", arg])
    elif kind == "pid":
        kill_pids([arg] + children(arg))
    elif kind == "keep":
        print("leftovers: not ending process %d (younger than 30 min, may be someone's "
              "background job); end it yourself if it is yours" % arg)
    elif kind == "nft":
        sh(["nft", "delete", "table", "inet", "bulwark"])
    elif kind == "chain":
        tool, chain = arg
        res = sh([tool, "-t", "nat", "-S"])
        for line in (res.stdout.splitlines() if res else []):
            if line.startswith("-A ") and ("-j %s" % chain) in line:
                sh([tool, "-t", "nat"] + ["-D"] + line.split()[1:])
        sh([tool, "-t", "nat", "-F", chain])
        sh([tool, "-t", "nat", "-X", chain])


def main():
    ap = argparse.ArgumentParser(prog="leftovers.sh")
    ap.add_argument("--kill", action="store_true", help="remove what is found")
    ap.add_argument("--save", metavar="FILE", help="write the current list (keys) to FILE")
    ap.add_argument("--baseline", metavar="FILE", help="ignore what FILE (from --save) lists")
    ap.add_argument("--grace", type=float, default=0, metavar="S",
                    help="wait up to S seconds for things to go away before judging")
    args = ap.parse_args()

    ignore, since = set(), None
    if args.baseline:
        try:
            with open(args.baseline) as f:
                lines = [line.rstrip("\n") for line in f if line.strip()]
            if lines and lines[0].startswith("since "):
                since = float(lines.pop(0).split()[1])
            ignore = set(lines)
        except (OSError, ValueError, IndexError):
            pass
    if args.save:
        with open(args.save, "w") as f:
            f.write("since %f\n" % time.time())
            f.write("".join(key + "\n" for key, _, _ in find()))
        return 0
    deadline = time.monotonic() + args.grace
    while True:
        items = [i for i in find(since) if i[0] not in ignore]
        if not items or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if not items:
        print("leftovers: none (processes, network namespaces, nftables, iptables)")
        return 0
    print("leftovers: %d thing(s) left behind:" % len(items))
    for _, desc, _ in items:
        print("  " + desc)
    if args.kill:
        # processes first (by namespace), then the names and rules
        for _, _, action in sorted(items, key=lambda i: i[2][0] != "pid"):
            remove(action)
        rest = [i for i in find(since) if i[0] not in ignore and i[2][0] != "keep"]
        print("leftovers: removed%s" % ("" if not rest else "; still there: " +
                                        ", ".join(k for k, _, _ in rest)))
    return 1


sys.exit(main())
PY
