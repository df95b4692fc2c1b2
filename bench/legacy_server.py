#!/usr/bin/env python3
"""The legacy Python RPC server our users run today (the book's example), kept as the reference
the gateway must match value for value and as the baseline of the side-by-side benchmark.

Protocol (docs/protocols.md, "json"): a 4-byte length packed with struct.pack("I", n) (native order,
little-endian on x86), then n bytes of JSON {"in": method, "params": ...}. Answers
{"out": kind, "result": ...} the same way. An unknown method or any error closes the connection:
the legacy services have no error frame.

Its habits are kept on purpose, because the gateway must work with clients written against it:
Nagle stays on, and each reply goes out as TWO writes (the 4-byte prefix, then the body).
Reads loop until complete so that the reference itself is never the flaky part of a test.

    legacy_server.py --port 9001        # listens on 127.0.0.1 only
"""

import argparse
import json
import math
import socketserver
import struct
import sys


def compute_pi(n):
    """The legacy estimate: sqrt(8 * sum_{i=0..n} 1/(2i+1)^2), two divisions in this order."""
    s = 0.0
    for i in range(n + 1):
        s += 1.0 / (2 * i + 1) / (2 * i + 1)
    return math.sqrt(8 * s)


def ping(params):
    return {"out": "pong", "result": params}


def pi(params):
    return {"out": "pi_r", "result": compute_pi(params)}


METHODS = {"ping": ping, "pi": pi}


def recv_exact(sock, n):
    """n bytes, or None when the peer closed first."""
    chunks = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class LegacyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        while True:
            try:
                head = recv_exact(sock, 4)
                if head is None:
                    return
                (length,) = struct.unpack("I", head)
                body = recv_exact(sock, length)
                if body is None:
                    return
                request = json.loads(body)
                reply = METHODS[request["in"]](request.get("params"))
                data = json.dumps(reply).encode()
                sock.sendall(struct.pack("I", len(data)))  # the legacy habit: prefix ...
                sock.sendall(data)                         # ... and body in two writes
            except Exception:  # unknown method, bad JSON, bad params: the legacy answer is a close
                return


class LegacyServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args(argv)
    with LegacyServer(("127.0.0.1", args.port), LegacyHandler) as server:
        print("legacy_server listening on 127.0.0.1:%d" % args.port, file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
