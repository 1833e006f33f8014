#!/usr/bin/env python3
"""A small load client for the e2e tests (stdlib only): COUNT `Connection: close` GETs to
HOST:PORT over CONCURRENCY threads, each on a new TCP connection. Prints one JSON object:
{"ok": responses with status 200, "failed": other outcomes, "errors": first few, "seconds"}.
"""

import json
import socket
import sys
import threading
import time


def main():
    host, port, count, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    path = sys.argv[5] if len(sys.argv) > 5 else "/echo"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    hosthdr = "[%s]" % host if ":" in host else host
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, hosthdr)).encode()
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0, "errors": []}

    def worker():
        while True:
            with lock:
                if state["next"] >= count:
                    return
                state["next"] += 1
            ok, err = False, None
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect((host, port))
                s.sendall(req)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                ok = data.startswith(b"HTTP/1.1 200")
                if not ok:
                    err = data[:80].decode("latin-1")
            except OSError as e:
                err = repr(e)
            with lock:
                if ok:
                    state["ok"] += 1
                else:
                    state["failed"] += 1
                    if len(state["errors"]) < 5:
                        state["errors"].append(err)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"ok": state["ok"], "failed": state["failed"], "errors": state["errors"],
                      "seconds": round(time.monotonic() - start, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
