#!/usr/bin/env python3
"""Helpers for bench/proxy-bench.sh (Python standard library only).

Subcommands:
  free-ports N                  print N distinct free TCP ports on 127.0.0.1
  wait-port PORT TIMEOUT_S      wait until 127.0.0.1:PORT accepts a TCP connection
  http-get URL [TIMEOUT_S]      print the body of a GET (exit 1 on error or non-2xx)
  http-status URL [TIMEOUT_S]   print the status of a GET (exit 1 only when there is no answer)
  wait-http URL TIMEOUT_S       wait until URL answers 2xx
  parse-wrk FILE                print "rps p50_ms p99_ms non2xx socket_errors requests"
  rss PID...                    print the summed VmRSS in bytes of PID(s) and all their descendants
  cpu PID...                    print the summed user+system CPU seconds of PID(s) and descendants
  cpu-snapshot PID... -- PID...  print "cpu(first PIDs) cpu(second PIDs) sys-busy" (see cpu, sys-busy)
  sys-busy                      print the machine's process CPU seconds so far (user+nice+system+steal, all CPUs)
  run-timed CPUFILE CMD...      run CMD, write its user+system CPU seconds to CPUFILE, exit with its status
  fds PID...                    print the summed open fd count of PID(s) and descendants
  descendants PID               print PID and all its descendants, one per line
  idle-conns ...                open N idle TCP connections, hold them, close them (see --help);
                                with --request PATH each sends one keep-alive GET first
  trickle ...                   hold N connections that each send one byte of a request head
                                every few seconds (reopened when the server closes them)
  metrics-summary TEXT_FILE     print a few interesting bulwark_* metrics
  report ...                    print the results table / write JSON (reads a key=value file)
"""
import os
import resource
import socket
import struct
import sys
import time

# argparse, json, re and urllib are imported where they are used: the script is started ~10 times
# around every wrk run and these imports are most of its start-up time.

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- ports / http
def free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            p = s.getsockname()[1]
            socks.append(s)
            if p not in ports:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(url, timeout=2.0):
    import urllib.request
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def http_status(url, timeout=2.0):
    """The status of a GET of URL (an HTTP error status is a result, not an exception)."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers={"User-Agent": "proxy-bench/1", "Accept": "*/*"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def wait_http(url, timeout):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            st, _ = http_get(url, 1.0)
            if 200 <= st < 300:
                return True, ""
            last = "status %d" % st
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = str(e)
        time.sleep(0.1)
    return False, last


# --------------------------------------------------------------------------- wrk output
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _to_ms(v):
    import re
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", v.strip())
    if not m:
        raise ValueError("bad latency value %r" % v)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text):
    import re
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "non2xx": 0, "socket_errors": 0,
           "requests": None}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"^\s*50(?:\.0+)?%\s+(\S+)", text, re.M)
    if m:
        out["p50_ms"] = _to_ms(m.group(1))
    m = re.search(r"^\s*99(?:\.0+)?%\s+(\S+)", text, re.M)
    if m:
        out["p99_ms"] = _to_ms(m.group(1))
    m = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", text, re.M)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"^\s*(\d+) requests in ", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    return out


# --------------------------------------------------------------------------- /proc
def _ppid_map():
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # comm may contain spaces/parens: the ppid is the 2nd field after the last ')'
        rest = st[st.rfind(")") + 2:].split()
        if len(rest) >= 2:
            children.setdefault(int(rest[1]), []).append(int(d))
    return children


def descendants(pids):
    children = _ppid_map()
    seen, todo = [], list(pids)
    while todo and len(seen) < 10000:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children.get(p, []))
    return seen


def rss_bytes(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return 0.0
    rest = st[st.rfind(")") + 2:].split()
    # fields after ')' start at field 3 (state); utime = field 14, stime = field 15
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def sys_busy_seconds():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice].
    # irq/softirq are left out: loopback packet processing for the benchmark's own traffic is
    # accounted there and charged to no process.
    busy = vals[0] + vals[1] + vals[2] + vals[7]
    return busy / os.sysconf("SC_CLK_TCK")


def run_timed(cpufile, cmd):
    import subprocess
    try:
        proc = subprocess.Popen(cmd)
    except OSError as e:
        print("run-timed: %s: %s" % (cmd[0], e), file=sys.stderr)
        return 127
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(cpufile, "w") as f:
        f.write("%.2f\n" % (ru.ru_utime + ru.ru_stime))
    rc = proc.returncode
    return rc if rc >= 0 else 128 - rc


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


# --------------------------------------------------------------------------- idle connections
def _raise_nofile(count, who):
    """Raises RLIMIT_NOFILE for `count` sockets; returns how many fit."""
    want = count + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n = min(count, soft - 64)
    if n < count:
        print("%s: RLIMIT_NOFILE only allows %d connections (asked %d)" % (who, n, count),
              file=sys.stderr)
    return n


def _one_request(s, path):
    """Sends a keep-alive GET on `s` and reads its answer (Content-Length framed); True if 2xx."""
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head[9:10] == b"2"


def idle_conns(args):
    """Open up to --count TCP connections to HOST:--port; with --request, each sends one
    keep-alive request first (and stays open, idle, after the answer)."""
    count = _raise_nofile(args.count, "idle-conns")

    deadline = time.monotonic() + args.connect_timeout
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up on the client
    socks, failures = [], 0
    for _ in range(count):
        if time.monotonic() > deadline:
            print("idle-conns: connect phase deadline reached", file=sys.stderr)
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
        try:
            s.connect((HOST, args.port))
            if args.request and not _one_request(s, args.request):
                raise OSError("no 2xx answer")
        except OSError:
            failures += 1
            s.close()
            if failures > 100:
                print("idle-conns: too many connect failures", file=sys.stderr)
                break
            continue
        socks.append(s)

    with open(args.ready_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (len(socks), failures))
    os.rename(args.ready_file + ".tmp", args.ready_file)

    # Hold: until --release-file appears or --hold seconds pass. Count peer closes.
    end = time.monotonic() + args.hold
    while time.monotonic() < end:
        if args.release_file and os.path.exists(args.release_file):
            break
        time.sleep(0.05)
    closed_by_peer = 0
    for s in socks:
        try:
            s.setblocking(False)
            if s.recv(1) == b"":
                closed_by_peer += 1
        except BlockingIOError:
            pass
        except OSError:
            closed_by_peer += 1
        s.close()
    print("idle-conns: opened %d, connect failures %d, closed by peer while held %d"
          % (len(socks), failures, closed_by_peer), file=sys.stderr)
    return 0


def trickle(args):
    """Holds --count connections, each sending the next byte of a never-ending request head
    every --interval seconds (staggered); a connection the server closes (header timeout) is
    opened again. Writes "<open> <connect failures>" to --ready-file once all were opened, then
    runs until --release-file appears or --hold seconds pass. Prints totals to stderr."""
    import heapq
    import itertools
    import selectors
    count = _raise_nofile(args.count, "trickle")
    head = b"GET /trickle HTTP/1.1\r\nHost: bench\r\nX-Trickle: " + b"t" * 100000
    linger = struct.pack("ii", 1, 0)
    sel = selectors.DefaultSelector()
    conns = {}      # id -> [socket, bytes sent]
    due = []        # heap of (next send time, id)
    ids = itertools.count()
    stats = {"opened": 0, "reopened": 0, "failures": 0, "sent": 0}

    def open_one(now, first):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.settimeout(5.0)
        try:
            s.connect((HOST, args.port))
        except OSError:
            s.close()
            stats["failures"] += 1
            return False
        s.setblocking(False)
        cid = next(ids)
        conns[cid] = [s, 0]
        sel.register(s, selectors.EVENT_READ, cid)
        # staggered: the connections' sends spread over one interval
        heapq.heappush(due, (now + args.interval * (cid % 997) / 997.0, cid))
        stats["opened" if first else "reopened"] += 1
        return True

    def drop(cid):
        s = conns.pop(cid)[0]
        sel.unregister(s)
        s.close()

    deadline = time.monotonic() + args.connect_timeout
    while len(conns) < count and time.monotonic() < deadline and stats["failures"] <= 100:
        open_one(time.monotonic(), True)
    with open(args.ready_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (len(conns), stats["failures"]))
    os.rename(args.ready_file + ".tmp", args.ready_file)

    end = time.monotonic() + args.hold
    while time.monotonic() < end:
        if args.release_file and os.path.exists(args.release_file):
            break
        for key, _ in sel.select(timeout=0.05):  # the server answered (408) or closed
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data and key.data in conns:
                drop(key.data)
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, cid = heapq.heappop(due)
            c = conns.get(cid)
            if c is None:
                continue
            try:
                c[0].send(head[c[1]:c[1] + 1])
                c[1] += 1
                stats["sent"] += 1
                heapq.heappush(due, (now + args.interval, cid))
            except OSError:
                drop(cid)
        while len(conns) < count and time.monotonic() < end and stats["failures"] <= 100:
            if not open_one(time.monotonic(), False):
                break
    held = len(conns)
    for cid in list(conns):
        drop(cid)
    print("trickle: %d connections, %d reopened after the server closed them, %d bytes sent, "
          "%d connect failures, open at the end %d"
          % (stats["opened"], stats["reopened"], stats["sent"], stats["failures"], held),
          file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- report
def _load_kv(path):
    kv = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
    return kv


def _num(v):
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


TARGETS = ["app", "nginx", "modsec", "bulwark", "bulwark_block"]
NAMES = {"app": "app-direct", "nginx": "nginx-proxy", "modsec": "nginx-modsec",
         "bulwark": "bulwark-off", "bulwark_block": "bulwark-block"}
# workload name -> suffix of the result keys ("<target><suffix>.rps", ...)
WORKLOADS = [("get", ""), ("mixed", "-mixed"), ("trickle", "-trickle")]
# (numerator, denominator, goal): rps ratios printed (never asserted) for each workload
RATIOS = [("bulwark", "nginx", 1.0), ("bulwark_block", "bulwark", 0.9),
          ("bulwark_block", "modsec", 50.0)]


def _target_doc(d):
    return {
        "rps": d.get("rps"), "p50_ms": d.get("p50_ms"), "p99_ms": d.get("p99_ms"),
        "non2xx": d.get("non2xx"), "socket_errors": d.get("socket_errors"),
        "requests": d.get("requests"),
        "cpu_seconds": d.get("cpu_s"),
        "wrk_cpu_seconds": d.get("wrk_cpu_s"),
        "other_load_cpu_pct": d.get("foreign_cpu_pct"),
        "cpu_us_per_request": (d["cpu_s"] * 1e6 / d["requests"])
        if d.get("cpu_s") is not None and d.get("requests") else None,
    }


def report(args):
    import json
    kv = {k: _num(v) for k, v in _load_kv(args.results).items()}

    def fmt(v, f):
        return "-" if v is None else f % v

    def sub(key):  # "<key>.<metric>" -> {metric: value}
        return {k[len(key) + 1:]: v for k, v in kv.items() if k.startswith(key + ".")}

    lines = []
    lines.append("%-8s %-14s %12s %10s %10s %8s %12s %8s" % (
        "workload", "target", "rps", "p50(ms)", "p99(ms)", "errors", "cpu/req(us)", "other%"))
    for wl, suffix in WORKLOADS:
        for t in TARGETS:
            d = sub(t + suffix)
            if d.get("rps") is None:
                continue
            err = (d.get("non2xx") or 0) + (d.get("socket_errors") or 0)
            cpu_req = _target_doc(d)["cpu_us_per_request"]
            lines.append("%-8s %-14s %12s %10s %10s %8d %12s %8s" % (
                wl, NAMES[t], fmt(d.get("rps"), "%.0f"), fmt(d.get("p50_ms"), "%.3f"),
                fmt(d.get("p99_ms"), "%.3f"), err, fmt(cpu_req, "%.1f"),
                fmt(d.get("foreign_cpu_pct"), "%.1f")))
    lines.append("(get: GET %s;%s cpu/req: CPU time of the target's own"
                 " processes per request, the app's excluded for the proxies; other%%: CPU share"
                 " taken by processes outside the benchmark during the run, numbers are unreliable"
                 " above ~5%%)" % (kv.get("config.path", "?"),
                                   " mixed: bench/mixed.lua;" if kv.get("config.mixed") else ""))

    ratios = {}
    ratio_lines = []
    for num, den, goal in RATIOS:
        vals = {}
        for wl, suffix in WORKLOADS:
            a, b = kv.get(num + suffix + ".rps"), kv.get(den + suffix + ".rps")
            if a and b:
                vals[wl] = a / b
        if not vals:
            continue
        ratios["%s_over_%s" % (NAMES[num], NAMES[den])] = dict(vals, goal=goal)
        ratio_lines.append("rps ratio %-28s %s (goal >= %g, not asserted)" % (
            "%s/%s:" % (NAMES[num], NAMES[den]),
            ", ".join("%s %s%s" % (wl, "%.3f" % v if v < 10 else "%.1f" % v,
                                   "" if v >= goal else " (below goal)")
                      for wl, v in vals.items()), goal))

    # The WAF comparison by CPU cost as well: less sensitive to other load on the machine than rps.
    vals = {}
    for wl, suffix in WORKLOADS:
        a = _target_doc(sub("modsec" + suffix))["cpu_us_per_request"]
        b = _target_doc(sub("bulwark_block" + suffix))["cpu_us_per_request"]
        if a and b:
            vals[wl] = a / b
    if vals:
        ratios["cpu_per_request_nginx-modsec_over_bulwark-block"] = vals
        ratio_lines.append("cpu/req ratio %-24s %s (informational: the same comparison by CPU cost)" % (
            "nginx-modsec/bulwark-block:", ", ".join("%s %.1f" % kv_ for kv_ in vals.items())))
    if ratio_lines:
        lines.append("")
        lines.extend(ratio_lines)

    # Memory per idle connection: keep-alive ones (one request each, then waiting) and fresh
    # ones (never sent a byte).
    mem_lines, mem = [], {}
    for kind, sfx in (("keep-alive", ".ka"), ("fresh", "")):
        for t in ("nginx", "bulwark"):
            idle, loaded = kv.get(t + sfx + ".rss_idle"), kv.get(t + sfx + ".rss_conns")
            n = kv.get(t + sfx + ".conns_held")
            per = None
            if idle is not None and loaded is not None and n:
                per = (loaded - idle) / n
            mem[(t, kind)] = per
            if idle is None and loaded is None:
                continue
            mem_lines.append("%-10s %-14s %14s %16s %12s %12s" % (
                kind, NAMES[t], fmt(idle and idle / 1024, "%.0f"),
                fmt(loaded and loaded / 1024, "%.0f"), fmt(n, "%d"), fmt(per, "%.0f")))
    if mem_lines:
        lines.append("")
        lines.append("%-10s %-14s %14s %16s %12s %12s" % (
            "idle conn", "target", "RSS before(KiB)", "RSS +conns(KiB)", "conns held",
            "bytes/conn"))
        lines.extend(mem_lines)
        lines.append("(bytes/conn: RSS growth / connections held; goal for bulwark <= 1024,"
                     " not asserted)")

    # Trickle: the GET rate while slow heads trickle in, against the plain run.
    trickle = {}
    for t in ("nginx", "bulwark"):
        a, b = kv.get(t + ".rps"), kv.get(t + "-trickle.rps")
        if a and b:
            trickle[NAMES[t]] = {"rps": a, "rps_trickle": b, "drop_pct": 100.0 * (a - b) / a,
                                 "conns_held": kv.get(t + "-trickle.conns_held"),
                                 "rss_bytes": kv.get(t + "-trickle.rss")}
    if trickle:
        lines.append("")
        lines.append("trickle: %s connections, one head byte every %s s each, during the GET load"
                     % (kv.get("config.trickle_conns"), kv.get("config.trickle_interval_s")))
        for name, d in trickle.items():
            lines.append("  %-14s rps %.0f -> %.0f: drop %.1f %% (goal <= 10 %%, not asserted);"
                         " %s held, RSS %s KiB" % (
                             name, d["rps"], d["rps_trickle"], d["drop_pct"],
                             fmt(d["conns_held"], "%d"),
                             fmt(d["rss_bytes"] and d["rss_bytes"] / 1024, "%.0f")))
    after = [(t, kv.get(t + ".rss_after_load")) for t in TARGETS]
    after = [(t, a) for t, a in after if a is not None]
    if after:
        lines.append("")
    for t, a in after:
        lines.append("%-14s RSS after the load tests: %.0f KiB" % (NAMES[t], a / 1024))
    print("\n".join(lines))

    if args.json:
        r = ratios.get("bulwark-off_over_nginx-proxy", {}).get("get")
        doc = {
            "config": {k.split(".", 1)[1]: v for k, v in kv.items() if k.startswith("config.")},
            "rps_ratio_bulwark_over_nginx": r,
            "targets": {},
            "ratios": ratios,
            "memory": {},
            "trickle": trickle,
            "bulwark_sigterm_exit": kv.get("bulwark.sigterm_exit"),
            "bulwark_block_sigterm_exit": kv.get("bulwark_block.sigterm_exit"),
        }
        for wl, suffix in WORKLOADS:
            section = "targets" if not suffix else "targets_" + wl
            for t in TARGETS:
                d = sub(t + suffix)
                if d.get("rps") is not None:
                    doc.setdefault(section, {})[NAMES[t]] = _target_doc(d)
        for t in TARGETS:
            d = sub(t)
            for kind, sfx in (("keep-alive", "ka."), ("fresh", "")):
                if (t, kind) in mem and (d.get(sfx + "rss_idle") is not None or
                                         d.get(sfx + "rss_conns") is not None):
                    doc["memory"].setdefault(NAMES[t], {})[kind] = {
                        "rss_before_bytes": d.get(sfx + "rss_idle"),
                        "rss_with_conns_bytes": d.get(sfx + "rss_conns"),
                        "conns_requested": kv.get("config.idle_conns"),
                        "conns_held": d.get(sfx + "conns_held"),
                        "bytes_per_conn": mem[(t, kind)],
                    }
            if d.get("rss_after_load") is not None:
                doc["memory"].setdefault(NAMES[t], {})["rss_after_load_bytes"] = d.get("rss_after_load")
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


def metrics_summary(path):
    want = ("bulwark_requests_total", "bulwark_upstream_errors_total",
            "bulwark_upstream_reused_total", "bulwark_connections_total",
            "bulwark_connections_active", "bulwark_bad_requests_total", "bulwark_timeouts_total",
            "bulwark_inspected_total", "bulwark_attacks_total", "bulwark_inspection_limit_total",
            "bulwark_denied_total")
    with open(path) as f:
        for line in f:
            if not line.startswith(want):
                continue
            parts = line.split()
            # zero-valued series are noise; keep the gauge even when 0
            if len(parts) == 2 and parts[1] in ("0", "0.0") and \
                    not parts[0].startswith("bulwark_connections_active"):
                continue
            print("  " + line.rstrip())
    return 0


# --------------------------------------------------------------------------- main
def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[1], argv[2:]
    if cmd == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(rest[0]))))
        return 0
    if cmd == "wait-port":
        return 0 if wait_port(int(rest[0]), float(rest[1])) else 1
    if cmd == "http-get":
        try:
            st, body = http_get(rest[0], float(rest[1]) if len(rest) > 1 else 2.0)
        except Exception as e:  # noqa: BLE001
            print("http-get %s: %s" % (rest[0], e), file=sys.stderr)
            return 1
        sys.stdout.write(body)
        return 0 if 200 <= st < 300 else 1
    if cmd == "http-status":
        try:
            print(http_status(rest[0], float(rest[1]) if len(rest) > 1 else 2.0))
        except Exception as e:  # noqa: BLE001
            print("http-status %s: %s" % (rest[0], e), file=sys.stderr)
            return 1
        return 0
    if cmd == "wait-http":
        ok, why = wait_http(rest[0], float(rest[1]))
        if not ok:
            print("wait-http %s: %s" % (rest[0], why), file=sys.stderr)
        return 0 if ok else 1
    if cmd == "parse-wrk":
        with open(rest[0]) as f:
            r = parse_wrk(f.read())
        if r["rps"] is None or r["p50_ms"] is None or r["p99_ms"] is None:
            print("parse-wrk: could not parse %s" % rest[0], file=sys.stderr)
            return 1
        print("%.2f %.4f %.4f %d %d %s" % (r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"],
                                           r["socket_errors"], r["requests"]))
        return 0
    if cmd in ("rss", "fds", "descendants", "cpu"):
        pids = descendants([int(p) for p in rest])
        if cmd == "descendants":
            print("\n".join(str(p) for p in pids))
        elif cmd == "cpu":
            print("%.2f" % sum(cpu_seconds(p) for p in pids))
        elif cmd == "rss":
            print(sum(rss_bytes(p) for p in pids))
        else:
            print(sum(fd_count(p) for p in pids))
        return 0
    if cmd == "cpu-snapshot":  # one call instead of three around every wrk run
        sep = rest.index("--")
        print("%.2f %.2f %.2f" % (
            sum(cpu_seconds(p) for p in descendants([int(p) for p in rest[:sep]])),
            sum(cpu_seconds(p) for p in descendants([int(p) for p in rest[sep + 1:]])),
            sys_busy_seconds()))
        return 0
    if cmd == "sys-busy":
        print("%.2f" % sys_busy_seconds())
        return 0
    if cmd == "run-timed":
        return run_timed(rest[0], rest[1:])
    if cmd == "idle-conns":
        import argparse
        ap = argparse.ArgumentParser(prog="bench_helper.py idle-conns")
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--count", type=int, default=10000)
        ap.add_argument("--hold", type=float, default=30.0,
                        help="maximum seconds to hold the connections")
        ap.add_argument("--connect-timeout", type=float, default=30.0,
                        help="deadline for the whole connect phase")
        ap.add_argument("--ready-file", required=True)
        ap.add_argument("--release-file", default="")
        ap.add_argument("--request", default="",
                        help="send one keep-alive GET of this path on each connection first")
        return idle_conns(ap.parse_args(rest))
    if cmd == "trickle":
        import argparse
        ap = argparse.ArgumentParser(prog="bench_helper.py trickle")
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--count", type=int, default=10000)
        ap.add_argument("--interval", type=float, default=3.0,
                        help="seconds between two bytes on one connection")
        ap.add_argument("--hold", type=float, default=120.0)
        ap.add_argument("--connect-timeout", type=float, default=60.0)
        ap.add_argument("--ready-file", required=True)
        ap.add_argument("--release-file", default="")
        return trickle(ap.parse_args(rest))
    if cmd == "metrics-summary":
        return metrics_summary(rest[0])
    if cmd == "report":
        import argparse
        ap = argparse.ArgumentParser(prog="bench_helper.py report")
        ap.add_argument("--results", required=True)
        ap.add_argument("--json", default="")
        return report(ap.parse_args(rest))
    print("unknown subcommand %r" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
