#!/usr/bin/env python3
"""What the kernel lets this process do for eBPF steering, straight through bpf(2) (stdlib +
ctypes, x86-64/arm64): create a SOCKMAP, load a minimal BPF_PROG_TYPE_SK_LOOKUP program, and
attach it to the current network namespace with a bpf_link. Prints one JSON object
{"map": "ok"|errno name, "load": ..., "attach": ...}. The e2e test runs it under setpriv with
different capability sets to find the minimum the holder needs.
"""

import ctypes
import errno
import json
import os
import platform
import struct

SYS_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_LINK_CREATE = 0, 5, 28
BPF_MAP_TYPE_SOCKMAP = 15
BPF_PROG_TYPE_SK_LOOKUP = 30
BPF_SK_LOOKUP = 36

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    if r < 0:
        return None, errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return r, "ok"


def main():
    out = {}
    fd, out["map"] = bpf(BPF_MAP_CREATE, struct.pack("=IIIII", BPF_MAP_TYPE_SOCKMAP, 4, 8, 2, 0))
    if fd is not None:
        os.close(fd)
    # r0 = SK_PASS (1); exit
    insns = struct.pack("=BBhi", 0xb7, 0, 0, 1) + struct.pack("=BBhi", 0x95, 0, 0, 0)
    ibuf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = struct.pack("=IIQQIIQII16sII", BPF_PROG_TYPE_SK_LOOKUP, 2, ctypes.addressof(ibuf),
                       ctypes.addressof(lic), 0, 0, 0, 0, 0, b"bw_caps", 0, BPF_SK_LOOKUP)
    prog, out["load"] = bpf(BPF_PROG_LOAD, attr)
    if prog is None:
        out["attach"] = "not tried"
    else:
        ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        link, out["attach"] = bpf(BPF_LINK_CREATE, struct.pack("=IIII", prog, ns, BPF_SK_LOOKUP, 0))
        if link is not None:
            os.close(link)
        os.close(ns)
        os.close(prog)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
