#!/usr/bin/env python3
"""The admin port, served by the master: /metrics checked by promtool and counted exactly against
the requests a test sent through several workers, /healthz and /readyz (503 from the start of a
drain), /stats, /config with its secrets redacted, POST /reload (a broken file changes nothing)
and POST /drain. Also the latency figures on the data ports: INFO latencystats and the `stats`
method. And what operators reach for (OperatorTest): the log level changed at runtime in every
worker, /listeners, /server_info, /readyz failed on purpose, and the table of pages behind /help,
the 404s and 405s and the start-up line."""

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


http = harness.http
samples = harness.metric_samples
value = harness.metric_value


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


def fnv1a64(data):
    value = 0xcbf29ce484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % value


def wait_for(predicate, what, timeout=harness.START_TIMEOUT):
    """Polls `predicate` until it returns something true; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


# One line of the log: "2026-12-07T09:45:26.123Z debug [4242] message".
LOG_LINE = re.compile(r"^\S+ (debug|info|warn|error) \[(\d+)\] (.*)$")


def log_lines(gw):
    return [match.groups() for match in map(LOG_LINE.match, gw.log_text().splitlines()) if match]


class OperatorTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.admin_port = harness.free_port()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"}],
            process={"model": "prefork", "workers": 2}, log_level="info",
            extra_yaml="admin: {address: 127.0.0.1:%d}\n" % cls.admin_port)
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    def get(self, path):
        return http(self.admin_port, "GET", path)

    def post(self, path, body=None):
        return http(self.admin_port, "POST", path, body)

    def info(self):
        status, _, body = self.get("/server_info")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def serving_workers(self):
        """The pids of the current generation, once every one of them serves."""
        def ready():
            if self.get("/readyz")[0] != 200:
                return None
            return sorted(w["pid"] for w in self.info()["workers"] if not w["retiring"] and w["ready"])
        return wait_for(ready, "every worker to serve")

    def not_http(self):
        """Sends HTTP to the RESP port: the worker closes it without a reply, logging that at debug."""
        sock = harness.connect(self.gw.port("resp"))
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(harness.wait_closed(sock), (True, b""))
        finally:
            sock.close()

    def test_logging_reaches_every_worker_and_respawns_until_a_reload(self):
        self.assertEqual(json.loads(self.get("/logging")[2]),
                         {"level": "info", "configured": "info", "set_by": "the configuration"})
        workers = self.serving_workers()
        master = self.gw.pid
        not_speaking = "closing a client that is not speaking its protocol"
        self.not_http()
        self.assertFalse([l for l in log_lines(self.gw) if not_speaking in l[2]], "no debug line at info")

        status, _, body = self.post("/logging?level=verbose")
        self.assertEqual(status, 400, body)
        self.assertIn("expected ?level=debug, info, warn or error, not 'verbose'", body)
        self.assertEqual(self.post("/logging")[0], 400)
        self.assertEqual(json.loads(self.get("/logging")[2])["level"], "info", "a refused level changes nothing")

        status, _, body = self.post("/logging?level=debug")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"level": "debug", "previous": "info", "workers_told": 2})
        self.assertEqual(json.loads(self.get("/logging")[2])["set_by"], "POST /logging (until the next reload)")
        # Each worker process says it took the level, under its own pid.
        told = wait_for(lambda: {int(pid) for _, pid, text in log_lines(self.gw)
                                 if "log level debug, set by the master" in text} >= set(workers) or None,
                        "both workers to take the level")
        self.assertTrue(told)
        self.not_http()
        pids = wait_for(lambda: {int(pid) for level, pid, text in log_lines(self.gw)
                                 if level == "debug" and not_speaking in text}, "a worker's debug line")
        self.assertTrue(pids <= set(workers) and master not in pids, (pids, workers, master))

        # A respawned worker inherits the level: it logs its listeners at debug as it starts.
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)  # a worker of the gateway this test started
        respawned = wait_for(lambda: [p for p in self.serving_workers() if p not in workers], "the respawn")
        wait_for(lambda: [t for l, pid, t in log_lines(self.gw)
                          if l == "debug" and int(pid) == respawned[0] and t.startswith("listener resp:")],
                 "the respawned worker's debug lines")

        # A reload sets the file's level again, in the master and in the new workers.
        status, _, body = self.post("/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(self.get("/logging")[2]),
                         {"level": "info", "configured": "info", "set_by": "the configuration"})
        self.assertIn("the log level is the configuration's again (info)", self.gw.log_text())
        fresh = wait_for(lambda: [p for p in self.serving_workers() if p not in workers + respawned] or None,
                         "the new generation")
        started = {int(pid) for _, pid, text in log_lines(self.gw) if text.startswith("rpcgate ") and "serving as" in text}
        self.assertTrue(set(fresh) <= started, "the new workers logged their start")
        self.assertFalse([t for l, pid, t in log_lines(self.gw) if l == "debug" and int(pid) in fresh],
                         "the new generation logs at the file's level")

    def test_listeners_show_address_codec_and_open_connections(self):
        status, content_type, body = self.get("/listeners")
        self.assertEqual((status, content_type), (200, "application/json"))
        listeners = {l["name"]: l for l in json.loads(body)}
        self.assertEqual(set(listeners), {"resp", "json"})
        for name, codec in (("resp", "resp"), ("json", "json")):
            address = "127.0.0.1:%d" % self.gw.port(name)
            self.assertEqual((listeners[name]["codec"], listeners[name]["address"], listeners[name]["bound"]),
                             (codec, address, address))
        def open_on(name):
            return {l["name"]: l for l in json.loads(self.get("/listeners")[2])}[name]["connections_active"]
        clients = [harness.RespClient(self.gw.port("resp")) for _ in range(3)]
        try:
            for client in clients:
                self.assertEqual(client.call("ping"), "PONG")
            self.assertEqual(open_on("resp"), 3)
            self.assertEqual(open_on("json"), 0)
        finally:
            for client in clients:
                client.close()
        wait_for(lambda: open_on("resp") == 0, "the closed connections to leave the count")

    def test_server_info_names_the_build_the_workers_and_the_file(self):
        info = self.info()
        version = subprocess.run([harness.BIN, "-v"], capture_output=True, text=True, timeout=10).stdout.split()[1]
        self.assertEqual(info["version"], version)
        self.assertIn(info["build"]["build_type"], ("Release", "Debug", "RelWithDebInfo", "MinSizeRel"))
        self.assertRegex(info["build"]["compiler"], r"^(GCC|clang) \d+")
        self.assertEqual(info["build"]["sanitizers"], harness.SANITIZED)
        self.assertEqual((info["pid"], info["process_model"], info["workers_configured"]), (self.gw.pid, "prefork", 2))
        workers = self.serving_workers()
        self.assertTrue(set(workers) <= set(harness.children(self.gw.pid)), (workers, harness.children(self.gw.pid)))
        with open(self.gw.config_path, "rb") as f:
            self.assertEqual(info["config"]["fnv1a64"], fnv1a64(f.read()))
        self.assertEqual(info["config"]["path"], os.path.realpath(self.gw.config_path))
        self.assertRegex(info["config"]["loaded"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertGreaterEqual(info["uptime_seconds"], 0)
        self.assertRegex(info["started"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_healthcheck_fail_holds_readyz_at_503_with_its_reason_across_a_reload(self):
        self.serving_workers()
        self.addCleanup(self.post, "/healthcheck/ok")
        self.assertEqual(self.get("/healthcheck/fail")[0], 405)
        status, _, body = self.post("/healthcheck/fail?reason=kernel+upgrade%0Aforged")
        self.assertEqual(status, 200, body)
        status, _, body = self.get("/readyz")
        self.assertEqual(status, 503)
        self.assertEqual(body, "not ready: failed on purpose by POST /healthcheck/fail: kernel upgrade?forged\n")
        self.assertIn("POST /healthcheck/fail: /readyz answers 503 until POST /healthcheck/ok (reason: kernel upgrade?forged)",
                      self.gw.log_text())
        self.assertEqual(value(samples(self.get("/metrics")[2]), "rpcgate_healthcheck_failed"), 1)
        self.assertEqual(self.get("/healthz")[0], 200, "alive all the same")
        self.assertEqual(self.post("/reload")[0], 200)
        time.sleep(0.3)
        status, _, body = self.get("/readyz")
        self.assertEqual(status, 503, "a reload keeps it failed")
        self.assertIn("kernel upgrade", body)
        status, _, body = self.post("/healthcheck/ok")
        self.assertEqual(status, 200, body)
        self.serving_workers()
        self.assertEqual(self.get("/readyz"), (200, "text/plain; charset=utf-8", "ready\n"))
        self.assertEqual(value(samples(self.get("/metrics")[2]), "rpcgate_healthcheck_failed"), 0)

    def test_one_table_of_pages_behind_help_404_405_and_the_start_up_line(self):
        status, _, text = self.get("/help")
        self.assertEqual(status, 200)
        pages = re.findall(r"^(GET|POST) +(/\S*)", text, re.M)
        for wanted in ("/", "/help", "/metrics", "/healthz", "/readyz", "/stats", "/clusters", "/listeners",
                       "/server_info", "/config", "/logging", "/healthcheck/fail", "/healthcheck/ok", "/drain", "/reload"):
            self.assertIn(wanted, [path for _, path in pages])
        startup = [line for line in self.gw.log_text().splitlines() if "admin port on http://" in line]
        self.assertEqual(len(startup), 1, startup)
        for method, path in pages:
            if path != "/":
                self.assertRegex(startup[0], r"[ ;]%s[,)]" % re.escape(path[1:]), "the start-up line names " + path)
            if method == "GET" and ("POST", path) not in pages:
                status, _, body = http(self.admin_port, "POST", path)
                self.assertEqual((status, body), (405, "%s answers GET\n" % path))
        self.assertEqual(http(self.admin_port, "GET", "/drain")[:3:2], (405, "/drain answers POST\n"))
        self.assertEqual(http(self.admin_port, "PUT", "/logging")[:3:2], (405, "/logging answers GET and POST\n"))
        status, _, body = self.get("/nothing")
        self.assertEqual((status, body), (404, "no such page: /nothing (GET /help lists them)\n"))
        status, content_type, body = self.get("/")
        self.assertEqual((status, content_type), (200, "text/html; charset=utf-8"))
        self.assertIn("<title>rpcgate status</title>", body)


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
