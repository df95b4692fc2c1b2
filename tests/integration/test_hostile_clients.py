#!/usr/bin/env python3
"""Hostile clients against the real binary, beyond test_bad_input.py: JSON nested 100,000 deep,
invalid UTF-8 and NUL bytes, clients that vanish with answers pending, and 10,000 concurrent
connections (with the RSS each idle one costs). Each checks the specified answer or close, that
the process is still alive, and that a well-behaved client is served meanwhile."""

import os
import resource
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CONNECTIONS = 10_000
MAX_CONNECTIONS = 9_000


class HostileClientTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        cls.fd_limit = min(hard, 2 * CONNECTIONS)
        # The gateway inherits the raised limit; this process needs as many for its own ends.
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, cls.fd_limit), hard))
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json", "max_connections": MAX_CONNECTIONS},
             {"name": "resp", "codec": "resp", "max_connections": MAX_CONNECTIONS}],
            log_level="info")

    def assertServed(self):
        self.assertAlive()
        with harness.RespClient(self.gw.port("resp")) as other:
            self.assertEqual(other.call("echo", "still here"), b"still here")

    def test_json_nested_100000_deep(self):
        body = b"[" * 100_000 + b"]" * 100_000
        with harness.JsonClient(self.gw.port("json")) as client:
            client.send_raw(struct.pack("<I", len(body)) + body)
            answer = client.recv()
            self.assertEqual(answer["result"]["code"], "BAD_REQUEST")
            self.assertIn("deep", answer["result"]["message"])
            self.assertEqual(client.call("ping", 1), {"out": "pong", "result": 1}, "the connection stays usable")
        self.assertServed()

    def test_invalid_utf8_and_nul_bytes(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            body = b'{"in": "echo", "params": "a\xff\xfe"}'
            client.send_raw(struct.pack("<I", len(body)) + body)
            self.assertEqual(client.recv()["result"]["code"], "BAD_REQUEST")
            self.assertEqual(client.call("echo", "nul\u0000inside")["result"], "nul\u0000inside")
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("echo", b"\x00\xff\xfe binary \r\n"), b"\x00\xff\xfe binary \r\n")
            reply = client.call(b"e\x00cho", "x")
            self.assertIn("UNKNOWN_METHOD", str(reply))
        self.assertServed()

    def test_clients_that_vanish_with_answers_pending(self):
        for _ in range(20):
            sock = harness.connect(self.gw.port("resp"))
            sock.sendall(harness.resp_command("pi", "2000000") * 4 + harness.resp_command("ping") * 100)
            sock.close()  # answers still being computed on the thread pool
        sock = harness.connect(self.gw.port("json"))
        sock.sendall(harness.frame({"in": "echo", "params": "x"}) * 50)
        sock.shutdown(socket.SHUT_WR)  # half-closed: every answer still comes
        received = b""
        deadline = time.monotonic() + harness.IO_TIMEOUT
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        sock.close()
        self.assertEqual(received.count(b'"x"'), 50)
        self.assertServed()

    @unittest.skipUnless(resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= CONNECTIONS + 500,
                         "the hard limit on descriptors is below 10,500")
    def test_ten_thousand_connections(self):
        before = harness.rss_kib(self.gw.pid)
        socks, refused = [], 0
        try:
            for _ in range(CONNECTIONS):
                socks.append(socket.create_connection((harness.LOOPBACK, self.gw.port("resp")), timeout=10))
            time.sleep(0.5)
            # The ones past max_connections were answered OVERLOADED and closed.
            for sock in socks[MAX_CONNECTIONS:]:
                sock.settimeout(5)
                data = sock.recv(256)
                if data.startswith(b"-OVERLOADED"):
                    refused += 1
            after = harness.rss_kib(self.gw.pid)
            self.assertServedWith(socks[:3])
        finally:
            for sock in socks:
                sock.close()
        per_connection = (after - before) * 1024 / MAX_CONNECTIONS
        print("\n  %d connections: %d refused OVERLOADED; RSS %d -> %d KiB, %.0f bytes per idle connection"
              % (CONNECTIONS, refused, before, after, per_connection), file=sys.stderr)
        self.assertEqual(refused, CONNECTIONS - MAX_CONNECTIONS)
        if not harness.SANITIZED:
            self.assertLess(per_connection, 2048, "an idle connection should cost under 2 KiB (about 1 KiB measured)")
        self.assertServed()

    def assertServedWith(self, socks):
        for i, sock in enumerate(socks):
            sock.sendall(harness.resp_command("echo", "c%d" % i))
            self.assertEqual(sock.recv(64), b"$2\r\nc%d\r\n" % i)


if __name__ == "__main__":
    harness.main()
