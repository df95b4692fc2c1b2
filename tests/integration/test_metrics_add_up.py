#!/usr/bin/env python3
"""The figures on /metrics add up, as an error-rate panel divides them: every request a client
gets an answer to counts once in rpcgate_requests_total (those its codec answers itself, a bad
frame or HELLO, included), errors are a part of them, the latency histogram has one sample per
request, an upstream's answers never exceed its requests (health checks count apart), and the
start time is printed in full."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import JsonClient, RespClient, metric_samples, metric_value  # noqa: E402


def scrape(port):
    status, _, body = harness.http(port, "GET", "/metrics")
    assert status == 200, (status, body[:200])
    return body


class MetricsAddUpTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = harness.LegacyUpstream(name="a").start()
        cls.admin_port = harness.free_port()
        cls.started = time.time()
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}, {"name": "resp", "codec": "resp"}],
            process={"model": "prefork", "workers": 1}, log_level="info",
            extra={"admin": {"address": "127.0.0.1:%d" % cls.admin_port},
                   "routes": [{"match": {"method": "whoami"}, "cluster": "legacy"}],
                   "clusters": [{"name": "legacy", "codec": "json", "endpoints": ["127.0.0.1:%d" % cls.up.port],
                                 "health_check": {"method": "ping", "interval": "100ms", "timeout": "100ms"}}]})
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.up.stop()

    def assert_adds_up(self, samples, listener, codec, sent, errors):
        labels = dict(listener=listener, codec=codec)
        requests = metric_value(samples, "rpcgate_requests_total", **labels)
        self.assertEqual(requests, sent, "%s: %d requests answered, rpcgate_requests_total says %d"
                         % (listener, sent, requests))
        self.assertEqual(metric_value(samples, "rpcgate_request_errors_total", **labels), errors, listener)
        self.assertEqual(metric_value(samples, "rpcgate_request_duration_seconds_count", **labels), sent,
                         "%s: one latency sample per request" % listener)

    def test_every_answered_request_counts_once(self):
        with JsonClient(self.gw.port("json")) as client:
            for _ in range(5):
                self.assertEqual(client.call("ping")["out"], "pong")
            for method in ("nosuch", "pi"):  # UNKNOWN_METHOD; pi without n: BAD_REQUEST
                self.assertEqual(client.call(method)["out"], "error")
            for _ in range(3):  # frames that are no JSON: answered with an error, connection kept
                client.send_raw(harness.frame(b"{not json"))
                self.assertEqual(client.recv()["out"], "error")
            self.assertEqual(client.call("whoami")["out"], "whoami_r")
        with RespClient(self.gw.port("resp")) as client:
            # Answered by the codec itself, as Redis counts them among commands processed.
            self.assertEqual(client.call("HELLO", "2")[0], b"server")
            self.assertEqual(client.call("CLIENT", "SETNAME", "m"), "OK")
            self.assertEqual(client.call("SELECT", "0"), "OK")
            self.assertEqual(client.call("PING"), "PONG")
            self.assertIsInstance(client.call("ECHO"), harness.RespError)
        time.sleep(0.4)  # health checks run meanwhile
        samples = metric_samples(scrape(self.admin_port))
        self.assert_adds_up(samples, "json", "json", sent=11, errors=5)
        self.assert_adds_up(samples, "resp", "resp", sent=5, errors=1)
        requests = metric_value(samples, "rpcgate_upstream_requests_total", cluster="legacy")
        answers = metric_value(samples, "rpcgate_upstream_answers_total", cluster="legacy")
        self.assertEqual((requests, answers), (1, 1), "the one whoami call, health checks apart")
        self.assertGreater(metric_value(samples, "rpcgate_upstream_health_checks_total", cluster="legacy"), 0)

    def test_start_time_in_full(self):
        text = re.search(r"(?m)^rpcgate_start_time_seconds (\S+)$", scrape(self.admin_port)).group(1)
        self.assertRegex(text, r"^\d{10}(\.\d{1,6})?$", "no exponent, no digits lost")
        self.assertLess(abs(float(text) - self.started), 1.5, "started at %.3f, metric says %s" % (self.started, text))


if __name__ == "__main__":
    harness.main()
