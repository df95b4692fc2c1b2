#!/usr/bin/env python3
"""The admin port's status page (GET /) in a real headless chromium: it renders the listeners, the
cluster and both endpoints of a RESP cluster in front of two real redis-servers; once one of them
is killed, the page turns that endpoint unhealthy on its own refresh (it is never reloaded); and
it asks for nothing but the admin port's own pages."""

import json
import os
import shutil
import signal
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from headless_browser import BROWSER, HeadlessBrowser  # noqa: E402

REFRESH = 0.5  # seconds, the page's ?refresh=
# What the page may fetch: its own pages, and the favicon the browser asks for by itself.
OWN_PATHS = {"/", "/config", "/server_info", "/listeners", "/stats", "/clusters", "/readyz", "/favicon.ico"}

# The page as the test reads it: the rows it rendered, by their data attributes ({} while loading).
SNAPSHOT = """JSON.stringify(!document.getElementById("banner") ? {endpoints: {}} : {
  refreshes: Number(document.body.dataset.refreshes || 0),
  banner: document.getElementById("banner").textContent,
  listeners: [...document.querySelectorAll("#listeners tbody tr")].map(r => r.dataset.listener),
  clusters: [...document.querySelectorAll("#clusters tr.cluster")].map(r => r.dataset.cluster),
  endpoints: Object.fromEntries([...document.querySelectorAll("#clusters tr[data-endpoint]")]
                                .map(r => [r.dataset.endpoint, r.dataset.health])),
  routes: document.querySelectorAll("#routes tbody tr").length,
})"""


class StatusPageTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        if not os.access(BROWSER, os.X_OK) or not shutil.which("redis-server"):
            raise RuntimeError("chromium and redis-server are needed: scripts/install-deps.sh --with-tests")
        cls.redis = []
        for _ in range(2):
            cls.redis.append(harness.RedisServer().start())
            # A class cleanup runs even when setUpClass fails later on: no redis-server outlives the test.
            cls.addClassCleanup(cls.redis[-1].stop)
        cls.admin_port = harness.free_port()
        endpoints = ", ".join("127.0.0.1:%d" % r.port for r in cls.redis)
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}], process={"model": "prefork", "workers": 2}, log_level="info", handlers=[],
            extra_yaml="admin: {address: 127.0.0.1:%d}\n"
                       "routes:\n  - {match: {glob: '*'}, cluster: cache}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [%s],\n"
                       "     health_check: {method: ping, interval: 200ms, timeout: 200ms, unhealthy_threshold: 1}}\n"
                       % (cls.admin_port, endpoints))
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    def wait_page(self, browser, page, predicate, what, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            seen = json.loads(browser.evaluate(page, SNAPSHOT))
            if predicate(seen):
                return seen
            if time.monotonic() > deadline:
                self.fail("the page never showed %s; it shows %s" % (what, seen))
            time.sleep(0.1)

    def test_renders_turns_a_killed_endpoint_unhealthy_and_fetches_only_its_own_pages(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            for i in range(20):
                self.assertEqual(client.call("set", "k%d" % i, "v"), "OK")
        alive, killed = ["127.0.0.1:%d" % r.port for r in self.redis]
        origin = "http://127.0.0.1:%d" % self.admin_port
        with HeadlessBrowser() as browser:
            page = browser.open("%s/?refresh=%s" % (origin, REFRESH))
            seen = self.wait_page(browser, page, lambda s: s["endpoints"] == {alive: "up", killed: "up"},
                                  "both endpoints up")
            self.assertEqual((seen["listeners"], seen["clusters"], seen["routes"]), (["resp"], ["cache"], 1))
            listener_text = browser.evaluate(page, "document.querySelector('#listeners tbody').innerText")
            self.assertIn("127.0.0.1:%d" % self.gw.port("resp"), listener_text)

            before = seen["refreshes"]
            os.kill(self.redis[1].pid, signal.SIGKILL)  # the redis-server this test started
            self.redis[1].proc.wait(10)
            seen = self.wait_page(browser, page, lambda s: s["endpoints"].get(killed) == "down",
                                  "the killed endpoint down")
            self.assertEqual(seen["endpoints"][alive], "up", "the other endpoint is untouched")
            self.assertGreater(seen["refreshes"], before, "it was the page's own refresh")
            self.assertEqual(seen["banner"], "", "no refresh failed")
            self.assertEqual(browser.page_errors(), [])

            urls = browser.requested_urls()
            foreign = [u for u in urls if not u.startswith(origin + "/")]
            self.assertEqual(foreign, [], "requests outside the admin port")
            paths = [urlsplit(u).path for u in urls]
            self.assertEqual(set(paths) - OWN_PATHS, set(), "pages the admin port does not serve")
            self.assertGreaterEqual(paths.count("/clusters"), 2, "it refreshed from /clusters")
            self.assertGreaterEqual(paths.count("/stats"), 2, "it refreshed from /stats")


if __name__ == "__main__":
    harness.main()
