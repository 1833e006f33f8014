"""Minimal WebSocket client (RFC 6455) over a RawConn, for the integration tests."""

import base64
import hashlib
import os
import struct

from .httpc import RawConn, build_request

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B37"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _mask(payload, key):
    n = len(payload)
    if not n:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        return hdr + key + _mask(payload, key)
    return hdr + payload


class WsClient:
    def __init__(self, port, path="/ws", timeout=5.0, extra_headers=None):
        self.conn = RawConn(port, timeout=timeout)
        self.key = base64.b64encode(os.urandom(16)).decode()
        hs = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", self.key), ("Sec-WebSocket-Version", "13")]
        hs += list(extra_headers or [])
        self.conn.send(build_request("GET", path, hs))
        self.handshake = self.conn.read_head()

    def expected_accept(self):
        return accept_key(self.key)

    def send(self, opcode, payload, fin=True, mask=True):
        self.conn.send(encode_frame(opcode, payload, fin, mask))

    def recv(self, timeout=None):
        """(fin, opcode, masked, payload)"""
        c = self.conn
        b0, b1 = c.read_exact(2, timeout)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", c.read_exact(2, timeout))[0]
        elif n == 127:
            n = struct.unpack("!Q", c.read_exact(8, timeout))[0]
        masked = bool(b1 & 0x80)
        key = c.read_exact(4, timeout) if masked else None
        payload = c.read_exact(n, timeout) if n else b""
        if masked:
            payload = _mask(payload, key)
        return bool(b0 & 0x80), b0 & 0x0F, masked, payload

    def close(self):
        self.conn.close()
