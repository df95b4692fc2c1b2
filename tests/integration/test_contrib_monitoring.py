#!/usr/bin/env python3
"""contrib/: the Grafana dashboard parses, and every metric and `by` label its queries name (and
those of the Prometheus recording rules) is one a real rpcgate serves on /metrics, so neither can
drift from admin/metrics.cpp; promtool accepts the rules."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_admin import http, samples  # noqa: E402

DASHBOARD = os.path.join(harness.SOURCE_DIR, "contrib", "grafana", "rpcgate-dashboard.json")
RULES = os.path.join(harness.SOURCE_DIR, "contrib", "prometheus", "rpcgate-rules.yml")
METRIC = re.compile(r"\brpcgate_[a-zA-Z0-9_]+")
BY = re.compile(r"\bby\s*\(([^)]*)\)")
# Labels Prometheus adds at scrape time, and the histogram bucket's.
SCRAPE_LABELS = {"job", "instance", "le"}


def dashboard_queries(dashboard):
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((panel["title"], target["expr"]))
    return queries


def rule_queries():
    """(record, expr) of every rule: a small reader for the file's one shape (no YAML module here)."""
    with open(RULES) as f:
        text = f.read()
    queries = []
    for block in re.split(r"\n\s*- record: ", text)[1:]:
        name, _, rest = block.partition("\n")
        expr = rest.split("expr:", 1)[1]
        expr = expr.split("\n      #", 1)[0]  # a comment before the next rule
        queries.append((name.strip(), " ".join(line.strip(" |") for line in expr.splitlines())))
    return queries


class MonitoringContribTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.admin_port = harness.free_port()
        cls.gw = cls.start_gateway(
            [{"name": "json", "codec": "json"}], process={"model": "prefork", "workers": 1}, log_level="info",
            extra_yaml="admin: {address: 127.0.0.1:%d}\nroutes:\n  - {match: {method: x}, cluster: c}\n"
                       "clusters:\n  - {name: c, codec: json, endpoints: [127.0.0.1:%d]}\n"
                       % (cls.admin_port, harness.free_port()))
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")
        status, _, body = http(cls.admin_port, "GET", "/metrics")
        assert status == 200, body
        # {metric name: every label name its series carry}
        cls.scraped = {}
        for name, labels in samples(body):
            cls.scraped.setdefault(name, set()).update(label for label, _ in labels)

    def check_query(self, where, expr):
        names = set(METRIC.findall(expr))
        self.assertTrue(names, "%s: no rpcgate metric in %r" % (where, expr))
        missing = names - set(self.scraped)
        self.assertEqual(missing, set(), "%s: not served on /metrics" % where)
        carried = set(SCRAPE_LABELS).union(*(self.scraped[name] for name in names))
        for group in BY.findall(expr):
            labels = {label.strip() for label in group.split(",") if label.strip()}
            self.assertEqual(labels - carried, set(), "%s: labels none of %s carries" % (where, sorted(names)))

    def test_the_dashboard_parses_and_queries_only_what_metrics_serves(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        self.assertEqual(dashboard["uid"], "rpcgate-overview")
        queries = dashboard_queries(dashboard)
        self.assertGreaterEqual(len(queries), 20)
        for title, expr in queries:
            self.check_query("dashboard panel %r" % title, expr)
        used = {name for _, expr in queries for name in METRIC.findall(expr)}
        for wanted in ("rpcgate_requests_total", "rpcgate_request_errors_total", "rpcgate_route_requests_total",
                       "rpcgate_request_duration_seconds_bucket", "rpcgate_upstream_endpoints_usable",
                       "rpcgate_connections_active", "rpcgate_workers"):
            self.assertIn(wanted, used, "a panel for " + wanted)

    def test_the_recording_rules_pass_promtool_and_use_only_what_metrics_serves(self):
        self.assertTrue(shutil.which("promtool"), "promtool is missing: scripts/install-deps.sh --with-tests")
        check = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        queries = rule_queries()
        self.assertIn("SUCCESS: %d rules found" % len(queries), check.stdout)
        for record, expr in queries:
            self.check_query("rule " + record, expr)


if __name__ == "__main__":
    harness.main()
