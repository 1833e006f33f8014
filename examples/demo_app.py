#!/usr/bin/env python3
"""Local stand-in for the example application's image (scripts/demo.sh and the pod tests run
this instead of pulling an image): an HTTP/1.1 server on [::]:PORT (IPv4 too) that answers every
GET, HEAD and POST with JSON — the path, the address the connection came from ("peer") and the
request headers — so a caller can see what reached the application and from where. Python
standard library only; writes nothing to disk (runs on a read-only root).
"""

import argparse
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "shop/1.0"

    def _answer(self, send_body=True):
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length > 0 else b""
        body = json.dumps({"app": "shop", "method": self.command, "path": self.path,
                           "peer": client_address(self), "body_bytes": len(body_in),
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server naming)
        self._answer()

    def do_POST(self):  # noqa: N802
        self._answer()

    def do_HEAD(self):  # noqa: N802
        self._answer(send_body=False)

    def log_message(self, fmt, *args):
        sys.stderr.write("shop: %s %s\n" % (self.client_address[0], fmt % args))


class DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def client_address(handler):
    """The peer as the application sees it, IPv4 clients without their ::ffff: prefix."""
    peer = handler.client_address[0]
    return peer[len("::ffff:"):] if peer.startswith("::ffff:") else peer


def serve(name, handler, argv=None, default_port=8080):
    """Parses --port, serves handler on [::]:PORT (IPv4 too) until interrupted."""
    ap = argparse.ArgumentParser(description="%s: a dual-stack HTTP/1.1 test application" % name)
    ap.add_argument("--port", type=int, default=default_port)
    args = ap.parse_args(argv)
    srv = DualStackServer(("::", args.port), handler)
    print("%s: listening on [::]:%d" % (name, args.port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(serve("shop", Handler))
