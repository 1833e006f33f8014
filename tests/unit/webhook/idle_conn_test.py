#!/usr/bin/env python3
"""bulwark-webhook under idle TCP connections that never start TLS.

Starts the real binary over TLS (self-signed openssl certificate) with a 2 s handshake timeout
and a 1,024-connection cap, then, for three rounds: opens 2,000 TCP connections that send
nothing, sends a real AdmissionReview over TLS while they are open (it must be injected: the
cap closes an idle connection to make room), measures the webhook's RSS, and checks every idle
connection is closed by the server within the handshake timeout (+ slack). RSS while 2,000
connections are held must stay bounded (the issue this guards: ~55 KB per idle connection, 8 ->
118 MB for 2,000), and must not grow from round to round.

usage: idle_conn_test.py BULWARK_WEBHOOK GOLDEN_DIR
"""
import base64
import json
import os
import resource
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time

CONNS = 2000
TIMEOUT_MS = 2000
CAP = 1024
# Bounds: RSS growth while the connections are open, and between the first and last round.
MAX_GROWTH_KB = 12 * 1024
MAX_DRIFT_KB = 3 * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def skip(msg):
    print("SKIP", msg)
    sys.exit(1 if os.environ.get("CI") == "true" else 77)


def admission_review(golden_dir):
    fixture = json.load(open(os.path.join(golden_dir, "fixtures", "pod-named-ports.json")))
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "idle-conn-test",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "object": fixture,
        },
    }


def post_review(port, body, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            data = json.dumps(body).encode()
            s.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: " + str(len(data)).encode() +
                      b"\r\n\r\n" + data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
    head, _, payload = out.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    return json.loads(payload)["response"]


def main():
    binary, golden_dir = sys.argv[1], sys.argv[2]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < CONNS + 200:
        skip(f"RLIMIT_NOFILE hard limit {hard} < {CONNS + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp()
    crt, key = os.path.join(work, "tls.crt"), os.path.join(work, "tls.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=localhost"], capture_output=True)
    if r.returncode != 0:
        skip("openssl req failed: " + r.stderr.decode()[:200])
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    cfg = os.path.join(work, "config.json")
    json.dump({"listen": f"127.0.0.1:{port}", "tls_cert": crt, "tls_key": key,
               "tls_handshake_timeout_ms": TIMEOUT_MS, "max_connections": CAP,
               "log_level": "warn"}, open(cfg, "w"))
    proc = subprocess.Popen([binary, "--config", cfg])
    print("webhook pid", proc.pid)
    failures = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(TIMEOUT_MS / 1000 + 0.5)  # the probe connection above times out first
        base = rss_kb(proc.pid)
        review = admission_review(golden_dir)
        rounds = []
        for rnd in range(3):
            socks = []
            for _ in range(CONNS):
                s = socket.socket()
                s.setblocking(True)
                try:
                    s.connect(("127.0.0.1", port))
                except OSError as e:
                    print("connect", len(socks), e, "webhook exit", proc.poll())
                    raise
                socks.append(s)
            opened = time.monotonic()
            time.sleep(0.3)
            held = rss_kb(proc.pid)
            resp = post_review(port, review, crt)
            if not resp or not resp.get("allowed") or "patch" not in resp:
                failures.append(f"round {rnd}: AdmissionReview during the idle flood failed: {resp}")
            else:
                patch = json.loads(base64.b64decode(resp["patch"]))
                if not any(op.get("value", {}).get("name") == "bulwark-proxy"
                           for op in patch if isinstance(op.get("value"), dict)):
                    failures.append(f"round {rnd}: the patch does not add bulwark-proxy")
            # Every idle connection must be closed by the server within the timeout + slack.
            open_socks = set(socks)
            deadline = opened + TIMEOUT_MS / 1000 + 3
            poller = select.poll()
            by_fd = {s.fileno(): s for s in socks}
            for s in socks:
                poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
            while open_socks and time.monotonic() < deadline:
                for fd, _ in poller.poll(200):
                    s = by_fd[fd]
                    poller.unregister(fd)
                    try:
                        data = s.recv(1)
                    except OSError:
                        data = b""
                    if not data:
                        open_socks.discard(s)
                    else:
                        failures.append(f"round {rnd}: server sent bytes on an idle connection")
            closed_after = time.monotonic() - opened
            if open_socks:
                failures.append(f"round {rnd}: {len(open_socks)} idle connections still open "
                                f"{closed_after:.1f} s after they were made")
            for s in socks:
                s.close()
            time.sleep(0.5)
            after = rss_kb(proc.pid)
            rounds.append((held, after))
            print(f"round {rnd}: RSS base {base} kB, with {CONNS} idle connections {held} kB "
                  f"(+{held - base} kB, {(held - base) * 1024 // CONNS} B/conn), after close "
                  f"{after} kB; all closed by the server within {closed_after:.1f} s")
            if held - base > MAX_GROWTH_KB:
                failures.append(f"round {rnd}: RSS grew {held - base} kB with {CONNS} idle "
                                f"connections (bound {MAX_GROWTH_KB} kB)")
        if rounds[-1][1] - rounds[0][1] > MAX_DRIFT_KB:
            failures.append(f"RSS after close grew from {rounds[0][1]} to {rounds[-1][1]} kB "
                            "over the rounds")
        metrics = subprocess.run(["curl", "-sk", f"https://127.0.0.1:{port}/metrics"],
                                 capture_output=True, text=True).stdout
        for line in metrics.splitlines():
            if line.startswith(("bulwark_webhook_tls_handshake_timeouts_total",
                                "bulwark_webhook_connections_evicted_total",
                                "bulwark_webhook_connections_rejected_total")):
                print(line)
        if "bulwark_webhook_tls_handshake_timeouts_total 0" in metrics:
            failures.append("no handshake timeout counted")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
