#!/usr/bin/env python3
"""The protobuf listener (docs/protocols.md "protobuf") with the Python code generated from the shipped
codecs/proto/rpcgate.proto: structured params and results, ids, completion order, errors."""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ProtoClient, from_value  # noqa: E402

legacy_server = harness.import_bench("legacy_server")


class ProtobufProtocolTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway([{"name": "proto", "codec": "protobuf"}])
        cls.pb = harness.pb2()

    def client(self):
        return ProtoClient(self.gw.port("proto"))

    def assertOk(self, response, id, kind=None):
        self.assertEqual(response.id, id, "id not echoed: %s" % response)
        self.assertFalse(response.HasField("error"), "unexpected error: %s" % response)
        if kind is not None:
            self.assertEqual(response.kind, kind, "kind: %s" % response)

    def assertErrorCode(self, response, id, code):
        self.assertEqual(response.id, id, "id not echoed: %s" % response)
        self.assertTrue(response.HasField("error"), "expected error %s, got %s" % (code, response))
        self.assertEqual(response.error.code, code, "expected error %s, got %s" % (code, response))
        self.assertTrue(response.error.message, "an error needs a message: %s" % response)

    def test_ping_returns_params(self):
        values = [None, 1.5, -2.0, "hello", "\u00e9\u4e2d\U0001f600", True, False, [], [1.0, "a", None],
                  {}, {"id": 7.0, "nested": {"list": [1.0, {"x": None}]}}]
        with self.client() as client:
            for i, params in enumerate(values, start=1):
                with self.subTest(params=params):
                    response = client.call(i, "ping", params)
                    self.assertOk(response, i, "pong")
                    self.assertEqual(from_value(response.result), params, "ping %r: %s" % (params, response))

    def test_echo(self):
        params = {"a": [1.0, 2.0, {"b": "c"}], "d": True}
        with self.client() as client:
            response = client.call(42, "echo", params)
        self.assertOk(response, 42)
        self.assertEqual(from_value(response.result), params)

    def test_pi_matches_the_legacy_computation(self):
        with self.client() as client:
            for i, n in enumerate([0, 1, 10, 1000, 100000], start=100):
                with self.subTest(n=n):
                    response = client.call(i, "pi", n)
                    self.assertOk(response, i, "pi_r")
                    got = from_value(response.result)
                    want = legacy_server.compute_pi(n)
                    self.assertEqual(got, want, "pi %d: legacy %r, gateway %r" % (n, want, got))

    def test_pi_bad_params(self):
        with self.client() as client:
            for i, params in enumerate([1.5, "x", None, [3.0]], start=1):
                with self.subTest(params=params):
                    self.assertErrorCode(client.call(i, "pi", params), i, "BAD_REQUEST")
            self.assertOk(client.call(99, "ping", "ok"), 99, "pong")

    def test_ids_large_and_zero(self):
        with self.client() as client:
            for id in [0, 1, 2 ** 32, 2 ** 64 - 1]:
                self.assertOk(client.call(id, "ping", "x"), id, "pong")

    def test_unknown_method(self):
        with self.client() as client:
            response = client.call(5, "no.such.method", {"a": 1.0})
            self.assertErrorCode(response, 5, "UNKNOWN_METHOD")
            self.assertIn("no.such.method", response.error.message)
            self.assertOk(client.call(6, "ping", None), 6)  # still usable

    def test_meta_and_payload_are_accepted(self):
        with self.client() as client:
            response = client.call(8, "ping", "m", meta={"trace_id": "t1"}, payload=b"\x00\x01opaque")
        self.assertOk(response, 8, "pong")
        self.assertEqual(from_value(response.result), "m")

    def test_pipelined_ids_match_and_fast_calls_overtake_a_slow_one(self):
        # On this codec answers leave in completion order: pings behind a slow pi need not wait.
        slow_n = 30000000
        with self.client() as client:
            batch = [client.request(1000, "pi", slow_n)] + [client.request(1001 + i, "ping", i) for i in range(20)]
            client.sock.sendall(b"".join(struct.pack(">I", m.ByteSize()) + m.SerializeToString() for m in batch))
            answers = [client.recv(timeout=30) for _ in batch]
        by_id = {a.id: a for a in answers}
        self.assertEqual(sorted(by_id), sorted(m.id for m in batch), "ids answered: %s" % [a.id for a in answers])
        for i in range(20):
            self.assertOk(by_id[1001 + i], 1001 + i, "pong")
            self.assertEqual(from_value(by_id[1001 + i].result), float(i))
        slow = by_id[1000]
        self.assertOk(slow, 1000, "pi_r")
        self.assertAlmostEqual(from_value(slow.result), 3.14159265, places=6)
        order = [a.id for a in answers]
        self.assertNotEqual(order[0], 1000,
                            "the slow pi (id 1000) was answered before the 20 pings sent after it: "
                            "answers are not in completion order (order %s)" % order)

    def test_bad_frame_gets_error_with_id_0_then_close(self):
        garbage = b"\xff" * 11  # an 11-byte varint: no valid message starts like this
        with self.assertRaises(Exception):
            self.pb.Request().ParseFromString(garbage)
        with self.client() as client:
            client.sock.sendall(struct.pack(">I", len(garbage)) + garbage)
            response = client.recv()
            self.assertEqual(response.id, 0)
            self.assertTrue(response.HasField("error"), "expected an error response, got %s" % response)
            self.assertEqual(response.error.code, "BAD_REQUEST", response)
            closed, rest = harness.wait_closed(client.sock)
            self.assertTrue(closed, "the connection should close after a bad frame (got %r)" % rest[:100])

    def test_oversized_prefix_is_too_large_then_close(self):
        with self.client() as client:
            client.sock.sendall(struct.pack(">I", 0xFFFFFFF0))
            response = client.recv()
            self.assertEqual(response.id, 0)
            self.assertEqual(response.error.code, "TOO_LARGE", response)
            closed, rest = harness.wait_closed(client.sock)
            self.assertTrue(closed, "the connection should close after TOO_LARGE (got %r)" % rest[:100])

    def test_frame_split_at_every_position(self):
        with self.client() as client:
            message = client.request(77, "ping", {"k": [1.0, "two"]})
            data = struct.pack(">I", message.ByteSize()) + message.SerializeToString()
            for cut in range(1, len(data)):
                client.sock.sendall(data[:cut])
                time.sleep(0.002)
                client.sock.sendall(data[cut:])
                response = client.recv()
                self.assertOk(response, 77, "pong")
                self.assertEqual(from_value(response.result), {"k": [1.0, "two"]}, "split after byte %d" % cut)

    def test_empty_message_gets_an_error(self):
        # A zero-length body parses as an empty Request (id 0, no method): not a bad frame but a
        # bad request, answered BAD_REQUEST with its id, and the connection goes on.
        with self.client() as client:
            client.sock.sendall(struct.pack(">I", 0))
            response = client.recv()
            self.assertEqual(response.id, 0)
            self.assertEqual(response.error.code, "BAD_REQUEST", response)
            self.assertIn("no method", response.error.message)
            self.assertOk(client.call(3, "ping", "after"), 3, "pong")


if __name__ == "__main__":
    harness.main()
