#!/usr/bin/env python3
"""Upstream test application for the Bulwark integration tests (stdlib only).

Run:  python3 tests/testlib/app.py --port 0 [--mode http|echo|blackhole]
With --port 0 the chosen port is printed as the first line of stdout.

Modes
  http       (default) a small HTTP/1.1 server, one thread per connection, keep-alive.
  echo       raw TCP echo server (used as the upstream for non-HTTP passthrough tests).
  blackhole  accepts connections, reads and discards everything, never answers.

HTTP endpoints (any method unless said otherwise; HEAD is answered everywhere with the
headers a GET would get and no body):
  /                        small text body
  /echo                    JSON: method, path, query, version, headers (list of pairs),
                           body_length, body_sha256, remote_addr, remote_port, conn_id,
                           conn_requests.  Reads Content-Length and chunked bodies, streamed.
                           ?read_delay_ms=N sleeps before reading the body.
  /chunked?n=K&size=S      chunked response of K chunks of S bytes of the pattern
                           (&delay_ms=D sleeps between chunks)
  /big?bytes=N             Content-Length response of N pattern bytes, streamed
  /close-delimited?bytes=N response without Content-Length / chunking, closed after body
  /slow?ms=N               answers after N ms
  /status?code=N           answers with status N
  /hop                     response carrying hop-by-hop headers (Connection: X-Resp-Hop, ...)
  /bad-response            writes a broken status line and closes
  /trailer?bytes=N         chunked response "ok" followed by one trailer field X-Big of N bytes
  /reset                   closes the connection without answering (RST)
  /ws                      WebSocket handshake (101) then echo of frames
  /stats                   JSON: total requests (other than /stats) / connections seen
Every response carries X-App-Conn (connection id) and X-App-Conn-Requests.
?close=1 on any endpoint makes the app answer with Connection: close and close its side.

The deterministic body pattern is `pattern(offset, n)`; tests import this module to check it.
"""

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import struct
import threading
import time
from urllib.parse import parse_qs, urlsplit

# ---------------------------------------------------------------------------
# deterministic pattern
# ---------------------------------------------------------------------------

PATTERN_PERIOD = 65521  # prime, so offset errors of "round" sizes are visible
_block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))[:PATTERN_PERIOD]
_BIG = _block * 6
MAX_PIECE = len(_BIG) - PATTERN_PERIOD  # largest slice pattern_piece() can return


def pattern_piece(offset, n):
    """n (<= MAX_PIECE) bytes of the pattern starting at absolute offset."""
    assert n <= MAX_PIECE
    start = offset % PATTERN_PERIOD
    return _BIG[start:start + n]


def pattern_iter(offset, n, piece=256 * 1024):
    """Yield the pattern bytes [offset, offset+n) in pieces."""
    piece = min(piece, MAX_PIECE)
    end = offset + n
    while offset < end:
        k = min(piece, end - offset)
        yield pattern_piece(offset, k)
        offset += k


def pattern(offset, n):
    return b"".join(pattern_iter(offset, n))


def pattern_sha256(n, offset=0):
    h = hashlib.sha256()
    for p in pattern_iter(offset, n):
        h.update(p)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B37"
REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 418: "I'm a teapot", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}
MAX_HEAD = 1024 * 1024

_stats_lock = threading.Lock()
_stats = {"requests": 0, "connections": 0}


class BadRequest(Exception):
    pass


class PeerClosed(Exception):
    pass


class Conn:
    def __init__(self, sock, addr, conn_id):
        self.sock = sock
        self.addr = addr
        self.conn_id = conn_id
        self.rbuf = bytearray()
        self.requests = 0

    # -- reading -----------------------------------------------------------
    def _fill(self):
        data = self.sock.recv(256 * 1024)
        if not data:
            raise PeerClosed()
        self.rbuf += data

    def read_some(self, maxn):
        if self.rbuf:
            n = min(maxn, len(self.rbuf))
            out = bytes(self.rbuf[:n])
            del self.rbuf[:n]
            return out
        data = self.sock.recv(min(maxn, 1024 * 1024))
        if not data:
            raise PeerClosed()
        return data

    def read_exact(self, n):
        parts = []
        while n > 0:
            p = self.read_some(n)
            parts.append(p)
            n -= len(p)
        return b"".join(parts)

    def read_line(self, limit=65536):
        while True:
            i = self.rbuf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.rbuf[:i])
                del self.rbuf[:i + 2]
                return line
            if len(self.rbuf) > limit:
                raise BadRequest("line too long")
            self._fill()

    def read_head(self):
        """Returns the head bytes (without the final CRLFCRLF) or None on clean EOF."""
        start = 0
        while True:
            i = self.rbuf.find(b"\r\n\r\n", max(0, start - 3))
            if i >= 0:
                head = bytes(self.rbuf[:i])
                del self.rbuf[:i + 4]
                return head
            if len(self.rbuf) > MAX_HEAD:
                raise BadRequest("head too large")
            start = len(self.rbuf)
            try:
                self._fill()
            except PeerClosed:
                if not self.rbuf:
                    return None
                raise

    def body_iter(self, headers, version):
        te = [v for n, v in headers if n.lower() == "transfer-encoding"]
        cl = [v for n, v in headers if n.lower() == "content-length"]
        if te:
            if len(te) != 1 or te[0].strip().lower() != "chunked" or cl:
                raise BadRequest("app: unsupported transfer-encoding %r / cl %r" % (te, cl))
            return self._chunked_iter()
        if cl:
            if len(cl) != 1 or not cl[0].strip().isdigit():
                raise BadRequest("app: bad content-length %r" % (cl,))
            return self._length_iter(int(cl[0].strip()))
        return iter(())

    def _length_iter(self, n):
        while n > 0:
            p = self.read_some(min(n, 1024 * 1024))
            n -= len(p)
            yield p

    def _chunked_iter(self):
        while True:
            line = self.read_line()
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise BadRequest("app: bad chunk size %r" % line)
            if size == 0:
                # trailers
                while True:
                    t = self.read_line()
                    if t == b"":
                        return
            left = size
            while left > 0:
                p = self.read_some(min(left, 1024 * 1024))
                left -= len(p)
                yield p
            if self.read_exact(2) != b"\r\n":
                raise BadRequest("app: missing CRLF after chunk")

    # -- writing -----------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def send_response(self, status, headers, body=b"", head_only=False, keep=True, reason=None):
        lines = ["HTTP/1.1 %d %s" % (status, reason or REASONS.get(status, "Status"))]
        names = {n.lower() for n, _ in headers}
        hs = list(headers)
        if status >= 200 and status not in (204, 304) and "content-length" not in names \
                and "transfer-encoding" not in names:
            hs.append(("Content-Length", str(len(body))))
        hs.append(("X-App-Conn", str(self.conn_id)))
        hs.append(("X-App-Conn-Requests", str(self.requests)))
        if not keep:
            hs.append(("Connection", "close"))
        for n, v in hs:
            lines.append("%s: %s" % (n, v))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not head_only and status not in (204, 304):
            data += body
        self.send(data)


def parse_head(head):
    lines = head.split(b"\r\n")
    try:
        method, target, version = lines[0].decode("latin-1").split(" ")
    except ValueError:
        raise BadRequest("app: bad request line %r" % lines[0])
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest("app: bad version %r" % version)
    headers = []
    for raw in lines[1:]:
        if b":" not in raw or raw[:1] in (b" ", b"\t"):
            raise BadRequest("app: bad header line %r" % raw)
        n, v = raw.split(b":", 1)
        name = n.decode("latin-1")
        if not name or any(c in name for c in " \t\r\n"):
            raise BadRequest("app: bad header name %r" % raw)
        value = v.decode("latin-1").strip(" \t")
        if "\r" in value or "\n" in value:
            raise BadRequest("app: bad header value %r" % raw)
        headers.append((name, value))
    return method, target, version, headers


def hget(headers, name):
    name = name.lower()
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def conn_tokens(headers):
    toks = set()
    for n, v in headers:
        if n.lower() == "connection":
            toks.update(t.strip().lower() for t in v.split(","))
    return toks


def qint(q, name, default):
    try:
        return int(q.get(name, [default])[0])
    except (TypeError, ValueError):
        return default


def handle_http(sock, addr, conn_id):
    c = Conn(sock, addr, conn_id)
    try:
        while True:
            head = c.read_head()
            if head is None:
                return
            try:
                method, target, version, headers = parse_head(head)
            except BadRequest as e:
                c.send_response(400, [("Content-Type", "text/plain")],
                                ("app-rejected: %s\n" % e).encode(), keep=False)
                return
            c.requests += 1
            if urlsplit(target).path != "/stats":  # /stats does not count itself
                with _stats_lock:
                    _stats["requests"] += 1
            toks = conn_tokens(headers)
            if version == "HTTP/1.1":
                keep = "close" not in toks
            else:
                keep = "keep-alive" in toks
            keep = dispatch(c, method, target, version, headers, keep)
            if not keep:
                return
    except (PeerClosed, ConnectionError, OSError):
        return
    except BadRequest as e:
        try:
            c.send_response(400, [("Content-Type", "text/plain")],
                            ("app-rejected: %s\n" % e).encode(), keep=False)
        except OSError:
            pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def dispatch(c, method, target, version, headers, keep):
    """Handles one request; returns whether the connection stays open."""
    u = urlsplit(target)
    path = u.path
    q = parse_qs(u.query)
    if q.get("close") == ["1"]:  # ?close=1 on any endpoint: answer with Connection: close and close
        keep = False
    head_only = method == "HEAD"
    ka_hdr = [("Connection", "keep-alive")] if keep and version == "HTTP/1.0" else []

    if path == "/ws":
        return handle_ws(c, method, headers)

    # body: read (and hash) it for every request, so framing is always exercised
    if hget(headers, "expect") and hget(headers, "expect").lower() == "100-continue":
        c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    delay = qint(q, "read_delay_ms", 0)
    if delay:
        time.sleep(delay / 1000.0)
    h = hashlib.sha256()
    blen = 0
    for piece in c.body_iter(headers, version):
        h.update(piece)
        blen += len(piece)

    if path == "/":
        c.send_response(200, [("Content-Type", "text/plain")] + ka_hdr,
                        b"hello from app\n", head_only, keep)
        return keep
    if path == "/echo":
        peer = c.sock.getpeername()
        body = json.dumps({
            "method": method, "path": path, "query": u.query, "target": target,
            "version": version, "headers": [[n, v] for n, v in headers],
            "body_length": blen, "body_sha256": h.hexdigest(),
            "remote_addr": peer[0], "remote_port": peer[1],
            "conn_id": c.conn_id, "conn_requests": c.requests,
        }).encode()
        c.send_response(200, [("Content-Type", "application/json")] + ka_hdr, body, head_only, keep)
        return keep
    if path == "/stats":
        with _stats_lock:
            body = json.dumps(_stats).encode()
        c.send_response(200, [("Content-Type", "application/json")] + ka_hdr, body, head_only, keep)
        return keep
    if path == "/chunked":
        n = qint(q, "n", 3)
        size = qint(q, "size", 1000)
        d = qint(q, "delay_ms", 0)
        hs = [("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")] + ka_hdr
        if version == "HTTP/1.0":
            # an HTTP/1.0 peer cannot get chunked: close-delimit instead
            hs = [("Content-Type", "application/octet-stream")]
            c.send_response(200, hs, b"", True, False)
            if not head_only:
                for i in range(n):
                    if d and i:
                        time.sleep(d / 1000.0)
                    c.send(pattern(i * size, size))
            return False
        c.send_response(200, hs, b"", True, keep)
        if head_only:
            return keep
        off = 0
        for i in range(n):
            if d and i:
                time.sleep(d / 1000.0)
            if size:
                c.send(b"%x\r\n" % size + pattern(off, size) + b"\r\n")
            off += size
        c.send(b"0\r\n\r\n")
        return keep
    if path == "/big":
        n = qint(q, "bytes", 1024)
        c.send_response(200, [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(n))] + ka_hdr, b"", True, keep)
        if head_only:
            return keep
        for p in pattern_iter(0, n):
            c.send(p)
        return keep
    if path == "/close-delimited":
        n = qint(q, "bytes", 5000)
        c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
               b"X-App-Conn: %d\r\nConnection: close\r\n\r\n" % c.conn_id)
        if not head_only:
            for p in pattern_iter(0, n, 4096):
                c.send(p)
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False
    if path == "/slow":
        ms = qint(q, "ms", 1000)
        time.sleep(ms / 1000.0)
        c.send_response(200, [("Content-Type", "text/plain")] + ka_hdr,
                        b"slow done after %d ms\n" % ms, head_only, keep)
        return keep
    if path == "/status":
        code = qint(q, "code", 200)
        body = b"" if code in (204, 304) else b"status %d\n" % code
        c.send_response(code, [("Content-Type", "text/plain")] + ka_hdr, body, head_only, keep)
        return keep
    if path == "/hop":
        c.send_response(200, [("Content-Type", "text/plain"), ("Connection", "X-Resp-Hop"),
                              ("X-Resp-Hop", "secret"), ("Keep-Alive", "timeout=5"),
                              ("X-Normal", "yes")], b"hop\n", head_only, keep)
        return keep
    if path == "/trailer":
        n = qint(q, "bytes", 10)
        c.send_response(200, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked"),
                              ("Trailer", "X-Big")] + ka_hdr, b"", True, keep)
        if not head_only:
            c.send(b"2\r\nok\r\n0\r\nX-Big: " + b"t" * n + b"\r\n\r\n")
        return keep
    if path == "/bad-response":
        c.send(b"HTTP/1.1 abc this is not a status line\r\nContent-Length: zz\r\n\r\n")
        return False
    if path == "/reset":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    c.send_response(404, [("Content-Type", "text/plain")] + ka_hdr, b"not found\n", head_only, keep)
    return keep


# ---------------------------------------------------------------------------
# WebSocket
# ---------------------------------------------------------------------------

def ws_accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_send_frame(c, opcode, payload, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 127, n)
    c.send(hdr + payload)


def ws_read_frame(c):
    b0, b1 = c.read_exact(2)
    fin = bool(b0 & 0x80)
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", c.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", c.read_exact(8))[0]
    key = c.read_exact(4) if masked else None
    payload = c.read_exact(n) if n else b""
    if masked and n:
        payload = ws_unmask(payload, key)
    return fin, opcode, masked, payload


def ws_unmask(payload, key):
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def handle_ws(c, method, headers):
    key = hget(headers, "sec-websocket-key")
    upgrade = (hget(headers, "upgrade") or "").lower()
    if method != "GET" or upgrade != "websocket" or "upgrade" not in conn_tokens(headers) or not key \
            or hget(headers, "sec-websocket-version") != "13":
        c.send_response(400, [("Content-Type", "text/plain")],
                        b"app-rejected: bad websocket handshake\n", keep=False)
        return False
    c.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\nX-App-Conn: %d\r\n\r\n" % (ws_accept_key(key), c.conn_id)).encode())
    while True:
        fin, opcode, masked, payload = ws_read_frame(c)
        if not masked:
            ws_send_frame(c, 0x8, struct.pack("!H", 1002) + b"unmasked client frame")
            return False
        if opcode == 0x8:
            ws_send_frame(c, 0x8, payload)
            return False
        if opcode == 0x9:
            ws_send_frame(c, 0xA, payload)
        elif opcode == 0xA:
            pass
        else:
            ws_send_frame(c, opcode, payload, fin)


# ---------------------------------------------------------------------------
# other modes
# ---------------------------------------------------------------------------

def handle_echo(sock, addr, conn_id):
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()


def handle_blackhole(sock, addr, conn_id):
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


HANDLERS = {"http": handle_http, "echo": handle_echo, "blackhole": handle_blackhole}


def serve(host, port, mode, ready_cb=None):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1024)
    if ready_cb:
        ready_cb(srv.getsockname()[1])
    handler = HANDLERS[mode]
    conn_id = 0
    while True:
        try:
            sock, addr = srv.accept()
        except OSError:
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn_id += 1
        with _stats_lock:
            _stats["connections"] += 1
        t = threading.Thread(target=handler, args=(sock, addr, conn_id), daemon=True)
        t.start()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Bulwark integration-test upstream app")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", choices=sorted(HANDLERS), default="http")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    threading.stack_size(512 * 1024)

    def ready(port):
        print(port, flush=True)

    try:
        serve(args.host, args.port, args.mode, ready)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
