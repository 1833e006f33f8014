"""Start / stop the bulwark-proxy binary and the upstream test app for integration tests.

Everything binds to 127.0.0.1 on ephemeral ports.  Every wait is bounded.  Processes are
registered and killed at interpreter exit even when a test forgets to stop them.

    with App() as app, Proxy(upstream_port=app.port) as px:
        ...
        m = px.metrics(); m.get("bulwark_requests_total", {"class": "2xx"})
        rc = px.stop()            # SIGTERM, waits for exit, returns the exit code
"""

import atexit
import copy
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PY = Path(__file__).resolve().parent / "app.py"

_live = set()


def _kill_all():
    for p in list(_live):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        except Exception:
            pass


atexit.register(_kill_all)


def proxy_bin():
    b = os.environ.get("BULWARK_PROXY_BIN")
    if b:
        return str(Path(b).resolve())
    return str(REPO_ROOT / "build" / "bin" / "bulwark-proxy")


def require_proxy_bin():
    b = proxy_bin()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        raise RuntimeError("bulwark-proxy binary not found at %s (build it first or set "
                           "BULWARK_PROXY_BIN)" % b)
    return b


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULWARK_")}
    env.update(extra or {})
    return env


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def http_get(port, path, timeout=3.0):
    """(status, body) from a plain GET to 127.0.0.1:port; (None, error) if unreachable."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e).encode()


def proc_status(pid):
    """Dict of /proc/<pid>/status kB values (VmRSS, VmHWM, Threads...)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            v = v.strip()
            if v.endswith(" kB"):
                out[k] = int(v[:-3])
            elif v.isdigit():
                out[k] = int(v)
    return out


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


class MetricsFormatError(Exception):
    pass


def parse_labels(s):
    labels = {}
    pos = 0
    s = s or ""
    while pos < len(s):
        m = _LABEL_RE.match(s, pos)
        if not m:
            raise MetricsFormatError("bad label set %r" % s)
        labels[m.group(1)] = m.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        pos = m.end()
    return labels


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples = []  # (name, labels dict, float)
        self.types = {}
        self.helps = {}
        for ln, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                elif len(parts) >= 3 and parts[1] == "HELP":
                    self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise MetricsFormatError("line %d is not a Prometheus sample: %r" % (ln, line))
            try:
                value = float(m.group(3))
            except ValueError:
                raise MetricsFormatError("line %d has a bad value: %r" % (ln, line))
            self.samples.append((m.group(1), parse_labels(m.group(2)), value))

    def names(self):
        return {n for n, _, _ in self.samples}

    def has(self, name):
        return any(n == name for n, _, _ in self.samples)

    def get(self, name, labels=None, default=0.0):
        """Sum of the samples named `name` whose labels include `labels`."""
        labels = labels or {}
        total = None
        for n, ls, v in self.samples:
            if n == name and all(ls.get(k) == str(val) for k, val in labels.items()):
                total = (total or 0.0) + v
        return default if total is None else total

    def series(self, name):
        return [(ls, v) for n, ls, v in self.samples if n == name]


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

class ProxyStartError(AssertionError):
    pass


class App:
    """The upstream test app (tests/testlib/app.py) in its own process."""

    def __init__(self, mode="http", port=0):
        self.mode = mode
        self.want_port = port
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            [sys.executable, str(APP_PY), "--port", str(self.want_port), "--mode", self.mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
        _live.add(self.proc)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 64)
                if not ch:
                    break
                line += ch
            if self.proc.poll() is not None:
                break
        try:
            self.port = int(line.strip().split()[0])
        except (ValueError, IndexError):
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            self.stop()
            raise RuntimeError("test app (%s) did not report its port: %r %r" % (self.mode, line, err))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            for f in (self.proc.stdout, self.proc.stderr):
                try:
                    f.close()
                except Exception:
                    pass
            _live.discard(self.proc)

    def stats(self):
        st, body = http_get(self.port, "/stats")
        if st != 200:
            raise RuntimeError("app /stats failed: %r %r" % (st, body))
        return json.loads(body)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


BASE_CONFIG = {
    "mode": "monitoring",
    "threads": 2,
    "log_level": "warn",
    "non_http": "pass",
    "source_address": "",
}


class Proxy:
    """bulwark-proxy with a temporary JSON config on free loopback ports."""

    def __init__(self, upstream_port=None, config=None, args=None, env=None, wait="readyz",
                 listen_port=None, status_port=None):
        self.bin = require_proxy_bin()
        self.port = listen_port or free_port()
        self.status_port = status_port or free_port()
        cfg = deep_merge(BASE_CONFIG, {
            "listen": ["127.0.0.1:%d" % self.port],
            "status_listen": "127.0.0.1:%d" % self.status_port,
        })
        if upstream_port is not None:
            cfg["upstream"] = "127.0.0.1:%d" % upstream_port
        self.config = deep_merge(cfg, config)
        self.args = list(args or [])
        self.env = env or {}
        self.wait = wait
        self.proc = None
        self.tmpdir = None
        self.returncode = None

    # -- lifecycle ----------------------------------------------------------
    def start(self, timeout=10.0):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="bulwark-it-")
        self.config_path = os.path.join(self.tmpdir.name, "proxy.json")
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self.stdout_path = os.path.join(self.tmpdir.name, "stdout.log")
        self.stderr_path = os.path.join(self.tmpdir.name, "stderr.log")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([self.bin, "--config", self.config_path] + self.args,
                                     stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                     env=clean_env(self.env))
        _live.add(self.proc)
        if self.wait:
            self.wait_ready(self.wait, timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return getattr(self, "_last_stderr", "")

    def describe(self):
        return ("proxy pid %s rc %s config %s\n--- proxy stderr (tail) ---\n%s" %
                (self.proc.pid if self.proc else None, self.proc.poll() if self.proc else None,
                 json.dumps(self.config), self.stderr_text()[-4000:]))

    def wait_ready(self, what="readyz", timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._cleanup_files()
                raise ProxyStartError("bulwark-proxy exited with %s before becoming ready\n%s"
                                      % (rc, self.describe()))
            st, body = http_get(self.status_port, "/" + what, timeout=1.0)
            last = (st, body)
            if st == 200:
                return
            time.sleep(0.05)
        self.kill()
        raise ProxyStartError("bulwark-proxy not ready (/%s) within %.0fs, last answer %r\n%s"
                              % (what, timeout, last, self.describe()))

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            _live.discard(self.proc)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=None):
        """SIGTERM and wait (bounded); returns the exit code (kills and returns None on hang)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            self._cleanup_files()
            return self.returncode
        if timeout is None:
            timeout = self.config.get("timeouts", {}).get("drain_ms", 25000) / 1000.0 + 5.0
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        self._cleanup_files()
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc:
            _live.discard(self.proc)
        self._cleanup_files()

    def _cleanup_files(self):
        for f in ("_out", "_err"):
            fh = getattr(self, f, None)
            if fh:
                try:
                    fh.close()
                except OSError:
                    pass
        # keep the logs while the process runs; remove them once it has ended
        if self.tmpdir and self.proc is not None and self.proc.poll() is not None:
            self._last_stderr = self.stderr_text()
            self.tmpdir.cleanup()
            self.tmpdir = None

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.kill()

    # -- helpers ------------------------------------------------------------
    def status_get(self, path, timeout=3.0):
        return http_get(self.status_port, path, timeout)

    def metrics(self):
        st, body = self.status_get("/metrics")
        if st != 200:
            raise AssertionError("GET /metrics -> %r %r\n%s" % (st, body[:300], self.describe()))
        return Metrics(body.decode("utf-8"))

    def wait_metric(self, name, labels, predicate, timeout=2.0):
        """Polls /metrics until predicate(value) holds (bounded); returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.metrics().get(name, labels)
            if predicate(v) or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def vm(self):
        return proc_status(self.proc.pid)


def run_proxy_once(args, config=None, env=None, timeout=5.0):
    """Runs the binary expecting it to exit by itself (usage/config errors, --help).
    Returns (rc, stdout, stderr); rc None if it was still running after timeout (killed)."""
    b = require_proxy_bin()
    tmp = tempfile.TemporaryDirectory(prefix="bulwark-it-")
    argv = [b]
    if config is not None:
        path = os.path.join(tmp.name, "cfg.json")
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
        argv += ["--config", path]
    argv += list(args)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=clean_env(env))
    _live.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        rc = None
    _live.discard(p)
    tmp.cleanup()
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
