"""Process and namespace helpers shared by the pod runner (tests/e2e/podrunner.py), the control
plane (tests/k8s/controlplane.py) and their tests, plus the scenario summary they print."""

import ctypes
import os
import signal
import subprocess
import sys
import time


def run(cmd, check=True, timeout=30, **kw):
    """subprocess.run with text output; a non-zero exit raises with the command and its output
    unless check=False."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (res.returncode, " ".join(cmd),
                                                               res.stdout, res.stderr))
    return res


def pdeathsig():
    """preexec_fn: the child gets SIGKILL when its parent (this test process) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def netns_pids(ns):
    res = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in res.stdout.split()] if res.returncode == 0 else []


def kill_netns(ns, term_s=5.0, kill_s=2.0):
    """SIGTERM every process in network namespace ns, then SIGKILL what is left; returns when
    none is left or after term_s + kill_s seconds."""
    pids = netns_pids(ns)
    for sig, wait in ((signal.SIGTERM, term_s), (signal.SIGKILL, kill_s)):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pids = netns_pids(ns)
            if not pids:
                return
            time.sleep(0.05)


class Summary:
    """Scenario rows (name, pass/FAIL, figure) printed as one table at the end of a module, and
    appended to $BULWARK_E2E_SUMMARY, from which scripts/test.sh prints every run's rows."""

    def __init__(self, title):
        self.title = title
        self.rows = []

    def record(self, name, ok, figure):
        self.rows.append((name, bool(ok), str(figure)))
        path = os.environ.get("BULWARK_E2E_SUMMARY")
        if path:
            with open(path, "a") as f:
                f.write("%s\t%s\t%s\n" % (name.replace("\t", " "), "pass" if ok else "FAIL",
                                           str(figure).replace("\t", " ").replace("\n", " ")))

    def print(self):
        if not self.rows:
            return
        width = max(len(n) for n, _, _ in self.rows)
        title = self.title() if callable(self.title) else self.title
        lines = ["", title, "  %-*s  %-6s %s" % (width, "scenario", "result", "figure")]
        lines += ["  %-*s  %-6s %s" % (width, n, "pass" if ok else "FAIL", f)
                  for n, ok, f in self.rows]
        sys.stderr.write("\n".join(lines) + "\n")
