#!/usr/bin/env python3
"""The access log: one valid JSON line per request from every worker (handlers, an upstream
cluster, errors, a binary method name), nothing lost across a logrotate-style rename + SIGUSR1,
and sampling by `access_log_sample`."""

import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FIELDS = {"time", "listener", "peer", "method", "route", "cluster", "endpoint", "status", "bytes", "latency_us"}


def lines_of(*paths):
    out = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            for raw in f.read().splitlines():
                out.append(json.loads(raw.decode("ascii")))  # ASCII: non-ASCII bytes are escaped
    return out


class AccessLogTest(unittest.TestCase):
    def start(self, workers, sample=1):
        harness.require_binary(self)
        self.up = harness.LegacyUpstream(name="a").start()
        self.addCleanup(self.up.stop)
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-access-")
        self.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "access.log")
        gw = harness.Gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"}],
            process={"model": "prefork", "workers": workers}, log_level="info",
            extra={"logging": {"level": "info", "access_log": True, "access_log_file": self.path,
                               "access_log_sample": sample}},
            extra_yaml="routes:\n  - {match: {method: whoami}, cluster: legacy}\n"
                       "clusters:\n  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d]}\n" % self.up.port)
        self.addCleanup(gw.remove_log)
        self.addCleanup(gw.stop)
        return gw.start()

    def send(self, gw, pings=0, calls=0, unknown=0):
        with harness.RespClient(gw.port("resp")) as resp, harness.JsonClient(gw.port("json")) as js:
            for _ in range(pings):
                self.assertEqual(resp.call("ping"), "PONG")
            for _ in range(calls):
                self.assertEqual(js.call("whoami")["result"], "a")
            for _ in range(unknown):
                resp.call("no\xffsuch\"method")

    def test_one_valid_line_per_request_from_every_worker(self):
        gw = self.start(workers=2)
        for _ in range(4):  # several connections, so both workers take some
            self.send(gw, pings=25, calls=10, unknown=2)
        self.assertEqual(gw.stop(), 0)  # the drain writes what is left
        lines = lines_of(self.path)
        self.assertEqual(len(lines), 4 * 37)
        self.assertTrue(all(set(line) == FIELDS for line in lines))
        by_method = {}
        for line in lines:
            by_method.setdefault(line["method"], []).append(line)
        self.assertEqual(len(by_method["ping"]), 100)
        self.assertEqual({l["status"] for l in by_method["ping"]}, {"OK"})
        calls = by_method["whoami"]
        self.assertEqual(len(calls), 40)
        self.assertEqual({(l["cluster"], l["endpoint"], l["route"], l["listener"]) for l in calls},
                         {("legacy", "127.0.0.1:%d" % self.up.port, 0, "json")})
        self.assertTrue(all(l["latency_us"] > 0 and l["bytes"] > 0 for l in calls))
        odd = [l for l in lines if l["status"] == "UNKNOWN_METHOD"]
        self.assertEqual(len(odd), 8)
        self.assertEqual(odd[0]["method"], "no\u00c3\u00bfsuch\"method")  # each byte of the UTF-8 kept
        self.assertEqual(len({l["peer"] for l in lines}), 8, "two connections per round")

    def test_nothing_is_lost_across_rotation(self):
        gw = self.start(workers=2)
        self.send(gw, pings=30)
        rotated = self.path + ".1"
        os.rename(self.path, rotated)
        gw.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # both workers have reopened
        self.send(gw, pings=20, calls=5)
        self.assertEqual(gw.stop(), 0)
        old, new = lines_of(rotated), lines_of(self.path)
        self.assertEqual(len(old) + len(new), 55)
        self.assertEqual(len(old), 30, "what was logged before the signal stays in the rotated file")

    def test_sampling_logs_one_request_in_n(self):
        gw = self.start(workers=1, sample=10)
        self.send(gw, pings=100)
        self.assertEqual(gw.stop(), 0)
        self.assertEqual(len(lines_of(self.path)), 10)


if __name__ == "__main__":
    harness.main()
