"""Helpers for the hardening / request-smuggling tests (stdlib only).

RecordingUpstream is a lenient raw TCP "app" running in the test process: it records every byte
it receives on every connection (so a test can assert exactly what reached the app), answers
each request it can frame (leniently, as a permissive back-end would: `Transfer_Encoding` and
`Content_Length` are folded into the real names, as CGI does) with a small 200, and can be told
to answer with a custom response (a huge trailer, ...). It answers `101` to an `Upgrade: h2c`
request (an h2c-capable app) and records raw bytes from then on.

parse_requests() is a strict HTTP/1.1 request-stream parser: what a careful server accepts. It
is used to decide whether the bytes that reached the app are a sequence of well-framed requests.
"""

import re
import socket
import threading
import time

from .httpc import RawConn
from .proxyctl import http_get

TCHAR = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
REQUEST_LINE = re.compile(rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP/1\.([01])$")
FIELD_VALUE = re.compile(rb"^[\x20-\x7e\x80-\xff\t]*$")
CHUNK_LINE = re.compile(
    rb'^([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*[!#$%&\'*+\-.^_`|~0-9A-Za-z]+'
    rb'(?:[ \t]*=[ \t]*(?:[!#$%&\'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\\r\n]|\\.)*"))?)*)[ \t]*$')


class Malformed(Exception):
    pass


class Incomplete(Exception):
    pass


class Request:
    def __init__(self, method, target, version, headers, body, trailers, raw):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers      # [(name bytes, value bytes)] in order
        self.body = body
        self.trailers = trailers    # [(name, value)] after the last chunk
        self.raw = raw

    def header_all(self, name):
        name = name.lower().encode() if isinstance(name, str) else name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def header(self, name):
        v = self.header_all(name)
        return v[0] if v else None

    def names(self):
        return [n for n, _ in self.headers]

    def __repr__(self):
        return "<Request %r %r headers=%r body=%d>" % (self.method, self.target, self.headers,
                                                        len(self.body))


def _fields(lines):
    out = []
    for line in lines:
        if b":" not in line:
            raise Malformed("field line without a colon: %r" % line)
        n, v = line.split(b":", 1)
        if not TCHAR.match(n):
            raise Malformed("bad field name %r" % n)
        v = v.strip(b" \t")
        if not FIELD_VALUE.match(v):
            raise Malformed("bad field value %r" % v)
        out.append((n, v))
    return out


def parse_one(data):
    """(Request, bytes used) for the request at the start of data; Incomplete / Malformed."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        first = data.split(b"\r\n", 1)[0]
        if b"\n" in first.replace(b"\r\n", b"") or b"\x00" in data:
            raise Malformed("bare LF / NUL in the head: %r" % data[:200])
        raise Incomplete()
    head = data[:end]
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        raise Malformed("bare CR or LF in the head")
    lines = head.split(b"\r\n")
    m = REQUEST_LINE.match(lines[0])
    if not m:
        raise Malformed("bad request line %r" % lines[0])
    headers = _fields(lines[1:])
    pos = end + 4
    names = [n.lower() for n, _ in headers]
    cl = [v for n, v in headers if n.lower() == b"content-length"]
    te = [v for n, v in headers if n.lower() == b"transfer-encoding"]
    body = b""
    trailers = []
    if cl and te:
        raise Malformed("both Content-Length and Transfer-Encoding")
    if len(cl) > 1 or len(te) > 1:
        raise Malformed("repeated framing header")
    if te:
        if te[0].lower() != b"chunked":
            raise Malformed("Transfer-Encoding %r" % te[0])
        parts = []
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                if len(data) - pos > 4096:
                    raise Malformed("chunk line too long")
                raise Incomplete()
            cm = CHUNK_LINE.match(data[pos:eol])
            if not cm:
                raise Malformed("bad chunk line %r" % data[pos:eol][:200])
            size = int(cm.group(1), 16)
            pos = eol + 2
            if size == 0:
                break
            if len(data) < pos + size + 2:
                raise Incomplete()
            parts.append(data[pos:pos + size])
            if data[pos + size:pos + size + 2] != b"\r\n":
                raise Malformed("no CRLF after chunk data")
            pos += size + 2
        tlines = []
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                raise Incomplete()
            line = data[pos:eol]
            pos = eol + 2
            if line == b"":
                break
            tlines.append(line)
        trailers = _fields(tlines)
        body = b"".join(parts)
    elif cl:
        if not re.match(rb"^[0-9]{1,18}$", cl[0]):
            raise Malformed("bad Content-Length %r" % cl[0])
        n = int(cl[0])
        if len(data) < pos + n:
            raise Incomplete()
        body = data[pos:pos + n]
        pos += n
    del names
    req = Request(m.group(1), m.group(2), "HTTP/1." + m.group(3).decode(), headers, body, trailers,
                  bytes(data[:pos]))
    return req, pos


def parse_requests(data):
    """(requests, leftover): every complete request at the start of data; raises Malformed for
    bytes that cannot be a request (leftover is an incomplete last request)."""
    data = bytes(data)
    out = []
    while data:
        try:
            req, used = parse_one(data)
        except Incomplete:
            return out, data
        out.append(req)
        data = data[used:]
    return out, b""


def _fold(name):
    return name.lower().replace(b"_", b"-")


def lookalike_framing_names(req):
    """Header names that differ from Content-Length / Transfer-Encoding / Host only by '_'."""
    return [n for n, _ in req.headers
            if b"_" in n and _fold(n) in (b"content-length", b"transfer-encoding", b"host")]


# ---------------------------------------------------------------------------
# lenient recording upstream
# ---------------------------------------------------------------------------

class RecConn:
    def __init__(self, sock, conn_id):
        self.sock = sock
        self.id = conn_id
        self.data = bytearray()
        self.opened_at = time.monotonic()
        self.closed_at = None       # set when the proxy closes its side (or we do)
        self.answered = 0
        self.raw_mode = False       # after a 101: no more parsing


def _lenient_frame(buf):
    """Length of the first request in buf as a permissive server frames it, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    first = buf[:buf.find(b"\r\n")]
    if not re.search(rb" HTTP/1\.[01]$", first):
        return -1  # not HTTP/1: never answered
    fields = {}
    for line in buf[:end].split(b"\r\n")[1:]:
        n, _, v = line.partition(b":")
        fields.setdefault(_fold(n.strip()), v.strip())
    pos = end + 4
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(buf[pos:eol].split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return -1
            pos = eol + 2
            if size == 0:
                break
            if len(buf) < pos + size + 2:
                return None
            pos += size + 2
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            line = buf[pos:eol]
            pos = eol + 2
            if not line:
                return pos
    m = re.match(rb"^\s*([0-9]+)", fields.get(b"content-length", b""))
    if m:
        n = int(m.group(1))
        return pos + n if len(buf) >= pos + n else None
    return pos


def default_response(req_bytes, rc):
    body = b"recorded %d" % rc.answered
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Recorder: 1\r\nContent-Length: %d\r\n\r\n"
            % len(body) + body)


def huge_trailer_response(trailer_bytes=70000):
    def fn(req_bytes, rc):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Big\r\n\r\n"
                b"5\r\nhello\r\n0\r\nX-Big: " + b"a" * trailer_bytes + b"\r\n\r\n")
    return fn


class RecordingUpstream:
    """Lenient raw TCP app that records every byte per connection (see the module doc)."""

    def __init__(self, respond=default_response, answer_h2c=True):
        self.respond = respond
        self.answer_h2c = answer_h2c
        self.lock = threading.Lock()
        self.conns = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # -- recording API ------------------------------------------------------
    def reset(self):
        """Forget what was recorded so far (connections stay open)."""
        with self.lock:
            for c in self.conns:
                c.data = bytearray()
                c.answered = 0
            self.conns = [c for c in self.conns if c.closed_at is None]

    def received(self):
        """All bytes received since the last reset, connection by connection."""
        with self.lock:
            return [bytes(c.data) for c in self.conns if c.data]

    def all_bytes(self):
        return b"".join(self.received())

    def requests(self):
        """Strictly parsed requests per connection: [(requests, leftover, error)]."""
        out = []
        for data in self.received():
            try:
                reqs, left = parse_requests(data)
                out.append((reqs, left, None))
            except Malformed as e:
                out.append(([], data, str(e)))
        return out

    def conn_states(self):
        with self.lock:
            return [(bytes(c.data), c.closed_at) for c in self.conns if c.data]

    def stop(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.sock.close()
                except OSError:
                    pass

    # -- server -------------------------------------------------------------
    def _accept(self):
        n = 0
        while not self.stopped:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            rc = RecConn(s, n)
            with self.lock:
                self.conns.append(rc)
            threading.Thread(target=self._serve, args=(rc,), daemon=True).start()

    def _serve(self, rc):
        pending = bytearray()
        try:
            while True:
                data = rc.sock.recv(65536)
                if not data:
                    break
                with self.lock:
                    rc.data += data
                if rc.raw_mode:
                    continue
                pending += data
                while pending:
                    n = _lenient_frame(bytes(pending))
                    if n is None or n < 0:
                        break
                    req = bytes(pending[:n])
                    del pending[:n]
                    head = req.split(b"\r\n\r\n", 1)[0].lower()
                    if self.answer_h2c and re.search(rb"\r\nupgrade:[^\r]*h2c", head):
                        rc.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                        b"Upgrade: h2c\r\n\r\n")
                        rc.raw_mode = True
                        break
                    resp = self.respond(req, rc)
                    rc.answered += 1
                    rc.sock.sendall(resp)
        except OSError:
            pass
        finally:
            with self.lock:
                rc.closed_at = time.monotonic()
            try:
                rc.sock.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# client-side helpers
# ---------------------------------------------------------------------------

def bad_requests_total(metrics):
    """Sum of bulwark_bad_requests_total over every reason."""
    return metrics.get("bulwark_bad_requests_total")


def bad_requests_by_reason(metrics):
    return {ls.get("reason", ""): v for ls, v in metrics.series("bulwark_bad_requests_total")}


def exchange(port, raw, timeout=3.0):
    """Sends raw on a fresh connection and reads until the proxy closes or timeout.
    Returns (conn, bytes received, closed)."""
    c = RawConn(port, timeout=timeout)
    try:
        c.send(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, closed = c.read_until_close(timeout)
    return c, got, closed


def first_status(got):
    """Status code of the first response in got (None if none)."""
    m = re.match(rb"^HTTP/1\.[01] ([0-9]{3})", got)
    return int(m.group(1)) if m else None


def proxy_serves(px, host="alive.test"):
    """(ok, detail): a fresh GET through the proxy gets a complete response from the app."""
    try:
        with RawConn(px.port, timeout=3) as c:
            r = c.request("GET", "/", headers=[("Connection", "close")], host=host, timeout=3)
            return r.status == 200, "status %d" % r.status
    except Exception as e:  # noqa: BLE001 - any failure means not serving
        time.sleep(0.3)  # an aborting process may still be writing its core / exiting
        alive = px.proc.poll() is None
        return False, "%s: %s (process %s)" % (type(e).__name__, e,
                                               "running" if alive else "exited %s" % px.proc.returncode)


def healthz(px):
    return http_get(px.status_port, "/healthz", timeout=2)[0]
