"""Raw-socket HTTP/1.x client helpers for the integration tests (stdlib only).

RawConn keeps every byte sent and received so that assertion messages can show the exact
exchange (`conn.transcript()`).
"""

import json
import socket
import time

DEFAULT_TIMEOUT = 5.0


class ProtocolError(Exception):
    pass


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw_head = raw_head
        self.chunked = False
        self.close_delimited = False

    def header(self, name, default=None):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def conn_tokens(self):
        toks = set()
        for v in self.header_all("connection"):
            toks.update(t.strip().lower() for t in v.split(","))
        return toks

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %s %d %r body=%d bytes>" % (self.version, self.status, self.headers, len(self.body))


def _short(b, limit=1500):
    if len(b) <= limit:
        return repr(bytes(b))
    return repr(bytes(b[:limit // 2])) + " ...(%d bytes)... " % (len(b) - limit) + repr(bytes(b[-limit // 2:]))


class RawConn:
    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.sent = bytearray()
        self.received = bytearray()
        self.eof = False
        self._keep_log = True

    # -- bookkeeping ------------------------------------------------------
    def transcript(self):
        return "\n  sent:     %s\n  received: %s" % (_short(self.sent), _short(self.received))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # the logs keep the first 16 kB and (roughly) the last 16 kB of the exchange
    def _log(self, log, data):
        if not self._keep_log:
            return
        room = 16384 - len(log)
        if room > 0:
            log += data[:room]
            data = data[room:]
            if not data:
                return
        log += data[-16384:]
        if len(log) > 49152:
            del log[16384:len(log) - 16384]

    def _log_sent(self, data):
        self._log(self.sent, data)

    def _log_recv(self, data):
        self._log(self.received, data)

    # -- io -----------------------------------------------------------------
    def send(self, data):
        self._log_sent(data)
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.eof:
            raise EOFError("connection closed by peer")
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        data = self.sock.recv(1024 * 1024)
        if not data:
            self.eof = True
            raise EOFError("connection closed by peer")
        self._log_recv(data)
        self.buf += data

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        return self._take(n)

    def read_line(self, deadline, limit=1024 * 1024):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = self._take(i)
                del self.buf[:2]
                return line
            if len(self.buf) > limit:
                raise ProtocolError("line too long")
            self._fill(deadline)

    def read_some(self, timeout=None):
        """Whatever is buffered or the next recv(); b'' at EOF."""
        if self.buf:
            return self._take(len(self.buf))
        try:
            self._fill(time.monotonic() + (timeout or self.timeout))
        except EOFError:
            return b""
        return self._take(len(self.buf))

    def read_head(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = self._take(i + 4)
                break
            if len(self.buf) > 1024 * 1024:
                raise ProtocolError("response head too large")
            self._fill(deadline)
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ProtocolError("bad status line %r" % lines[0])
        version = parts[0]
        try:
            status = int(parts[1])
        except ValueError:
            raise ProtocolError("bad status line %r" % lines[0])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for raw in lines[1:]:
            if b":" not in raw:
                raise ProtocolError("bad response header line %r" % raw)
            n, v = raw.split(b":", 1)
            headers.append((n.decode("latin-1"), v.decode("latin-1").strip(" \t")))
        return Response(version, status, reason, headers, b"", head)

    def read_response(self, method="GET", timeout=None, allow_1xx=False, body_sink=None):
        """Reads one response. Interim 1xx responses (other than 101) are skipped unless
        allow_1xx.  body_sink(bytes) receives the body instead of buffering it."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        while True:
            resp = self.read_head(timeout=max(0.001, deadline - time.monotonic()))
            if 100 <= resp.status < 200 and resp.status != 101 and not allow_1xx:
                continue
            break
        parts = []
        sink = body_sink or parts.append
        if method == "HEAD" or 100 <= resp.status < 200 or resp.status in (204, 304):
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.header("content-length")
        if te is not None and te.lower().strip() == "chunked":
            resp.chunked = True
            while True:
                line = self.read_line(deadline)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.read_line(deadline) != b"":
                        pass
                    break
                left = size
                while left:
                    if not self.buf:
                        self._fill(deadline)
                    k = min(left, len(self.buf))
                    sink(self._take(k))
                    left -= k
                if self.read_exact(2, timeout=max(0.001, deadline - time.monotonic())) != b"\r\n":
                    raise ProtocolError("missing CRLF after chunk")
        elif cl is not None:
            left = int(cl)
            while left:
                if not self.buf:
                    self._fill(deadline)
                k = min(left, len(self.buf))
                sink(self._take(k))
                left -= k
        else:
            resp.close_delimited = True
            while True:
                if self.buf:
                    sink(self._take(len(self.buf)))
                try:
                    self._fill(deadline)
                except EOFError:
                    break
        if body_sink is None:
            resp.body = b"".join(parts)
        return resp

    def request(self, method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                host="test.local", timeout=None):
        self.send(build_request(method, path, headers, body, version, host))
        return self.read_response(method, timeout=timeout)

    def wait_closed(self, timeout):
        """True when the peer closes (EOF or reset) within timeout; data read meanwhile is
        kept in self.buf."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except EOFError:
                return True
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return True
            except socket.timeout:
                return False

    def read_until_close(self, timeout):
        """(bytes, closed): everything until EOF or timeout."""
        closed = self.wait_closed(timeout)
        return self._take(len(self.buf)), closed


def build_request(method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                  host="test.local"):
    lines = ["%s %s %s" % (method, path, version)]
    hs = list(headers or [])
    names = {n.lower() for n, _ in hs}
    if host is not None and "host" not in names:
        hs.insert(0, ("Host", host))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        hs.append(("Content-Length", str(len(body))))
    for n, v in hs:
        lines.append("%s: %s" % (n, v))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body:
        data += body
    return data


def chunk_encode(pieces, trailers=None, ext=False):
    out = bytearray()
    for i, p in enumerate(pieces):
        if not p:
            continue
        out += b"%x" % len(p)
        if ext and i % 2 == 0:
            out += b";foo=bar"
        out += b"\r\n" + p + b"\r\n"
    out += b"0\r\n"
    for n, v in (trailers or []):
        out += ("%s: %s\r\n" % (n, v)).encode()
    out += b"\r\n"
    return bytes(out)


def simple_get(port, path, timeout=DEFAULT_TIMEOUT, host="127.0.0.1"):
    """One request on a fresh connection: (status, headers, body)."""
    with RawConn(port, host=host, timeout=timeout) as c:
        r = c.request("GET", path, headers=[("Connection", "close")])
        return r.status, r.headers, r.body
