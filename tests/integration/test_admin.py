#!/usr/bin/env python3
"""The admin port, served by the master: /metrics checked by promtool and counted exactly against
the requests a test sent through several workers, /healthz and /readyz (503 from the start of a
drain), /stats, /config with its secrets redacted, POST /reload (a broken file changes nothing)
and POST /drain. Also the latency figures on the data ports: INFO latencystats and the `stats`
method."""

import http.client as httpclient
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "s3cret-do-not-show"


def http(port, method, path, body=None, timeout=harness.IO_TIMEOUT):
    connection = httpclient.HTTPConnection(harness.LOOPBACK, port, timeout=timeout)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode()
    finally:
        connection.close()


def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert match, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


def value(parsed, name, **labels):
    wanted = set(labels.items())
    found = [v for (n, l), v in parsed.items() if n == name and wanted <= set(l)]
    assert len(found) == 1, "%s%s: %d series" % (name, labels, len(found))
    return found[0]


class AdminTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.up = harness.LegacyUpstream(name="a").start()
        cls.admin_port = harness.free_port()
        cls.redis_port = harness.free_port()  # never started: only its password matters here
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"}],
            process={"model": "prefork", "workers": 2},
            log_level="info", handlers=[h for h in harness.DEFAULT_HANDLERS if h not in ("ping", "echo")],
            extra_yaml="admin: {address: 127.0.0.1:%d}\n"
                       "routes:\n  - {match: {method: whoami}, cluster: legacy}\n"
                       "  - {match: {methods: [ping, echo]}, handler: ping}\n"
                       "clusters:\n  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d]}\n"
                       "  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d], password: %s}\n"
                       % (cls.admin_port, cls.up.port, cls.redis_port, SECRET))
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.up.stop()

    def metrics(self):
        status, content_type, body = http(self.admin_port, "GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        return body

    def test_counters_and_histograms_match_the_requests_sent_through_both_workers(self):
        before = samples(self.metrics())
        clients = 8
        pings, calls = 40 * clients, 25 * clients
        def run(n):
            with harness.RespClient(self.gw.port("resp")) as resp, harness.JsonClient(self.gw.port("json")) as js:
                for _ in range(pings // clients):
                    self.assertEqual(resp.call("ping"), "PONG")
                for _ in range(calls // clients):
                    self.assertEqual(js.call("whoami")["result"], "a")
        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        after = samples(self.metrics())
        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)
        self.assertEqual(delta("rpcgate_requests_total", listener="resp"), pings)
        self.assertEqual(delta("rpcgate_requests_total", listener="json"), calls)
        self.assertEqual(delta("rpcgate_request_duration_seconds_count", listener="resp"), pings)
        self.assertEqual(delta("rpcgate_request_duration_seconds_count", listener="json"), calls)
        self.assertEqual(delta("rpcgate_route_requests_total", route="1"), pings)
        self.assertEqual(delta("rpcgate_route_duration_seconds_count", route="0"), calls)
        self.assertEqual(delta("rpcgate_upstream_requests_total", cluster="legacy"), calls)
        self.assertEqual(delta("rpcgate_upstream_duration_seconds_count", cluster="legacy"), calls)
        self.assertEqual(delta("rpcgate_upstream_duration_seconds_bucket", cluster="legacy", le="+Inf"), calls)
        workers = [v for (n, l), v in after.items() if n == "rpcgate_worker_requests_total"]
        self.assertEqual(len(workers), 2)
        self.assertTrue(all(v > 0 for v in workers), "both workers served: %s" % workers)
        self.assertEqual(value(after, "rpcgate_workers"), 2)
        self.assertEqual(value(after, "rpcgate_upstream_endpoints", cluster="legacy"), 1)

    def test_promtool_finds_nothing_to_say_under_load(self):
        self.assertTrue(shutil.which("promtool"), "promtool is missing: scripts/install-deps.sh --with-tests installs it")
        done = threading.Event()
        def load():
            with harness.JsonClient(self.gw.port("json")) as js, harness.RespClient(self.gw.port("resp")) as resp:
                for _ in range(2000):  # bounded, and stopped early once the checks are done
                    if done.is_set():
                        return
                    js.call("whoami")
                    resp.call("ping")
        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.3)
            for _ in range(3):
                check = subprocess.run(["promtool", "check", "metrics"], input=self.metrics(), capture_output=True,
                                       text=True, timeout=60)
                self.assertEqual((check.returncode, check.stdout + check.stderr), (0, ""))
        finally:
            done.set()
            for thread in threads:
                thread.join(30)

    def test_health_stats_and_errors(self):
        self.assertEqual(http(self.admin_port, "GET", "/healthz")[0], 200)
        self.assertEqual(http(self.admin_port, "GET", "/readyz")[0], 200)
        status, content_type, body = http(self.admin_port, "GET", "/stats")
        self.assertEqual((status, content_type), (200, "application/json"))
        stats = json.loads(body)
        self.assertEqual(len(stats["workers"]), 2)
        self.assertIn("p99_ms", stats["listeners"]["resp"]["latency"])
        self.assertIn("legacy", stats["clusters"])
        self.assertEqual(http(self.admin_port, "GET", "/nothing")[0], 404)
        self.assertEqual(http(self.admin_port, "GET", "/drain")[0], 405)
        # The same figures on the data ports.
        with harness.JsonClient(self.gw.port("json")) as client:
            answer = client.call("stats")
        self.assertEqual(answer["out"], "stats")
        self.assertEqual(set(answer["result"]), set(stats))
        with harness.RespClient(self.gw.port("resp")) as resp:
            resp.call("ping")
            info = resp.call("info", "latencystats")
        info = info.decode() if isinstance(info, bytes) else info
        self.assertRegex(info, r"latency_percentiles_usec_listener_resp:p50=[\d.]+,p99=[\d.]+,p99\.9=[\d.]+")

    def test_clusters_show_each_endpoint_as_every_worker_sees_it(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("whoami")["result"], "a")
        status, content_type, body = http(self.admin_port, "GET", "/clusters")
        self.assertEqual((status, content_type), (200, "application/json"))
        clusters = json.loads(body)
        self.assertEqual(set(clusters), {"legacy", "cache"})
        [endpoint] = clusters["legacy"]["endpoints"]
        self.assertEqual(endpoint["address"], "127.0.0.1:%d" % self.up.port)
        self.assertEqual(sorted(view["worker"] for view in endpoint["workers"]), [0, 1])
        self.assertEqual({view["health"] for view in endpoint["workers"]}, {"up"})

    def test_config_is_the_effective_one_and_never_shows_a_secret(self):
        status, _, body = http(self.admin_port, "GET", "/config")
        self.assertEqual(status, 200)
        self.assertNotIn(SECRET, body)
        config = json.loads(body)
        cache = [c for c in config["clusters"] if c["name"] == "cache"][0]
        self.assertEqual(cache["password"], "<redacted>")
        self.assertEqual(config["process"]["workers"], 2)
        self.assertEqual(config["listeners"][0]["max_pipeline"], 1024, "defaults filled in")

    def test_reload_reports_a_broken_file_and_changes_nothing(self):
        before = json.loads(http(self.admin_port, "GET", "/config")[2])
        with open(self.gw.config_path) as f:
            good = f.read()
        try:
            with open(self.gw.config_path, "w") as f:
                f.write(good.replace("name: legacy, codec: json", "name: legacy, codec: jsn", 1))
            status, _, body = http(self.admin_port, "POST", "/reload")
            self.assertEqual(status, 400)
            answer = json.loads(body)
            self.assertFalse(answer["reloaded"])
            self.assertIn("unknown codec 'jsn'", answer["error"])
            self.assertIn("rpcgate.yaml:", answer["error"])
        finally:
            with open(self.gw.config_path, "w") as f:
                f.write(good)
        self.assertEqual(json.loads(http(self.admin_port, "GET", "/config")[2]), before)
        parsed = samples(self.metrics())
        self.assertGreaterEqual(value(parsed, "rpcgate_reload_failures_total"), 1)
        reloads = value(parsed, "rpcgate_reloads_total")
        status, _, body = http(self.admin_port, "POST", "/reload")
        self.assertEqual(status, 200, body)
        self.assertTrue(json.loads(body)["reloaded"])
        self.assertEqual(value(samples(self.metrics()), "rpcgate_reloads_total"), reloads + 1)
        with harness.RespClient(self.gw.port("resp")) as resp:
            self.assertEqual(resp.call("ping"), "PONG")


class DrainTest(unittest.TestCase):
    def start(self):
        harness.require_binary(self)
        up = harness.LegacyUpstream(name="a").start()
        self.addCleanup(up.stop)
        admin_port = harness.free_port()
        gw = harness.Gateway([{"name": "json", "codec": "json"}], process={"model": "prefork", "workers": 2},
                             log_level="info", handlers=[],
                             extra_yaml="admin: {address: 127.0.0.1:%d}\nroutes:\n"
                                        "  - {match: {glob: '*'}, cluster: legacy}\nclusters:\n"
                                        "  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d]}\n"
                                        % (admin_port, up.port))
        self.addCleanup(gw.remove_log)
        self.addCleanup(gw.stop)
        gw.start()
        harness.wait_listening([admin_port], gw.proc, describe="the admin port")
        return gw, admin_port

    def test_readyz_turns_503_at_the_start_of_a_drain(self):
        gw, admin = self.start()
        self.assertEqual(http(admin, "GET", "/readyz")[0], 200)
        client = harness.JsonClient(gw.port("json"))
        self.addCleanup(client.close)
        client.send({"in": "sleep", "params": 0.5})  # keeps the drain going for half a second
        time.sleep(0.2)
        gw.send_signal(signal.SIGTERM)
        status, _, body = http(admin, "GET", "/readyz")
        self.assertEqual(status, 503, body)
        self.assertIn("draining", body)
        self.assertEqual(http(admin, "GET", "/healthz")[0], 200, "alive while it drains")
        self.assertEqual(client.recv(), {"out": "slept", "result": 0.5})
        self.assertEqual(gw.wait(10), 0)

    def test_post_drain_drains_like_sigterm(self):
        gw, admin = self.start()
        status, _, body = http(admin, "POST", "/drain")
        self.assertEqual(status, 202, body)
        self.assertEqual(gw.wait(10), 0)
        self.assertIn("POST /drain", gw.log_text())


if __name__ == "__main__":
    harness.main()
