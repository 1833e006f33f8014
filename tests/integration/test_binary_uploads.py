"""Binary uploads through the running proxy in block mode, with a real app behind it.

Random bytes, compressed data and images are not an attack language: they reach the app intact
(the app hashes what it received). An attack string inside an uploaded file, or sent as text with
a binary content type, is still blocked before the app.
"""

import hashlib
import os
import random
import struct
import sys
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402

BOUNDARY = "b1nUpl0adB0undary"


def png_like(seed, width=64, height=64):
    """A valid PNG of random pixels, built here (header, IHDR, IDAT with zlib data, IEND)."""
    rng = random.Random(seed)

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def multipart(field, filename, ctype, content):
    head = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            "Content-Type: %s\r\n\r\n" % (BOUNDARY, field, filename, ctype)).encode()
    return head + content + ("\r\n--%s--\r\n" % BOUNDARY).encode()


class BinaryUploadTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.app_.port, config={"mode": "block"})

    def post(self, ctype, body):
        c = self.conn(self.px.port, timeout=30.0)
        r = c.request("POST", "/echo", headers=[("Content-Type", ctype)], body=body, timeout=30.0)
        return c, r

    def assert_delivered(self, ctype, body, what):
        c, r = self.post(ctype, body)
        self.assertEqual(r.status, 200, "%s: %s" % (what, c.transcript()))
        got = r.json()
        self.assertEqual(got["body_length"], len(body), what)
        self.assertEqual(got["body_sha256"], hashlib.sha256(body).hexdigest(), what)

    def test_random_octet_stream_reaches_the_app(self):
        for seed in range(40):
            size = (64 << 10) if seed % 4 else (1 << 20)
            body = random.Random(seed).randbytes(size)
            self.assert_delivered("application/octet-stream", body, "seed %d" % seed)
        # the size of the end-to-end finding
        self.assert_delivered("application/octet-stream", random.Random(8).randbytes(8 << 20),
                              "8 MiB")

    def test_images_and_archives_reach_the_app(self):
        for seed in range(20):
            png = png_like(seed)
            self.assert_delivered("image/png", png, "png seed %d" % seed)
            self.assert_delivered("multipart/form-data; boundary=" + BOUNDARY,
                                  multipart("avatar", "me.png", "image/png", png),
                                  "png upload seed %d" % seed)
            gz = zlib.compress(random.Random(seed + 1000).randbytes(100000), 9)
            self.assert_delivered("application/gzip", b"\x1f\x8b" + gz, "gzip-like seed %d" % seed)

    def test_attacks_in_or_around_binary_are_blocked(self):
        before = self.app_.stats()["requests"]
        sqli = b"1' UNION SELECT username, password FROM users-- "
        c, r = self.post("application/octet-stream", sqli)
        self.assertEqual(r.status, 403, c.transcript())
        png = png_like(7)
        shell = png[:200] + b"<?php system($_GET['cmd']); ?>" + png[200:]
        c, r = self.post("multipart/form-data; boundary=" + BOUNDARY,
                         multipart("avatar", "me.png", "image/png", shell))
        self.assertEqual(r.status, 403, c.transcript())
        noise = random.Random(3).randbytes(32768)
        poly = noise + b"\x00" + sqli + b"\x00" + noise
        c, r = self.post("application/octet-stream", poly)
        self.assertEqual(r.status, 403, c.transcript())
        self.assertEqual(self.app_.stats()["requests"], before, "the app must not see the attacks")


if __name__ == "__main__":
    unittest.main()
