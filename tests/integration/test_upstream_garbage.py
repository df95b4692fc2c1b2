#!/usr/bin/env python3
"""Hostile upstreams: RESP and protobuf servers that answer garbage, lengths of 2^62 and 4 GiB,
nesting past the limit. Each answer must become the client's UPSTREAM_ERROR (never a hang, never
bytes passed through to the client as if they were an answer), the upstream connection must be
dropped, the worker must stay up, and another client of the same gateway must be served
meanwhile. (The JSON upstream case is in test_upstream_legacy.py, with the legacy server's own
--mode garbage.)"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# What each hostile server answers to every request it reads, by cluster name.
REPLIES = {
    "resp_type": b"?what is this\r\n",                      # no such RESP type byte
    "resp_bulk": b"$4611686018427387904\r\nabc",             # a bulk of 2^62 bytes
    "resp_negative": b"$-5\r\n",                             # a negative length other than -1
    "resp_array": b"*3000000000\r\n:1\r\n",                  # more elements than a C int counts
    "resp_deep": b"*1\r\n" * 10000 + b":1\r\n",              # nested past any sane limit
    "pb_huge": struct.pack(">I", 0xFFFFFFFF) + b"\x08\x01",  # a 4 GiB frame
    "pb_junk": struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff",  # not a Response message
}


class GarbageServer:
    """Answers each read with its fixed reply and counts the connections that were closed on it."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((harness.LOOPBACK, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.closed_by_peer = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        conn.settimeout(0.2)
        with conn:
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.closed_by_peer += 1
                    return
                try:
                    conn.sendall(self.reply)
                except OSError:
                    self.closed_by_peer += 1
                    return

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(2)
        self.sock.close()


class GarbageUpstreamTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = {name: GarbageServer(reply) for name, reply in REPLIES.items()}
        routes = "".join("  - {match: {method: %s}, cluster: %s, timeout: 3s}\n" % (name, name) for name in REPLIES)
        clusters = "".join("  - {name: %s, codec: %s, endpoints: [127.0.0.1:%d]}\n"
                           % (name, "resp" if name.startswith("resp") else "protobuf", server.port)
                           for name, server in cls.servers.items())
        cls.gw = cls.start_gateway([{"name": "json", "codec": "json"}, {"name": "resp", "codec": "resp"}],
                                   handlers=["echo", "ping"], extra_yaml="routes:\n" + routes + "clusters:\n" + clusters)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for server in cls.servers.values():
            server.stop()

    def test_each_kind_of_garbage_is_an_upstream_error_for_json_clients(self):
        with harness.JsonClient(self.gw.port("json"), timeout=10) as client, \
                harness.JsonClient(self.gw.port("json")) as bystander:
            for name in REPLIES:
                for attempt in range(2):  # the second call goes over a new upstream connection
                    answer = client.call(name, ["k", attempt])
                    self.assertEqual(harness.error_code(answer), "UPSTREAM_ERROR", "%s: %r" % (name, answer))
                    self.assertIn("bad reply", answer["result"]["message"], name)
                    self.assertEqual(bystander.call("echo", [name, attempt])["result"], [name, attempt])
        self.assertDropped()

    def test_each_kind_of_garbage_is_an_upstream_error_for_resp_clients(self):
        # RESP to a RESP upstream is the byte-forwarding fast path: the reply must still be
        # checked whole before a byte of it reaches the client.
        with harness.RespClient(self.gw.port("resp"), timeout=10) as client, \
                harness.RespClient(self.gw.port("resp")) as bystander:
            for name in REPLIES:
                for attempt in range(2):
                    answer = client.call(name, "k%d" % attempt)
                    self.assertIsInstance(answer, harness.RespError, "%s: %r" % (name, answer))
                    self.assertIn("UPSTREAM_ERROR", str(answer), name)
                    self.assertEqual(bystander.call("ECHO", name), name.encode())
            self.assertEqual(client.call("PING"), "PONG", "the client's own connection still works")
        self.assertDropped()

    def assertDropped(self):
        # rpcgate closed every connection that carried garbage: no server holds an open one.
        for name, server in self.servers.items():
            deadline = time.monotonic() + 5
            while server.closed_by_peer < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(server.closed_by_peer, 2, name)
        self.assertTrue(self.gw.alive())


if __name__ == "__main__":
    harness.main()
