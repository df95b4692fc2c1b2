#!/usr/bin/env python3
"""bench/run.py's grpc section as a smoke run: one round, small counts, into a temporary directory.
Every path (rpcgate in-process, the C++ gRPC server, rpcgate and nginx in front of it, the
translations to and from the legacy service) must pass its bit-for-bit probe, and every run must be
valid: h2load saw one message of the right size per call, rpcgate-loadgen checked every answer.
Speed is not checked.

It needs the benchmark's own packages (scripts/install-deps.sh --with-bench: h2load, libgrpc++ for
rpcgate-grpc-pi-server, nginx), which CI does not install: without them it is skipped, saying
which is missing."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BENCH_BIN = os.environ.get("RPCGATE_BENCH_DIR") or os.path.join(os.path.dirname(harness.BIN), "bench")
RUN_TIMEOUT = 180  # seconds; the run itself takes well under a minute
TARGETS = {"rpcgate-pi", "grpc-server", "rpcgate-proxy", "rpcgate-passthrough", "nginx-proxy", "rpcgate-to-legacy",
           "legacy-direct", "legacy-via-rpcgate"}


def missing_tools():
    missing = [tool for tool in ("h2load", "nginx", "protoc") if not shutil.which(tool)]
    if not os.access(os.path.join(BENCH_BIN, "rpcgate-grpc-pi-server"), os.X_OK):
        missing.append("rpcgate-grpc-pi-server (built only where libgrpc++-dev is installed)")
    try:
        import grpc  # noqa: F401
    except ImportError:
        missing.append("Python's gRPC (python3-grpcio)")
    return missing


class BenchGrpcSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        missing = missing_tools()
        if missing:
            raise unittest.SkipTest("the grpc benchmark needs %s (scripts/install-deps.sh --with-bench)"
                                    % ", ".join(missing))
        cls.out = tempfile.mkdtemp(prefix="rpcgate-bench-grpc-")
        command = [sys.executable, os.path.join(harness.BENCH_DIR, "run.py"), "--quick", "--only", "grpc",
                   "--scale", "0.25", "--rpcgate", harness.BIN, "--bench-bin", BENCH_BIN, "--out", cls.out, "--json"]
        cls.done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT)
        with open(os.path.join(cls.out, "benchmark-results.md")) as f:
            cls.markdown = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(getattr(cls, "out", ""), ignore_errors=True)

    def context(self):
        return "exit %s; stderr tail:\n%s" % (self.done.returncode, self.done.stderr[-3000:])

    def test_every_path_is_probed_and_measured_and_none_is_invalid(self):
        self.assertEqual(self.done.returncode, 0, self.context())
        report = json.loads(self.done.stdout)
        self.assertFalse([x for x in report["skipped"] if not x.startswith("chart:")], report["skipped"])
        samples = report["samples"]
        self.assertEqual({s["target"] for s in samples}, TARGETS)
        self.assertEqual(len(samples), 3 * len(TARGETS))  # three shapes, one round
        for s in samples:
            self.assertIsNone(s["error"], s)
            self.assertGreater(s["requests"], 0, s)
            self.assertIsNotNone(s["tests"]["pi"]["p99_ms"], s)

    def test_the_report_has_the_section_and_its_ratios(self):
        self.assertIn("## 7. gRPC", self.markdown, self.context())
        self.assertNotRegex(self.markdown, r"\*\*INVALID\*\*( in|:)")
        for pair in ("rpcgate-pi / grpc-server", "rpcgate-proxy / nginx-proxy",
                     "legacy-via-rpcgate / grpc-server (h2load)"):
            self.assertIn(pair, self.markdown)


if __name__ == "__main__":
    harness.main()
