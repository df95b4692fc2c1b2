#!/usr/bin/env python3
"""A protobuf upstream (a second rpcgate, "mid") behind the translation bridge example
(conf/examples/translation-bridge.yaml), together with legacy JSON-LP instances and a real Redis:
every client codec reaches every upstream codec. Also: replies matched by id when several clients
use the same ids, answers in completion order, and the deadline carried to the upstream in meta."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

compute_pi = harness.import_bench("legacy_server").compute_pi


def start_mid(legacy_port, **kwargs):
    """An rpcgate serving protobuf (and RESP, to read its INFO), whose `sleep` goes to a legacy
    instance with a generous timeout of its own."""
    return harness.Gateway(
        [{"name": "proto", "codec": "protobuf"}, {"name": "resp", "codec": "resp"}],
        handlers=["ping", "echo", "pi", "info"],
        extra_yaml="routes:\n  - {match: {method: sleep}, cluster: legacy}\n"
                   "clusters:\n  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d], request_timeout: 10s}\n"
                   % legacy_port, **kwargs).start()


class TranslationBridgeTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = harness.LegacyUpstream(name="a").start()
        cls.b = harness.LegacyUpstream(name="b").start()
        cls.redis = harness.RedisServer().start()
        cls.mid = start_mid(cls.a.port, log_level="info")
        cls.gw = harness.ExampleGateway("translation-bridge.yaml", {
            9001: cls.a.port, 9002: cls.b.port, 9101: cls.mid.port("proto"), 6379: cls.redis.port}).start()
        cls.gateways = (cls.gw, cls.mid)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.a.__exit__(None, None, None)
        cls.b.__exit__(None, None, None)
        cls.redis.stop()

    def test_resp_client_reaches_every_upstream(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("legacy.pi", "1000"), repr(compute_pi(1000)).encode())
            self.assertEqual(client.call("CALL", "proto.echo", '{"a": [1, "x"]}'), b'{"a":[1,"x"]}')
            self.assertEqual(client.call("proto.pi", "1000"), repr(compute_pi(1000)).encode())
            self.assertEqual(client.call("kv.set", "bridge:k", "from resp"), "OK")
            self.assertEqual(client.call("kv.get", "bridge:k"), b"from resp")

    def test_json_client_reaches_every_upstream(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("legacy.ping", [1, {"b": None}]), {"out": "pong", "result": [1, {"b": None}]})
            self.assertEqual(client.call("proto.echo", {"nested": {"list": [1.5, True]}})["result"],
                             {"nested": {"list": [1.5, True]}})
            self.assertEqual(client.call("proto.pi", 100)["result"], compute_pi(100))
            self.assertEqual(client.call("kv.set", ["bridge:j", "from json"])["result"], "OK")
            self.assertEqual(client.call("kv.get", ["bridge:j"])["result"], "from json")
            self.assertEqual(client.call("unknown.method")["result"]["code"], "UNKNOWN_METHOD")

    def test_protobuf_client_reaches_every_upstream(self):
        with harness.ProtoClient(self.gw.port("proto")) as client:
            answer = client.call(3, "legacy.pi", 1000)
            self.assertEqual((answer.id, answer.kind, answer.result.number_value), (3, "pi_r", compute_pi(1000)))
            answer = client.call(4, "proto.echo", {"k": "v"})
            self.assertEqual((answer.id, harness.from_value(answer.result)), (4, {"k": "v"}))
            answer = client.call(5, "kv.get", ["bridge:missing"])
            self.assertEqual(answer.id, 5)
            self.assertFalse(answer.HasField("result"))  # Redis's nil is null: no result at all
            self.assertFalse(answer.HasField("error"))

    def test_an_interleaved_pipeline_over_three_clusters_and_a_handler_stays_in_order(self):
        pi = {n: repr(compute_pi(n)).encode() for n in (10, 2000)}
        with harness.RespClient(self.gw.port("resp")) as client:
            client.call("kv.set", "bridge:order", "stored")
            commands, expected = [], []
            for i in range(100):
                n = 2000 if i % 10 == 0 else 10  # now and then a slower legacy call holds the line
                commands += [("legacy.pi", str(n)), ("CALL", "proto.echo", '"e%d"' % i), ("kv.get", "bridge:order"),
                             ("PING", "p%d" % i), ("legacy.ping", str(i))]
                expected += [pi[n], b"e%d" % i, b"stored", b"p%d" % i, i]  # `ping 7`: params 7, a number
            client.send_raw(b"".join(harness.resp_command(*c) for c in commands))
            answers = [client.read(timeout=20) for _ in commands]
        self.assertEqual(answers, expected)

    def test_clients_with_the_same_ids_get_their_own_answers(self):
        # Both clients use ids 1..50 on one upstream connection: the gateway renumbers them.
        with harness.ProtoClient(self.gw.port("proto")) as first, harness.ProtoClient(self.gw.port("proto")) as second:
            for i in range(1, 51):
                first.send(first.request(i, "proto.echo", "first-%d" % i))
                second.send(second.request(i, "proto.echo", "second-%d" % i))
            for client, name in ((first, "first"), (second, "second")):
                answers = {}
                for _ in range(50):
                    answer = client.recv(timeout=10)
                    answers[answer.id] = harness.from_value(answer.result)
                self.assertEqual(answers, {i: "%s-%d" % (name, i) for i in range(1, 51)})

    def test_protobuf_answers_leave_in_completion_order(self):
        with harness.ProtoClient(self.gw.port("proto")) as client:
            client.send(client.request(1, "proto.pi", 3000000))  # tens of milliseconds on mid's thread pool
            client.send(client.request(2, "proto.echo", "quick"))
            first, second = client.recv(timeout=10), client.recv(timeout=10)
        self.assertEqual([first.id, second.id], [2, 1])
        self.assertEqual(second.result.number_value, compute_pi(3000000))


class DeadlineTest(harness.GatewayTestCase):
    """The front gives up after 300 ms and tells mid so in meta.timeout_ms: mid's own call to the
    legacy upstream, whose own timeout is 10 s, gives up at the same time."""

    @classmethod
    def setUpClass(cls):
        cls.legacy = harness.LegacyUpstream(name="slow").start()
        cls.mid = start_mid(cls.legacy.port)
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}], handlers=[],
            extra_yaml="routes:\n  - {match: {method: slow}, cluster: mid, rename: sleep, timeout: 300ms}\n"
                       "clusters:\n  - {name: mid, codec: protobuf, endpoints: [127.0.0.1:%d]}\n"
                       % cls.mid.port("proto"))
        cls.gateways = (cls.gw, cls.mid)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.legacy.__exit__(None, None, None)

    def mid_timeouts(self):
        with harness.RespClient(self.mid.port("resp")) as client:
            info = client.call("INFO", "errorstats")
        match = re.search(rb"^errorstat_TIMEOUT:count=(\d+)", info, re.M)
        return int(match.group(1)) if match else 0

    def test_the_deadline_travels_to_the_protobuf_upstream(self):
        self.assertEqual(self.mid_timeouts(), 0)
        with harness.JsonClient(self.gw.port("json")) as client:
            start = time.monotonic()
            answer = client.call("slow", 5.0)
            self.assertEqual(answer["result"]["code"], "TIMEOUT", answer)
            self.assertLess(time.monotonic() - start, 1.0)
        # Without the deadline in meta, mid would wait its own 10 s.
        deadline = time.monotonic() + 2.0
        while self.mid_timeouts() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.mid_timeouts(), 1)


if __name__ == "__main__":
    harness.main()
