#!/usr/bin/env python3
"""The "application" of the e2e capture tests (stdlib only).

Listens dual-stack on [::]:PORT (IPv4 clients appear as ::ffff:a.b.c.d) and answers every GET
with JSON: {"peer": <client address as the app sees it>, "port": <the port it listens on>,
"headers": {lower-case name: value}}.
That is how the tests prove a request went through the proxy: the peer is the proxy's source
address 127.0.0.6 and the proxy's X-Forwarded-For / X-Request-Id headers are there.
"""

import argparse
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server naming)
        peer = self.client_address[0]
        if peer.startswith("::ffff:"):
            peer = peer[len("::ffff:"):]
        body = json.dumps({"peer": peer, "path": self.path, "port": self.server.server_address[1],
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    srv = DualStackServer(("::", args.port), Handler)
    print("listening", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
