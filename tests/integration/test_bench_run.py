#!/usr/bin/env python3
"""bench/run.py, the one-command benchmark, as a smoke run: its cheapest section (RESP PING against
rpcgate, redis-server and the floor, with redis-benchmark and rpcgate-loadgen; no nutcracker or
haproxy needed), one round, small counts, into a temporary directory. It must finish, write a
table with a number in every row and no INVALID row, and its raw JSON must agree. Speed is not
checked: the point is that the harness runs and checks answers."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BENCH_BIN = os.environ.get("RPCGATE_BENCH_DIR") or os.path.join(os.path.dirname(harness.BIN), "bench")
RUN_TIMEOUT = 120  # seconds; the run itself takes well under a minute
TARGETS = ("rpcgate-1", "rpcgate-auto", "redis", "floor")


class BenchRunSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        for tool in ("redis-server", "redis-benchmark"):
            if not shutil.which(tool):
                raise RuntimeError("%s not found (scripts/install-deps.sh --with-tests)" % tool)
        cls.out = tempfile.mkdtemp(prefix="rpcgate-bench-run-")
        command = [sys.executable, os.path.join(harness.BENCH_DIR, "run.py"), "--quick", "--only", "ping",
                   "--scale", "0.25", "--rpcgate", harness.BIN, "--bench-bin", BENCH_BIN, "--out", cls.out, "--json"]
        started = time.monotonic()
        cls.done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT)
        cls.elapsed = time.monotonic() - started
        cls.markdown = ""
        path = os.path.join(cls.out, "benchmark-results.md")
        if os.path.exists(path):
            with open(path) as f:
                cls.markdown = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def context(self):
        return "exit %s after %.0f s; stderr tail:\n%s" % (self.done.returncode, self.elapsed, self.done.stderr[-3000:])

    def test_runs_and_writes_the_report(self):
        self.assertEqual(self.done.returncode, 0, self.context())
        self.assertIn("Generated file", self.markdown, self.context())
        self.assertIn("## 1. RESP PING answered in-process", self.markdown)
        self.assertRegex(self.markdown, r"total time: \*\*[\d.]+ min\*\*")

    def test_every_row_has_numbers_and_none_is_invalid(self):
        self.assertNotRegex(self.markdown, r"\*\*INVALID\*\*( in|:)", self.context())  # how a table marks one
        table = self.markdown.split("## 1. RESP PING answered in-process", 1)[-1].split("Ratios of the medians", 1)[0]
        rows = [line for line in table.splitlines()
                if line.startswith("| ") and "req/s" not in line and not line.startswith("|---")]
        self.assertEqual(len(rows), 3 * 2 * len(TARGETS), table)  # shapes x tools x targets
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split("|")]
            self.assertIn(cells[2], TARGETS, row)
            rate = re.match(r"([\d,]+) \(", cells[4])
            self.assertTrue(rate and int(rate.group(1).replace(",", "")) > 0, row)
            for cell in cells[5:8]:  # p50, p99, server CPU per request
                self.assertRegex(cell, r"^\d+\.\d+", row)
            self.assertEqual(cells[10], "1/1", row)

    def test_the_raw_results_agree(self):
        report = json.loads(self.done.stdout)
        samples = report["samples"]
        self.assertEqual(len(samples), 3 * 2 * len(TARGETS))
        for s in samples:
            self.assertIsNone(s["error"], s)
            self.assertGreater(s["requests"], 0, s)
            self.assertGreaterEqual(s["server_cpu_us"], 0, s)  # a tick is 10 ms: a short run may show 0
        self.assertEqual({s["target"] for s in samples}, set(TARGETS))
        self.assertFalse([x for x in report["skipped"] if not x.startswith("chart:")], report["skipped"])


if __name__ == "__main__":
    harness.main()
