#!/usr/bin/env python3
"""Client side of the pod scenario tests (tests/e2e/test_pod_scenarios.py), run inside the client
network namespace. Standard library only; every loop is bounded in time and stops by itself.

  load_client.py requests --targets H:P[,H:P] --seconds S [--threads N] [--keepalive-threads K]
                          [--interval MS] [--attack-every N] [--start-at T] [--max-requests N]
      N threads that each open a new connection per request (`Connection: close`), K threads
      that keep one connection open and reuse it until the server answers `Connection: close`;
      targets alternate per request (IPv4 and IPv6). Every --attack-every-th request is an
      attack (`/etc/passwd`). From --start-at (CLOCK_MONOTONIC, shared by every process of the
      machine; or a line on stdin with --start-from-stdin) for S seconds. Prints one JSON
      object: a list of requests, each [start, end, kind, target, outcome, status, proxied]
      with outcome "ok" (a complete HTTP
      response) or what happened instead: refused, reset, closed (no response), timeout, or an
      errno name; proxied: the response carries the proxy's X-Request-Id.

  load_client.py idle --target H:P --count N [--lifetime S]
      Opens N connections, sends one keep-alive request on each and reads its response, then
      holds them idle. Prints `ready {json}`; then on stdin `check` prints how many are still
      open, `close` closes them and exits (and so does the end of --lifetime or of stdin).

  load_client.py upload --target H:P --bytes N [--path P] [--timeout S]
      POSTs N bytes of pseudo-random data (seeded: the same bytes each run; Content-Length,
      application/octet-stream), hashing what it sends (SHA-256); prints {sent, sha256,
      status, response (the app's JSON), outcome, seconds}.
"""

import argparse
import errno
import hashlib
import json
import random
import resource
import select
import socket
import sys
import threading
import time

CLEAN = ["/api/items?id=%d", "/api/items?q=blue+shoes&page=%d", "/?page=%d"]
ATTACK = "/etc/passwd"


def split_target(t):
    host, _, port = t.rpartition(":")
    return host.strip("[]"), int(port)


def connect(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def read_response(s, buf=b""):
    """(status, headers dict, body, rest) of one HTTP/1.1 response; ConnectionError("closed")
    when the peer closes before a complete response."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def outcome_of(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionError) and str(exc) == "closed":
        return "closed"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


def cmd_requests(a):
    targets = [split_target(t) for t in a.targets.split(",")]
    results, lock = [], threading.Lock()
    seq = iter(range(10 ** 9))
    if a.start_from_stdin:
        # the caller names the start later (one line: a CLOCK_MONOTONIC time); at most 60 s
        r, _, _ = select.select([sys.stdin], [], [], 60)
        line = sys.stdin.readline() if r else ""
        if not line.strip():
            json.dump({"start": None, "requests": []}, sys.stdout)
            return 0
        a.start_at = float(line)
    start = a.start_at if a.start_at else time.monotonic()
    while time.monotonic() < start:
        time.sleep(min(0.01, start - time.monotonic()))
    stop_at = start + a.seconds

    def request_line(n):
        attack = a.attack_every and n % a.attack_every == a.attack_every - 1
        path = ATTACK if attack else CLEAN[n % len(CLEAN)] % n
        return ("attack" if attack else "clean"), path

    def record(row):
        with lock:
            results.append(row)

    def fresh(tid):
        while time.monotonic() < stop_at:
            n = next(seq)
            if n >= a.max_requests:
                return
            kind, path = request_line(n)
            host, port = targets[n % len(targets)]
            t0 = time.monotonic()
            status, proxied, out = 0, False, "ok"
            s = None
            try:
                s = connect(host, port, a.timeout)
                s.sendall(("GET %s HTTP/1.1\r\nHost: shop\r\nUser-Agent: load/%d\r\n"
                           "Connection: close\r\n\r\n" % (path, tid)).encode())
                status, headers, _, _ = read_response(s)
                proxied = "x-request-id" in headers
            except (OSError, ValueError, IndexError) as e:
                out = outcome_of(e)
            finally:
                if s is not None:
                    s.close()
            record([t0, time.monotonic(), kind, "%s:%d" % (host, port), out, status, proxied])
            if a.interval:
                time.sleep(a.interval / 1000.0)

    def keepalive(tid):
        s, buf = None, b""
        while time.monotonic() < stop_at:
            n = next(seq)
            if n >= a.max_requests:
                break
            kind, path = request_line(n)
            host, port = targets[tid % len(targets)]
            t0 = time.monotonic()
            status, proxied, out = 0, False, "ok"
            try:
                if s is None:
                    s, buf = connect(host, port, a.timeout), b""
                s.sendall(("GET %s HTTP/1.1\r\nHost: shop\r\nUser-Agent: load-ka/%d\r\n\r\n"
                           % (path, tid)).encode())
                status, headers, _, buf = read_response(s, buf)
                proxied = "x-request-id" in headers
                if headers.get("connection", "").lower() == "close":
                    s.close()
                    s = None
            except (OSError, ValueError, IndexError) as e:
                out = outcome_of(e)
                if s is not None:
                    s.close()
                s = None
            record([t0, time.monotonic(), kind, "%s:%d" % (host, port), out, status, proxied])
            if a.interval:
                time.sleep(a.interval / 1000.0)
        if s is not None:
            s.close()

    threads = [threading.Thread(target=fresh, args=(i,)) for i in range(a.threads)]
    threads += [threading.Thread(target=keepalive, args=(i,)) for i in range(a.keepalive_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.sort()
    json.dump({"start": start, "requests": results}, sys.stdout)
    return 0


def cmd_idle(a):
    host, port = split_target(a.target)
    need = a.count + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    req = b"GET /?idle=1 HTTP/1.1\r\nHost: shop\r\nUser-Agent: idle\r\n\r\n"
    conns, failed = [], 0
    deadline = time.monotonic() + a.lifetime
    t0 = time.monotonic()
    batch = 256
    # in batches: non-blocking connect, send, read one complete response each
    while len(conns) + failed < a.count and time.monotonic() < deadline:
        pending = {}
        for _ in range(min(batch, a.count - len(conns) - failed)):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                continue
            pending[s.fileno()] = [s, b"", False]
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        batch_deadline = time.monotonic() + 10
        while pending and time.monotonic() < batch_deadline:
            for fd, ev in poller.poll(200):
                s, buf, sent = pending[fd]
                if ev & (select.POLLERR | select.POLLHUP) and not ev & select.POLLIN:
                    poller.unregister(fd)
                    del pending[fd]
                    s.close()
                    failed += 1
                    continue
                if not sent:
                    try:
                        s.send(req)
                    except OSError:
                        poller.unregister(fd)
                        del pending[fd]
                        s.close()
                        failed += 1
                        continue
                    pending[fd][2] = True
                    poller.modify(fd, select.POLLIN)
                    continue
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    del pending[fd]
                    s.close()
                    failed += 1
                    continue
                buf += chunk
                pending[fd][1] = buf
                head, sep, body = buf.partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    if len(body) >= length:
                        poller.unregister(fd)
                        del pending[fd]
                        ok = head.split(b" ")[1:2] == [b"200"]
                        if ok:
                            conns.append(s)
                        else:
                            s.close()
                            failed += 1
        for s, _, _ in pending.values():
            s.close()
            failed += 1
    print("ready " + json.dumps({"open": len(conns), "failed": failed,
                                 "seconds": round(time.monotonic() - t0, 3)}), flush=True)

    def still_open():
        poller = select.poll()
        for s in conns:
            poller.register(s.fileno(), select.POLLIN | select.POLLRDHUP)
        closed = {fd for fd, _ in poller.poll(0)}
        return len(conns) - len(closed)

    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        line = sys.stdin.readline()
        if not line or line.strip() == "close":
            break
        if line.strip() == "check":
            print("open " + json.dumps({"open": still_open()}), flush=True)
    for s in conns:
        s.close()
    return 0


def cmd_upload(a):
    host, port = split_target(a.target)
    block = bytearray(random.Random(a.seed).randbytes(1 << 20))
    h = hashlib.sha256()
    t0 = time.monotonic()
    s = connect(host, port, a.timeout)
    s.sendall(("POST %s HTTP/1.1\r\nHost: shop\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: %d\r\nUser-Agent: upload\r\n\r\n" % (a.path, a.bytes)).encode())
    sent, n = 0, 0
    status, response = 0, None
    try:
        while sent < a.bytes:
            # each MiB differs: its number in the first 8 bytes
            block[0:8] = n.to_bytes(8, "little")
            chunk = memoryview(block)[:min(len(block), a.bytes - sent)]
            h.update(chunk)
            s.sendall(chunk)
            sent += len(chunk)
            n += 1
        status, _, body, _ = read_response(s)
        try:
            response = json.loads(body)
        except ValueError:
            response = body[:200].decode("latin-1")
        out = "ok"
    except (OSError, ValueError, IndexError) as e:
        out = outcome_of(e)
        try:  # the server may have answered before it stopped reading (a 403, a 413)
            s.settimeout(1)
            status, _, body, _ = read_response(s)
            response = body[:300].decode("latin-1")
        except (OSError, ValueError, IndexError):
            pass
    finally:
        s.close()
    json.dump({"sent": sent, "sha256": h.hexdigest(), "status": status, "response": response,
               "outcome": out, "seconds": round(time.monotonic() - t0, 3)}, sys.stdout)
    return 0


def main():
    ap = argparse.ArgumentParser(prog="load_client.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("requests")
    r.add_argument("--targets", required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--threads", type=int, default=4)
    r.add_argument("--keepalive-threads", type=int, default=0)
    r.add_argument("--interval", type=float, default=0, help="ms between a thread's requests")
    r.add_argument("--attack-every", type=int, default=0)
    r.add_argument("--start-at", type=float, default=0)
    r.add_argument("--start-from-stdin", action="store_true")
    r.add_argument("--max-requests", type=int, default=200000)
    r.add_argument("--timeout", type=float, default=3.0)
    i = sub.add_parser("idle")
    i.add_argument("--target", required=True)
    i.add_argument("--count", type=int, required=True)
    i.add_argument("--lifetime", type=float, default=120)
    u = sub.add_parser("upload")
    u.add_argument("--target", required=True)
    u.add_argument("--bytes", type=int, required=True)
    u.add_argument("--path", default="/upload")
    u.add_argument("--timeout", type=float, default=30)
    u.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    return {"requests": cmd_requests, "idle": cmd_idle, "upload": cmd_upload}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
