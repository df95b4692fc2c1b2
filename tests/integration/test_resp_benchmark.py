#!/usr/bin/env python3
"""redis-benchmark against the resp listener (redis-benchmark must work against it, docs/protocols.md "resp"):
both PING tests, plain and pipelined, finish without error or warning, and the gateway counted
every command."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REQUESTS = 20000
RATE = re.compile(r"^(PING_INLINE|PING_MBULK): ([0-9.]+) requests per second")


def run_benchmark(port, *extra):
    command = ["redis-benchmark", "-h", harness.LOOPBACK, "-p", str(port),
               "-t", "ping", "-n", str(REQUESTS), "-q"] + list(extra)
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return {"command": command, "rc": None, "output": "redis-benchmark is not installed (apt-get install redis-tools)"}
    except subprocess.TimeoutExpired as timeout:
        return {"command": command, "rc": None, "output": "timed out after 60 s: %r" % (timeout.stdout,)}
    return {"command": command, "rc": done.returncode, "output": done.stdout + done.stderr}


def result_lines(output):
    # Progress lines end in \r; the results end in \n.
    return [line.strip() for line in re.split(r"[\r\n]", output) if line.strip()]


class RedisBenchmarkTest(harness.GatewayTestCase):
    """Runs redis-benchmark twice (plain, then -P 16) once; each test checks one aspect."""

    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway([{"name": "resp", "codec": "resp"}], log_level="info")
        cls.before = cls.commands_processed()
        cls.runs = [run_benchmark(cls.gw.port("resp")), run_benchmark(cls.gw.port("resp"), "-P", "16")]
        cls.after = cls.commands_processed()

    @classmethod
    def commands_processed(cls):
        with harness.RespClient(cls.gw.port("resp")) as client:
            info = client.call("INFO")
        if not isinstance(info, bytes):
            return "INFO answered %r" % (info,)
        match = re.search(rb"^total_commands_processed:(\d+)\r?$", info, re.M)
        return int(match.group(1)) if match else "INFO has no total_commands_processed line: %r" % info

    def describe(self, run):
        return "%s (exit %s):\n%s" % (" ".join(run["command"]), run["rc"], run["output"])

    def test_exit_status_and_rates(self):
        for run in self.runs:
            self.assertEqual(run["rc"], 0, self.describe(run))
            rates = {}
            for line in result_lines(run["output"]):
                match = RATE.match(line)
                if match:
                    rates[match.group(1)] = float(match.group(2))
            self.assertEqual(sorted(rates), ["PING_INLINE", "PING_MBULK"],
                             "expected a requests-per-second line for both PING tests: " + self.describe(run))
            for name, rate in rates.items():
                self.assertGreater(rate, 0, "%s: %s requests per second" % (name, rate))
            print("\n%s: %s" % (" ".join(run["command"][10:]) or "no pipelining",
                                ", ".join("%s %.0f/s" % kv for kv in sorted(rates.items()))))

    def test_no_error_or_warning_messages(self):
        # docs/protocols.md: redis-benchmark -t ping must work without error messages. It asks
        # CONFIG GET save / appendonly first and warns when that fails.
        for run in self.runs:
            for line in result_lines(run["output"]):
                lowered = line.lower()
                for word in ("error", "warn", "could not", "cannot", "closed"):
                    self.assertNotIn(word, lowered, "redis-benchmark printed %r; %s" % (line, self.describe(run)))

    def test_info_counts_every_command(self):
        self.assertIsInstance(self.before, int, self.before)
        self.assertIsInstance(self.after, int, self.after)
        self.assertGreaterEqual(self.after - self.before, 4 * REQUESTS,
                                "INFO total_commands_processed grew by %d; two runs of two %d-request tests "
                                "should add at least %d" % (self.after - self.before, REQUESTS, 4 * REQUESTS))
        self.assertAlive()


if __name__ == "__main__":
    harness.main()
