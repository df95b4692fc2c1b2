#!/usr/bin/env python3
"""What the legacy Python clients do, habits included: TCP_NODELAY is NOT set (Nagle on), the
4-byte prefix and the JSON body go out in two separate writes, and the answer is read with ONE
recv(4) and ONE recv(length), with no loop. A server that does not write each answer whole (or
delays its second half) breaks such a client or makes it slow; the gateway must not.

    legacy_client.py --port 8080 --method ping --params '"hi"' --count 200
prints each answer (with --verbose) and the latency percentiles.
"""

import argparse
import json
import socket
import struct
import sys
import time


class LegacyProtocolError(Exception):
    """The answer did not arrive the way a legacy client reads it."""


class LegacyClient:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)  # Nagle stays on

    def call(self, method, params=None):
        body = json.dumps({"in": method, "params": params}).encode()
        self.sock.sendall(struct.pack("I", len(body)))
        self.sock.sendall(body)
        head = self.sock.recv(4)
        if len(head) != 4:
            raise LegacyProtocolError("recv(4) returned %d bytes: %r" % (len(head), head))
        (length,) = struct.unpack("I", head)
        answer = self.sock.recv(length)
        if len(answer) != length:
            raise LegacyProtocolError("recv(%d) returned %d bytes: the answer was not written whole"
                                      % (length, len(answer)))
        return json.loads(answer)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


def timed_calls(port, method, params, count, host="127.0.0.1"):
    """`count` sequential calls on one connection: (answers, latencies in seconds)."""
    answers, latencies = [], []
    with LegacyClient(port, host) as client:
        for _ in range(count):
            start = time.perf_counter()
            answers.append(client.call(method, params))
            latencies.append(time.perf_counter() - start)
    return answers, latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--method", default="ping")
    parser.add_argument("--params", default="null", help="JSON text")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    answers, latencies = timed_calls(args.port, args.method, json.loads(args.params), args.count, args.host)
    if args.verbose or args.count == 1:
        for answer in answers:
            print(json.dumps(answer))
    ordered = sorted(latencies)
    print("calls=%d p50=%.3f ms p99=%.3f ms max=%.3f ms" % (
        len(ordered), percentile(ordered, 0.50) * 1e3, percentile(ordered, 0.99) * 1e3, ordered[-1] * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
