#!/usr/bin/env python3
"""The json listener against the spec (docs/protocols.md "json") and against the real legacy server:
framing (pipelining, every split point), the book's ping and pi value for value, request-level
errors that keep the connection usable, ids, key order, pi_max_terms, big-endian prefixes."""

import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import JsonClient, frame, read_frame, same_json  # noqa: E402

PI_MAX_TERMS = 100000  # pi_max_terms of the limited gateway: the limit is tested at N and N+1


def legacy_call(port, method, params):
    """One call to the real legacy server on a fresh connection (it closes on errors)."""
    with JsonClient(port) as client:
        return client.call(method, params)


class JsonProtocolTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"},
             {"name": "json_be", "codec": "json", "length_byte_order": "big"}])
        cls.limited = cls.start_gateway(
            [{"name": "json", "codec": "json"}],
            handlers={"enable": ["ping", "pi"], "pi_max_terms": PI_MAX_TERMS})
        cls._legacy = harness.legacy_server()
        cls.legacy_port = cls._legacy.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._legacy.__exit__(None, None, None)
        super().tearDownClass()

    def client(self, gw=None, name="json", order="little"):
        return JsonClient((gw or self.gw).port(name), order)

    def assertError(self, answer, code, what=""):
        self.assertIsInstance(answer, dict, what)
        self.assertEqual(answer.get("out"), "error", "%s: expected an error answer, got %r" % (what, answer))
        result = answer.get("result")
        self.assertIsInstance(result, dict, "%s: error result must be an object: %r" % (what, answer))
        self.assertEqual(result.get("code"), code, "%s: expected code %s, got %r" % (what, code, answer))
        self.assertIsInstance(result.get("message"), str, "%s: error needs a message: %r" % (what, answer))

    def assertUsable(self, client, what=""):
        answer = client.call("ping", "still-here")
        self.assertEqual(answer, {"out": "pong", "result": "still-here"},
                         "%s: connection should stay usable; ping answered %r" % (what, answer))

    # --- ping and pi against the legacy server --------------------------------------------

    PING_PARAMS = [None, 0, 1, -1, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 1.5, 0.1, -0.0, 1e22,
                   1e-7, 1e300, 5e-324, 1.0, "", "hello", "unicode: \u00e9\u4e2d\U0001f600", "quote\"back\\slash\n",
                   True, False, [], [1, "a", None, [2.5]], {}, {"id": 7, "nested": {"list": [1, 2, {"x": None}]}}]

    def test_ping_matches_legacy_value_for_value(self):
        with self.client() as client:
            for params in self.PING_PARAMS:
                with self.subTest(params=params):
                    expected = legacy_call(self.legacy_port, "ping", params)
                    self.assertTrue(same_json(expected, {"out": "pong", "result": params}),
                                    "legacy server itself answered %r" % (expected,))
                    answer = client.call("ping", params)
                    self.assertTrue(same_json(answer, expected),
                                    "ping %r: legacy answered %r, gateway %r" % (params, expected, answer))

    def test_ping_without_params_member(self):
        with self.client() as client:
            client.send({"in": "ping"})
            answer = client.recv()
        self.assertEqual(answer.get("out"), "pong", answer)
        self.assertIsNone(answer.get("result"), answer)

    def test_pi_matches_legacy_value_for_value(self):
        with self.client() as client:
            for n in [0, 1, 2, 10, 1000, 100000, -5]:
                with self.subTest(n=n):
                    expected = legacy_call(self.legacy_port, "pi", n)
                    answer = client.call("pi", n)
                    self.assertEqual(answer.get("out"), "pi_r", "pi %d: %r" % (n, answer))
                    self.assertTrue(same_json(answer, expected),
                                    "pi %d: legacy answered %r, gateway %r" % (n, expected, answer))

    def test_pi_bad_params_are_bad_request_and_connection_stays(self):
        with self.client() as client:
            for params in [1.5, "x", "10", None, [10], {"n": 10}]:
                with self.subTest(params=params):
                    answer = client.call("pi", params)
                    self.assertError(answer, "BAD_REQUEST", "pi %r" % (params,))
                    self.assertUsable(client, "after pi %r" % (params,))

    def test_pi_limit_at_n_and_n_plus_1(self):
        with self.client(self.limited) as client:
            expected = legacy_call(self.legacy_port, "pi", PI_MAX_TERMS)
            answer = client.call("pi", PI_MAX_TERMS)
            self.assertTrue(same_json(answer, expected),
                            "pi at the limit %d: legacy %r, gateway %r" % (PI_MAX_TERMS, expected, answer))
            answer = client.call("pi", PI_MAX_TERMS + 1)
            self.assertError(answer, "BAD_REQUEST", "pi above pi_max_terms")
            answer = client.call("pi", 10 ** 12)
            self.assertError(answer, "BAD_REQUEST", "pi far above pi_max_terms")
            self.assertUsable(client, "after pi above the limit")

    def test_handlers_not_enabled_are_unknown(self):
        with self.client(self.limited) as client:
            self.assertError(client.call("echo", 1), "UNKNOWN_METHOD", "echo is not enabled there")

    # --- errors ----------------------------------------------------------------------------

    def test_unknown_method(self):
        with self.client() as client:
            answer = client.call("no.such.method", {"a": 1})
            self.assertError(answer, "UNKNOWN_METHOD", "unknown method")
            self.assertIn("no.such.method", answer["result"]["message"])
            # method names are exact on json: PING is not ping
            self.assertError(client.call("PING", 1), "UNKNOWN_METHOD", "PING (case differs)")
            self.assertUsable(client, "after unknown methods")

    def test_invalid_requests_are_bad_request_and_connection_stays(self):
        bodies = [b"{not json", b"", b"[1, 2]", b"\"ping\"", b"{\"params\": 1}", b"{\"in\": 5}",
                  b"{\"in\": \"ping\", \"params\": 1", b"\xff\xfe\x00", b"null",
                  b"{\"in\": \"ping\", \"meta\": {\"a\": 1}}",
                  b"[" * 200 + b"]" * 200]
        with self.client() as client:
            for body in bodies:
                with self.subTest(body=body[:40]):
                    client.send_raw(frame(body))
                    self.assertError(client.recv(), "BAD_REQUEST", "body %r" % (body[:40],))
                    self.assertUsable(client, "after body %r" % (body[:40],))

    def test_deep_nesting_in_params_is_refused(self):
        deep = b"{\"in\": \"ping\", \"params\": " + b"[" * 100 + b"]" * 100 + b"}"
        with self.client() as client:
            client.send_raw(frame(deep))
            self.assertError(client.recv(), "BAD_REQUEST", "params nested 100 deep (limit 64)")
            self.assertUsable(client, "after a too deep request")

    # --- envelope extensions -----------------------------------------------------------------

    def test_id_is_echoed(self):
        with self.client() as client:
            answer = client.call("ping", 1, id=7)
            self.assertEqual(answer, {"out": "pong", "result": 1, "id": 7})
            answer = client.call("nope", 1, id=2 ** 64 - 1)
            self.assertError(answer, "UNKNOWN_METHOD", "unknown method with id")
            self.assertEqual(answer.get("id"), 2 ** 64 - 1, "an error keeps the id: %r" % (answer,))
            answer = client.call("pi", "x", id=9)
            self.assertError(answer, "BAD_REQUEST", "pi bad params with id")
            self.assertEqual(answer.get("id"), 9, "an error keeps the id: %r" % (answer,))
            self.assertNotIn("id", client.call("ping", 1), "no id asked, none answered")

    def test_meta_is_accepted(self):
        with self.client() as client:
            answer = client.call("ping", "m", meta={"trace_id": "abc", "deadline_ms": "1000"})
            self.assertEqual(answer, {"out": "pong", "result": "m"})

    def test_key_order_and_whitespace_do_not_matter(self):
        bodies = [b'{"params": 1, "in": "ping"}', b'  {\n"params" :1 ,\t"in":"ping"}  ',
                  b'{"id": 3, "params": 1, "in": "ping"}', b'{"in": "ping", "params": 1, "extra": [1]}']
        with self.client() as client:
            for body in bodies:
                with self.subTest(body=body):
                    client.send_raw(frame(body))
                    answer = client.recv()
                    self.assertEqual(answer.get("out"), "pong", "body %r answered %r" % (body, answer))
                    self.assertTrue(same_json(answer.get("result"), 1), answer)

    # --- framing ---------------------------------------------------------------------------

    def test_pipelined_answers_come_back_in_order(self):
        # pi runs on the thread pool and ping inline: the order must still be request order.
        requests = []
        for i in range(50):
            requests.append(("pi", 20000 + i) if i % 5 == 0 else ("ping", i))
        with self.client() as client:
            client.send_raw(b"".join(frame({"in": m, "params": p}) for m, p in requests))
            answers = [client.recv() for _ in requests]
        for i, ((method, params), answer) in enumerate(zip(requests, answers)):
            if method == "ping":
                self.assertEqual(answer, {"out": "pong", "result": params}, "answer #%d out of order" % i)
            else:
                self.assertEqual(answer.get("out"), "pi_r", "answer #%d should be pi %d: %r" % (i, params, answer))
        # each pi answer is the one for its own n
        pis = [(p, a["result"]) for (m, p), a in zip(requests, answers) if m == "pi"]
        with JsonClient(self.legacy_port) as legacy:
            for n, result in pis:
                self.assertEqual(result, legacy.call("pi", n)["result"], "pi %d answered for another n" % n)

    def test_frame_split_at_every_position(self):
        data = frame({"in": "ping", "params": {"k": [1, 2, 3]}, "id": 5})
        with self.client() as client:
            for cut in range(1, len(data)):
                client.send_raw(data[:cut])
                time.sleep(0.002)
                client.send_raw(data[cut:])
                answer = client.recv()
                self.assertEqual(answer, {"out": "pong", "result": {"k": [1, 2, 3]}, "id": 5},
                                 "frame split after byte %d answered %r" % (cut, answer))

    def test_byte_by_byte(self):
        with self.client() as client:
            for i in range(3):
                data = frame({"in": "ping", "params": "byte-%d" % i})
                for b in range(len(data)):
                    client.send_raw(data[b:b + 1])
                    time.sleep(0.001)
                self.assertEqual(client.recv(), {"out": "pong", "result": "byte-%d" % i})

    def test_two_frames_and_a_half_in_one_write(self):
        a, b, c = (frame({"in": "ping", "params": i}) for i in range(3))
        with self.client() as client:
            client.send_raw(a + b + c[:3])
            self.assertEqual(client.recv(), {"out": "pong", "result": 0})
            self.assertEqual(client.recv(), {"out": "pong", "result": 1})
            time.sleep(0.05)
            client.send_raw(c[3:])
            self.assertEqual(client.recv(), {"out": "pong", "result": 2})

    def test_large_frame(self):
        blob = "x" * (4 << 20)
        with self.client() as client:
            answer = client.call("echo", blob)
        self.assertEqual(answer.get("result"), blob, "a 4 MiB echo came back different")

    def test_half_close_still_gets_answers(self):
        with self.client() as client:
            client.send_raw(b"".join(frame({"in": "ping", "params": i}) for i in range(5)) + frame({"in": "pi", "params": 1000}))
            client.sock.shutdown(socket.SHUT_WR)
            answers = [client.recv() for _ in range(6)]
            closed, rest = harness.wait_closed(client.sock)
        self.assertEqual([a["result"] for a in answers[:5]], list(range(5)))
        self.assertEqual(answers[5].get("out"), "pi_r")
        self.assertTrue(closed, "the gateway should close after answering a half-closed client")
        self.assertEqual(rest, b"")

    # --- byte order ------------------------------------------------------------------------

    def test_big_endian_listener(self):
        with self.client(name="json_be", order="big") as client:
            self.assertEqual(client.call("ping", [1, 2]), {"out": "pong", "result": [1, 2]})
            answer = client.call("pi", 1000)
            self.assertTrue(same_json(answer, legacy_call(self.legacy_port, "pi", 1000)), answer)

    def test_little_endian_prefix_on_big_endian_listener_is_too_large(self):
        # A small length written little-endian reads as hundreds of MB in network order.
        body = json.dumps({"in": "ping", "params": "abcdefghijklmn"}).encode()
        self.assertGreater(struct.unpack(">I", frame(body, "little")[:4])[0], 16 << 20)
        with harness.connect(self.gw.port("json_be")) as sock:
            sock.sendall(frame(body, "little"))
            answer = json.loads(read_frame(sock, "big"))
            self.assertError(answer, "TOO_LARGE", "LE prefix on a BE listener")
            closed, rest = harness.wait_closed(sock)
            self.assertTrue(closed, "connection should close after TOO_LARGE; got %r" % rest[:100])


if __name__ == "__main__":
    harness.main()
