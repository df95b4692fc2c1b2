#!/usr/bin/env python3
"""Cluster-wide behaviour with real peers: UNAVAILABLE when nothing listens or a connect hangs
(connect_timeout), OVERLOADED beyond
max_pending, and consistent hashing over two real Redis servers (each key on exactly one, found
there again by every command that names it first)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class ClusterLimitsTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.stall = harness.LegacyUpstream("--mode", "stall", name="stall").start()
        cls.nothing = harness.free_port()  # nobody listens here
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}], handlers=["echo"],
            extra_yaml="routes:\n"
                       "  - {match: {method: nowhere}, cluster: nowhere}\n"
                       "  - {match: {method: stalled}, cluster: stall, timeout: 300ms}\n"
                       "clusters:\n"
                       "  - {name: nowhere, codec: json, endpoints: [127.0.0.1:%d]}\n"
                       "  - {name: stall, codec: json, endpoints: [127.0.0.1:%d], max_pending: 5,"
                       " pipeline_depth: 100}\n" % (cls.nothing, cls.stall.port))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stall.__exit__(None, None, None)

    def test_unavailable_at_once_when_nothing_listens(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            for attempt in range(6):
                start = time.monotonic()
                answer = client.call("nowhere", attempt)
                self.assertEqual(harness.error_code(answer), "UNAVAILABLE", answer)
                self.assertLess(time.monotonic() - start, 0.5)
            # The first attempt says why; later ones find the endpoint in backoff or ejected.
            self.assertEqual(client.call("echo", "alive")["result"], "alive")

    def test_overloaded_beyond_max_pending(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            start = time.monotonic()
            for i in range(10):
                client.send({"in": "stalled", "params": i})
            codes = [harness.error_code(client.recv(timeout=5)) for _ in range(10)]
            elapsed = time.monotonic() - start
        self.assertEqual(codes, ["TIMEOUT"] * 5 + ["OVERLOADED"] * 5)
        self.assertLess(elapsed, 1.5)


class ConnectTimeoutTest(harness.GatewayTestCase):
    """An endpoint whose accept queue is full (a listener that never accepts): SYNs are dropped,
    so connects hang. Each connect gives up after connect_timeout, not after the kernel's own
    retries, and is tried again (a dropped SYN is often transient: legacy servers have a backlog
    of 1) until the request's deadline, which then says why."""

    @classmethod
    def setUpClass(cls):
        cls.deaf = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        cls.deaf.bind((harness.LOOPBACK, 0))
        cls.deaf.listen(0)
        port = cls.deaf.getsockname()[1]
        cls.fillers = []
        for _ in range(3):  # fill the accept queue; later connects stay unanswered
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((harness.LOOPBACK, port))
            cls.fillers.append(filler)
        time.sleep(0.2)
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}], handlers=[],
            extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: deaf}\n"
                       "clusters:\n  - {name: deaf, codec: json, endpoints: [127.0.0.1:%d], connect_timeout: 150ms,"
                       " request_timeout: 1s}\n" % port)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for s in cls.fillers + [cls.deaf]:
            s.close()

    def test_connects_are_retried_until_the_deadline_which_says_why(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            start = time.monotonic()
            answer = client.call("ping", 1)
            elapsed = time.monotonic() - start
        self.assertEqual(harness.error_code(answer), "TIMEOUT", answer)
        self.assertIn("no connection within 1000 ms: connect timed out after 150 ms", answer["result"]["message"])
        self.assertGreaterEqual(elapsed, 0.95)
        self.assertLess(elapsed, 1.6)


class ConsistentHashTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = [harness.RedisServer().start(), harness.RedisServer().start()]
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}], handlers=[],
            extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: shards}\n"
                       "clusters:\n  - {name: shards, codec: resp, load_balancer: consistent_hash,"
                       " endpoints: [127.0.0.1:%d, 127.0.0.1:%d]}\n"
                       % (cls.redis[0].port, cls.redis[1].port))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for redis in cls.redis:
            redis.stop()

    def test_each_key_lives_on_exactly_one_server_and_keys_spread(self):
        through = harness.redis_client(self.gw.port("resp"))
        direct = [harness.redis_client(r.port) for r in self.redis]
        keys = ["user:%d" % i for i in range(400)]
        for key in keys:
            self.assertTrue(through.set(key, key.upper()))
        homes = {}
        for key in keys:
            found = [i for i, server in enumerate(direct) if server.get(key) == key.upper().encode()]
            self.assertEqual(len(found), 1, "%s found on %r" % (key, found))
            homes[key] = found[0]
        share = sum(homes.values()) / len(keys)
        self.assertGreater(share, 0.25)
        self.assertLess(share, 0.75)
        # Reads find each key where it was written, again and again.
        for key in keys[:100]:
            self.assertEqual(through.get(key), key.upper().encode())
        # The same key in other commands (the first argument) goes to the same server.
        for key in keys[:50]:
            self.assertEqual(through.append(key, "!"), len(key) + 1)
            self.assertEqual(direct[homes[key]].get(key), key.upper().encode() + b"!")
        for server in direct:
            server.flushall()


if __name__ == "__main__":
    harness.main()
