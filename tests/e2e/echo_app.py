#!/usr/bin/env python3
"""The "application" of the e2e capture tests (stdlib only).

Listens dual-stack on [::]:PORT (IPv4 clients appear as ::ffff:a.b.c.d) and answers every GET
with JSON: {"peer": <client address as the app sees it>, "port": <the port it listens on>,
"headers": {lower-case name: value}}.
That is how the tests prove a request went through the proxy: the peer is the proxy's source
address 127.0.0.6 and the proxy's X-Forwarded-For / X-Request-Id headers are there.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples"))
from demo_app import client_address, serve  # noqa: E402 (the shared dual-stack server)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server naming)
        peer = client_address(self)
        body = json.dumps({"peer": peer, "path": self.path, "port": self.server.server_address[1],
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    sys.exit(serve("echo", Handler))
