#!/usr/bin/env python3
"""Legacy JSON-LP upstreams (tests/integration/legacy_upstream.py, with the legacy services' real
habits) behind the gateway: translation from the RESP, JSON and protobuf listeners, round robin,
the example sidecar config, and faults: an upstream killed under load and restarted, one that
stalls, one that answers garbage, one that closes on bad input or on a 1024-byte read, and
retries that never send a non-idempotent request twice."""

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

compute_pi = harness.import_bench("legacy_server").compute_pi


def cluster_yaml(name, endpoints, **options):
    fields = ", ".join("%s: %s" % (key, value) for key, value in options.items())
    return "  - {name: %s, codec: json, endpoints: [%s]%s}\n" % (
        name, ", ".join("127.0.0.1:%d" % port for port in endpoints), ", " + fields if fields else "")


def requests_received(upstream, method):
    return upstream.log_text().count("request %r" % method)


class TranslationTest(harness.GatewayTestCase):
    """Two legacy instances behind one cluster, called from all three listeners."""

    @classmethod
    def setUpClass(cls):
        cls.a = harness.LegacyUpstream(name="a").start()
        cls.b = harness.LegacyUpstream(name="b").start()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"},
             {"name": "proto", "codec": "protobuf"}],
            handlers=["echo"],
            extra_yaml="routes:\n  - {match: {method: echo}, handler: echo}\n"
                       "  - {match: {glob: \"*\"}, cluster: legacy}\nclusters:\n"
                       + cluster_yaml("legacy", [cls.a.port, cls.b.port], load_balancer="round_robin"))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.a.__exit__(None, None, None)
        cls.b.__exit__(None, None, None)

    def test_json_answers_equal_the_legacy_service_value_for_value(self):
        params = [1, 2.5, "x", None, True, {"nested": [1, {"deep": "é"}]}]
        with harness.JsonClient(self.a.port) as direct, harness.JsonClient(self.gw.port("json")) as through:
            for method, value in (("ping", params), ("pi", 1000), ("pi", 0), ("ping", None)):
                expected = direct.call(method, value)
                got = through.call(method, value)
                self.assertTrue(harness.same_json(got, expected), "%s %r: %r != %r" % (method, value, got, expected))
            self.assertEqual(through.call("pi", 1000)["result"], compute_pi(1000))
            # The id extension comes back although the legacy service knows nothing of it.
            through.send({"in": "ping", "params": 5, "id": 41})
            self.assertEqual(through.recv(), {"out": "pong", "result": 5, "id": 41})

    def test_resp_clients_reach_the_legacy_service(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("PI", "1000"), repr(compute_pi(1000)).encode())
            self.assertEqual(client.call("CALL", "ping", '{"x": [1, 2]}'), b'{"x":[1,2]}')
            self.assertEqual(client.call("PING", "hello"), b"hello")

    def test_protobuf_clients_reach_the_legacy_service(self):
        with harness.ProtoClient(self.gw.port("proto")) as client:
            answer = client.call(7, "ping", {"a": [1, "two"]})
            self.assertEqual((answer.id, answer.kind), (7, "pong"))
            self.assertEqual(harness.from_value(answer.result), {"a": [1, "two"]})
            answer = client.call(8, "pi", 1000)
            self.assertEqual((answer.id, answer.kind), (8, "pi_r"))
            self.assertEqual(answer.result.number_value, compute_pi(1000))

    def test_round_robin_over_two_instances_from_every_listener(self):
        names = []
        with harness.JsonClient(self.gw.port("json")) as client:
            names += [client.call("whoami")["result"] for _ in range(20)]
        with harness.RespClient(self.gw.port("resp")) as client:
            names += [client.call("WHOAMI") for _ in range(20)]
        with harness.ProtoClient(self.gw.port("proto")) as client:
            names += [client.call(i, "whoami").result.string_value for i in range(20)]
        names = [name.decode() if isinstance(name, bytes) else name for name in names]
        self.assertEqual(names.count("a"), 30, names)
        self.assertEqual(names.count("b"), 30, names)
        self.assertNotEqual(names[0], names[1], "consecutive calls should alternate: %r" % names[:4])

    def test_pipelined_requests_come_back_in_order(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            for i in range(300):
                client.send({"in": "ping", "params": i} if i % 3 else {"in": "echo", "params": i})
            answers = [client.recv(timeout=10) for _ in range(300)]
        self.assertEqual([answer["result"] for answer in answers], list(range(300)))

    def test_unknown_method_closes_the_legacy_connection_and_the_client_gets_an_error(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            answer = client.call("no_such_method", 1)
            self.assertEqual(harness.error_code(answer), "UPSTREAM_ERROR", answer)
            self.assertIn("closed the connection", answer["result"]["message"])
            self.assertEqual(client.call("ping", 2)["result"], 2)


class LegacyHabitsTest(harness.GatewayTestCase):
    """The legacy services' fragile habits, each on its own upstream."""

    @classmethod
    def setUpClass(cls):
        cls.split = harness.LegacyUpstream("--split-sensitive", name="split").start()
        cls.c1024 = harness.LegacyUpstream("--close-on-1024", "--log-requests", name="c1024").start()
        cls.nagle = harness.LegacyUpstream(name="nagle").start()  # reply in two writes, Nagle on
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}], handlers=[],
            process={"model": "prefork", "workers": 2},
            extra_yaml="routes:\n"
                       "  - {match: {prefix: split.}, cluster: split, rename: ping}\n"
                       "  - {match: {prefix: c1024.}, cluster: c1024, rename: ping}\n"
                       "  - {match: {glob: \"*\"}, cluster: nagle}\n"
                       "clusters:\n"
                       + cluster_yaml("split", [cls.split.port])
                       + cluster_yaml("c1024", [cls.c1024.port])
                       + cluster_yaml("nagle", [cls.nagle.port], max_connections=4))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for upstream in (cls.split, cls.c1024, cls.nagle):
            upstream.__exit__(None, None, None)

    def test_frames_reach_a_split_sensitive_service_whole(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            for size in (0, 1, 100, 1000, 4096, 30000):
                for _ in range(20):
                    client.send({"in": "split.x", "params": "y" * size})
                for _ in range(20):
                    self.assertEqual(client.recv(timeout=10)["result"], "y" * size)
        self.assertNotIn("closed: split", self.split.log_text())

    def test_legacy_replies_in_two_writes_do_not_wait_for_delayed_acks(self):
        # Without TCP_QUICKACK re-armed on the upstream socket, each call waits ~40 ms for the
        # ACK that lets the legacy server's Nagle release the reply body.
        with harness.JsonClient(self.gw.port("json")) as client:
            client.call("ping", 0)
            times = []
            for i in range(200):
                start = time.perf_counter()
                self.assertEqual(client.call("ping", i)["result"], i)
                times.append(time.perf_counter() - start)
        times.sort()
        p50, p90 = times[100], times[180]
        self.assertLess(p50, 0.010, "p50 %.1f ms" % (p50 * 1000))
        self.assertLess(p90, 0.020, "p90 %.1f ms" % (p90 * 1000))

    def test_a_read_of_1024_bytes_closes_the_connection_and_only_that_request_fails(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            # The route renames the method, so the gateway encodes the frame itself, the way
            # Python's json.dumps would.
            envelope = len(b'{"in": "ping", "params": ""}')
            client.send({"in": "c1024.x", "params": "z" * (1020 - envelope)})  # 4 + 1020 bytes
            answer = client.recv()
            self.assertEqual(harness.error_code(answer), "UPSTREAM_ERROR", answer)
            self.assertEqual(client.call("c1024.x", "small")["result"], "small")
        self.assertIn("multiple of 1024", self.c1024.log_text())

    def test_many_clients_with_a_backlog_of_one(self):
        errors, done = [], []

        def run(n):
            try:
                with harness.JsonClient(self.gw.port("json"), timeout=10) as client:
                    for i in range(40):
                        self.assertEqual(client.call("sleep", 0.002)["result"], 0.002)
                done.append(n)
            except Exception as error:  # reported below, with the thread's number
                errors.append("client %d: %r" % (n, error))

        threads = [threading.Thread(target=run, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(done), 12)


class FaultsTest(harness.GatewayTestCase):
    """An upstream that stalls, one that answers garbage, and retries."""

    @classmethod
    def setUpClass(cls):
        cls.stall = harness.LegacyUpstream("--mode", "stall", name="stall").start()
        cls.garbage = harness.LegacyUpstream("--mode", "garbage", name="garbage").start()
        cls.r1 = harness.LegacyUpstream("--log-requests", name="r1").start()
        cls.r2 = harness.LegacyUpstream("--log-requests", name="r2").start()
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}, {"name": "resp", "codec": "resp"}], handlers=["echo", "info"],
            extra_yaml="routes:\n"
                       "  - {match: {method: stalled}, cluster: stall, rename: ping, timeout: 300ms}\n"
                       "  - {match: {method: garbled}, cluster: garbage, rename: ping}\n"
                       "  - {match: {method: once}, cluster: retry, rename: sleep, timeout: 300ms, retries: 2}\n"
                       "  - {match: {method: twice}, cluster: retry, rename: sleep, timeout: 300ms, retries: 2,"
                       " idempotent: true}\n"
                       "  - {match: {method: bad_once}, cluster: retry, retries: 2}\n"
                       "  - {match: {method: echo}, handler: echo}\n"
                       "  - {match: {method: info}, handler: info}\n"
                       "  - {match: {glob: \"*\"}, cluster: retry}\n"
                       "clusters:\n"
                       + cluster_yaml("stall", [cls.stall.port])
                       + cluster_yaml("garbage", [cls.garbage.port])
                       + cluster_yaml("retry", [cls.r1.port, cls.r2.port], request_timeout="2s",
                                      outlier="{consecutive_failures: 0}"))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for upstream in (cls.stall, cls.garbage, cls.r1, cls.r2):
            upstream.__exit__(None, None, None)

    def test_a_stalled_upstream_times_out_within_the_route_timeout(self):
        with harness.JsonClient(self.gw.port("json")) as client, harness.JsonClient(self.gw.port("json")) as other:
            for _ in range(3):
                start = time.monotonic()
                answer = client.call("stalled", 1)
                elapsed = time.monotonic() - start
                self.assertEqual(harness.error_code(answer), "TIMEOUT", answer)
                self.assertIn("no answer within 300 ms", answer["result"]["message"])
                self.assertGreaterEqual(elapsed, 0.28)
                self.assertLess(elapsed, 0.8)
                # Meanwhile other work goes on.
                self.assertEqual(other.call("echo", "still here")["result"], "still here")
            self.assertEqual(client.call("echo", 1)["result"], 1)

    def test_garbage_from_an_upstream_is_an_upstream_error_and_drops_that_connection(self):
        with harness.JsonClient(self.gw.port("json")) as client, harness.RespClient(self.gw.port("resp")) as resp:
            for _ in range(2):
                answer = client.call("garbled", 1)
                self.assertEqual(harness.error_code(answer), "UPSTREAM_ERROR", answer)
                self.assertIn("bad reply", answer["result"]["message"])
                self.assertEqual(client.call("ping", 3)["result"], 3)  # another cluster, same client
                self.assertEqual(resp.call("ECHO", "ok"), b"ok")
        # ("closed" alone would count the first line twice: "conn 1 closed: peer closed".)
        deadline = time.monotonic() + 5
        while self.garbage.log_text().count("closed: peer closed") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(self.garbage.log_text().count("closed: peer closed"), 2, self.garbage.log_tail())

    def assertReceived(self, method, count):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = requests_received(self.r1, method) + requests_received(self.r2, method)
            if got >= count:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # and no more arrive
        got = requests_received(self.r1, method) + requests_received(self.r2, method)
        self.assertEqual(got, count, "%s: %d requests reached the upstreams, expected %d" % (method, got, count))

    def test_retries_never_send_a_non_idempotent_request_twice(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            before = requests_received(self.r1, "sleep") + requests_received(self.r2, "sleep")
            start = time.monotonic()
            answer = client.call("once", 1.0)
            self.assertEqual(harness.error_code(answer), "TIMEOUT", answer)
            self.assertLess(time.monotonic() - start, 0.8)
            self.assertReceived("sleep", before + 1)

            # Closed on bad input (an unknown method): the request may have been processed.
            before_bad = requests_received(self.r1, "bad_once") + requests_received(self.r2, "bad_once")
            answer = client.call("bad_once", 1)
            self.assertEqual(harness.error_code(answer), "UPSTREAM_ERROR", answer)
            self.assertReceived("bad_once", before_bad + 1)

    def test_idempotent_requests_are_retried_on_the_other_instance(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            before = [requests_received(up, "sleep") for up in (self.r1, self.r2)]
            start = time.monotonic()
            answer = client.call("twice", 1.0)
            elapsed = time.monotonic() - start
            self.assertEqual(harness.error_code(answer), "TIMEOUT", answer)
            self.assertGreaterEqual(elapsed, 0.85)  # three attempts of 300 ms
            self.assertLess(elapsed, 1.6)
            self.assertReceived("sleep", sum(before) + 3)
            after = [requests_received(up, "sleep") for up in (self.r1, self.r2)]
            self.assertTrue(all(a > b for a, b in zip(after, before)), "both instances tried: %r -> %r" % (before, after))
            # A retry that succeeds: the answer is simply late by one timeout.
            self.assertEqual(client.call("twice", 0.01)["result"], 0.01)
        with harness.RespClient(self.gw.port("resp")) as resp:
            info = resp.call("INFO", "upstreams").decode()
        line = re.search(r"^cluster_retry:(.*)$", info, re.M).group(1).strip()
        fields = dict(item.split("=") for item in line.split(","))
        self.assertGreaterEqual(int(fields["retries"]), 2, line)
        self.assertGreaterEqual(int(fields["timeouts"]), 3, line)
        self.assertEqual(fields["pending"], "0", line)


class SidecarExampleTest(harness.GatewayTestCase):
    """conf/examples/legacy-sidecar.yaml as shipped: an instance killed under load, then restarted."""

    @classmethod
    def setUpClass(cls):
        cls.a = harness.LegacyUpstream(name="a").start()
        cls.b = harness.LegacyUpstream(name="b").start()
        cls.gw = harness.ExampleGateway("legacy-sidecar.yaml", {9001: cls.a.port, 9002: cls.b.port}).start()
        cls.gateways = (cls.gw,)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.a.__exit__(None, None, None)
        cls.b.__exit__(None, None, None)

    def test_example_serves_both_instances(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("pi", 1000)["result"], compute_pi(1000))
            names = {client.call("whoami")["result"] for _ in range(10)}
        self.assertEqual(names, {"a", "b"})

    def test_an_instance_killed_under_load_and_restarted(self):
        results = []  # (time, answer or error text, latency)
        stop = threading.Event()
        t0 = time.monotonic()

        def load():
            with harness.JsonClient(self.gw.port("json"), timeout=5) as client:
                for _ in range(100000):
                    if stop.is_set():
                        return
                    start = time.monotonic()
                    try:
                        answer = client.call("whoami")
                        outcome = answer["result"] if harness.error_code(answer) is None else harness.error_code(answer)
                    except (OSError, socket.timeout, ValueError) as error:
                        outcome = "client error: %r" % error
                    results.append((start - t0, outcome, time.monotonic() - start))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            killed_at = time.monotonic() - t0
            self.a.kill()
            time.sleep(2.0)
            restarted_at = time.monotonic() - t0
            self.a.start()
            time.sleep(3.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
        outcomes = [outcome for _, outcome, _ in results]
        self.assertGreater(len(results), 200, "too little load to judge")
        # Nobody hangs: the route's timeout is 1 s, with one retry.
        self.assertLess(max(latency for _, _, latency in results), 2.5)
        unexpected = {o for o in outcomes if o not in ("a", "b", "UPSTREAM_ERROR", "UNAVAILABLE", "TIMEOUT")}
        self.assertEqual(unexpected, set())
        errors = [o for o in outcomes if o not in ("a", "b")]
        self.assertLess(len(errors), len(results) * 0.05, "errors: %d of %d" % (len(errors), len(results)))
        # Traffic moved to the survivor...
        while_down = [o for t, o, _ in results if killed_at + 0.5 < t < restarted_at]
        self.assertGreater(len(while_down), 20)
        self.assertEqual(set(while_down) - {"UPSTREAM_ERROR", "UNAVAILABLE", "TIMEOUT"}, {"b"})
        # ... and came back to the restarted instance within the health check's interval or two.
        back = [o for t, o, _ in results if t > restarted_at + 2.0]
        self.assertIn("a", back, "instance a never answered again after its restart")
        self.assertIn("b", back)
        # What the gateway saw: connects to the dead instance refused, and it taken out.
        with harness.JsonClient(self.gw.port("json")) as client:
            info = client.call("rpcgate.info", "upstreams")["result"]
        fields = dict(item.split("=") for item in re.search(r"cluster_legacy:(\S+)", info).group(1).split(","))
        self.assertGreaterEqual(int(fields["connect_failures"]), 1, info)
        self.assertGreaterEqual(int(fields["ejections"]), 1, info)
        self.assertEqual(fields["pending"], "0", info)


if __name__ == "__main__":
    harness.main()
