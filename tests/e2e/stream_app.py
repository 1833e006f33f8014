#!/usr/bin/env python3
"""The application of the upload scenario (tests/e2e/test_pod_scenarios.py): an HTTP/1.1 server on
[::]:PORT (IPv4 too) that reads each request body as it arrives, in pieces of at most 1 MiB
(Content-Length or chunked), never holding it whole, and answers with JSON: the byte count, the
body's SHA-256, the peer address and the request's X-Request-Id. GET answers the same with an
empty body. Standard library only; writes nothing to disk (runs on a read-only root).
"""

import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples"))
from demo_app import client_address, serve  # noqa: E402 (the shared dual-stack server)

PIECE = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stream/1.0"

    def _body(self, h):
        n = 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                left = size
                while left:
                    piece = self.rfile.read(min(left, PIECE))
                    if not piece:
                        raise ConnectionError("body cut short")
                    h.update(piece)
                    n += len(piece)
                    left -= len(piece)
                self.rfile.readline()
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return n
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            piece = self.rfile.read(min(left, PIECE))
            if not piece:
                raise ConnectionError("body cut short")
            h.update(piece)
            n += len(piece)
            left -= len(piece)
        return n

    def _answer(self):
        t0 = time.monotonic()
        h = hashlib.sha256()
        n = self._body(h)
        peer = client_address(self)
        body = json.dumps({"bytes": n, "sha256": h.hexdigest(), "peer": peer,
                           "request_id": self.headers.get("X-Request-Id"),
                           "seconds": round(time.monotonic() - t0, 3)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer  # noqa: N815 (http.server naming)

    def log_message(self, fmt, *args):
        sys.stderr.write("stream: %s %s\n" % (self.client_address[0], fmt % args))


if __name__ == "__main__":
    sys.exit(serve("stream", Handler))
