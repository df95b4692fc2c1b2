#!/usr/bin/env python3
"""Legacy clients (bench/legacy_client.py: Nagle on, prefix and body in two writes, one recv(4)
and one recv(len) without a loop) must get correct answers from the gateway, and quickly: a
gateway that waits for delayed ACKs, or writes an answer in pieces, shows up here."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

legacy_client = harness.import_bench("legacy_client")

PINGS = 200
P99_LIMIT_MS = 5.0 * harness.SLOWDOWN  # Nagle + delayed ACK, the failure this guards against, costs ~40-90 ms


def summary(latencies):
    ordered = sorted(latencies)
    return (legacy_client.percentile(ordered, 0.50) * 1e3, legacy_client.percentile(ordered, 0.99) * 1e3,
            ordered[-1] * 1e3)


class LegacyLatencyTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway([{"name": "json", "codec": "json"}], log_level="info")

    def test_sequential_pings_p99(self):
        params = {"user": 7, "tags": ["a", "b"]}
        answers, latencies = legacy_client.timed_calls(self.gw.port("json"), "ping", params, PINGS)
        for i, answer in enumerate(answers):
            self.assertEqual(answer, {"out": "pong", "result": params}, "answer #%d" % i)
        p50, p99, worst = summary(latencies)
        print("\ngateway, legacy client, %d pings: p50=%.3f ms p99=%.3f ms max=%.3f ms" % (PINGS, p50, p99, worst))
        self.assertLess(p99, P99_LIMIT_MS,
                        "p99 latency %.3f ms (p50 %.3f ms) for a legacy two-write client; expected < %.1f ms "
                        "(delayed ACK / Nagle interaction?)" % (p99, p50, P99_LIMIT_MS))

    def test_pi_answers_match_the_legacy_server(self):
        ns = [0, 1, 10, 1000, 50000, -3]
        with harness.legacy_server() as legacy_port:
            with legacy_client.LegacyClient(legacy_port) as legacy:
                expected = [legacy.call("pi", n) for n in ns]
            # the legacy server's own latency, for comparison only (not asserted)
            _, latencies = legacy_client.timed_calls(legacy_port, "ping", None, 20)
            print("\nlegacy server, legacy client, 20 pings: p50=%.3f ms p99=%.3f ms max=%.3f ms" % summary(latencies))
        with legacy_client.LegacyClient(self.gw.port("json")) as client:
            for n, want in zip(ns, expected):
                got = client.call("pi", n)
                self.assertTrue(harness.same_json(got, want), "pi %d: legacy %r, gateway %r" % (n, want, got))

    def test_large_answer_arrives_whole_for_a_single_recv(self):
        # The legacy client reads the body with ONE recv(len): an 8 KiB answer must be in the
        # socket whole by the time the prefix is. (Loopback delivers one write in one piece.)
        blob = "y" * (8 << 10)
        with legacy_client.LegacyClient(self.gw.port("json")) as client:
            for _ in range(20):
                self.assertEqual(client.call("ping", blob), {"out": "pong", "result": blob})


if __name__ == "__main__":
    harness.main()
