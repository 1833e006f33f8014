"""Network-namespace helpers for the e2e tests: a "pod" and a "client" namespace joined by a
veth pair, processes inside them, and cleanup that always runs (unittest addCleanup).

Addresses: 198.18.0.0/15 and fd00:b::/64 only (RFC 2544 benchmarking range / ULA), and only
inside the namespaces, so nothing leaves the machine.
"""

import itertools
import os
import shutil
import signal
import subprocess
import time
import unittest

from proc import pdeathsig

POD_V4, CLIENT_V4 = "198.18.0.2", "198.18.0.1"
POD_V6, CLIENT_V6 = "fd00:b::2", "fd00:b::1"

_seq = itertools.count()


def run(cmd, check=True, timeout=20, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise AssertionError("command failed (%d): %s\nstdout: %s\nstderr: %s"
                             % (res.returncode, " ".join(cmd), res.stdout, res.stderr))
    return res


def has_net_admin():
    """root and CAP_NET_ADMIN (bit 12) in the effective set."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 12))
    except OSError:
        pass
    return False


def require_privilege(test, tools=()):
    """Skips locally, FAILS under CI=true: a privileged test must never silently not run."""
    missing = [t for t in tools if shutil.which(t) is None]
    reason = None
    if not has_net_admin():
        reason = "needs root with CAP_NET_ADMIN (network namespaces, netfilter)"
    elif missing:
        reason = "needs tools: " + ", ".join(missing)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        test.fail("CI=true and the test cannot run: " + reason)
    raise unittest.SkipTest(reason)


class Netns:
    def __init__(self, role):
        self.name = "bw-%s-%d-%d" % (role, os.getpid(), next(_seq))
        run(["ip", "netns", "add", self.name])
        self.procs = []
        self.sh("ip link set lo up")

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, check=True, timeout=20, **kw):
        return run(self.cmd(argv), check=check, timeout=timeout, **kw)

    def sh(self, line, check=True):
        return self.run(["sh", "-c", line], check=check)

    def spawn(self, argv, **kw):
        # parent-death signal: if the test process is killed (ctest timeout), this dies with it
        kw.setdefault("preexec_fn", pdeathsig)
        p = subprocess.Popen(self.cmd(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate(timeout=5)
        self.procs = []
        # anything else still inside (children of what was spawned) goes by namespace
        res = run(["ip", "netns", "pids", self.name], check=False)
        for pid in res.stdout.split() if res.returncode == 0 else []:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        run(["ip", "netns", "del", self.name], check=False)


class PodAndClient:
    """pod <-eth0 veth eth0-> client; v4 198.18.0.2/.1, v6 fd00:b::2/::1."""

    def __init__(self, test):
        self.pod = Netns("pod")
        test.addCleanup(self.pod.close)
        self.client = Netns("cli")
        test.addCleanup(self.client.close)
        run(["ip", "-n", self.pod.name, "link", "add", "eth0", "type", "veth", "peer", "name",
             "eth0", "netns", self.client.name])
        for ns, v4, v6 in ((self.pod, POD_V4, POD_V6), (self.client, CLIENT_V4, CLIENT_V6)):
            ns.sh("ip addr add %s/24 dev eth0 && ip addr add %s/64 dev eth0 nodad && "
                  "ip link set eth0 up" % (v4, v6))

    def close(self):
        self.client.close()
        self.pod.close()


def wait_port(ns, port, host="127.0.0.1", timeout=10.0):
    """Bounded wait until something accepts on host:port inside ns."""
    deadline = time.monotonic() + timeout
    probe = ("import socket,sys\ns=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else "
             "socket.AF_INET)\ns.settimeout(0.5)\ns.connect((sys.argv[1],int(sys.argv[2])))")
    while time.monotonic() < deadline:
        if ns.run(["python3", "-c", probe, host, str(port)], check=False).returncode == 0:
            return True
        time.sleep(0.05)
    return False
