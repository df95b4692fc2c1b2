#!/usr/bin/env python3
"""bench/'s compiled tools against real servers. rpcgate-loadgen, on every codec of rpcgate, on
a real redis-server (directly and through rpcgate) and on the floor server: it answers for exactly
the requests asked, with no error, and the server's own counters agree. It finds wrong answers
and closed connections, and exits 1 for them. rpcgate-floor answers the load generator and
redis-benchmark, and exits 0 on SIGTERM. Counts are small: the point is behaviour, not speed."""

import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Beside the rpcgate under test (build/bench/), unless RPCGATE_BENCH_DIR names another build's, e.g.
# to run the sanitized tools against a Release rpcgate.
BENCH_BIN = os.environ.get("RPCGATE_BENCH_DIR") or os.path.join(os.path.dirname(harness.BIN), "bench")
LOADGEN = os.path.join(BENCH_BIN, "rpcgate-loadgen")
FLOOR = os.path.join(BENCH_BIN, "rpcgate-floor")
RUN_TIMEOUT = 30  # seconds for one loadgen run; each is given --duration 15


def loadgen(port, *args):
    """Runs rpcgate-loadgen --json; returns (exit status, the JSON report or None, stderr)."""
    command = [LOADGEN, "--port", str(port), "--duration", "15", "--json"] + [str(a) for a in args]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    report = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, report, done.stderr


class Floor:
    """rpcgate-floor on a port it picks itself (--port 0), read from its 'listening on' line."""

    def __init__(self, codec):
        self.codec = codec
        self.proc = None
        self.port = None

    def __enter__(self):
        self.proc = subprocess.Popen([FLOOR, "--port", "0", "--codec", self.codec], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = harness.first_line(self.proc)
        match = re.fullmatch(rb"listening on 127\.0\.0\.1:(\d+)\n", line)
        if not match:
            self.stop()
            raise RuntimeError("rpcgate-floor --codec %s printed %r" % (self.codec, line))
        self.port = int(match.group(1))
        return self

    def stop(self):
        status = harness.stop_process(self.proc)
        self.proc.stdout.close()
        return status

    def __exit__(self, *exc):
        self.stop()
        return False


class LoadgenTestCase(harness.GatewayTestCase):
    def assertClean(self, run, requests):
        rc, report, stderr = run
        self.assertIsNotNone(report, "no report; stderr: %s" % stderr)
        self.assertEqual((rc, report["requests"], report["errors"], report["first_error"]), (0, requests, 0, None),
                         "report: %s; stderr: %s" % (report, stderr))
        self.assertGreater(report["rps"], 0)
        self.assertTrue(0 < report["p50_us"] <= report["p99_us"] <= report["max_us"], report)

    def assertCaught(self, run, errors, words):
        rc, report, stderr = run
        self.assertIsNotNone(report, "no report; stderr: %s" % stderr)
        self.assertEqual((rc, report["errors"]), (1, errors), report)
        self.assertIn(words, report["first_error"] or "", report)


def redis_calls(port):
    """{'set': calls, 'get': calls} from INFO commandstats."""
    info = harness.redis_client(port).info("commandstats")
    return {name: info.get("cmdstat_" + name, {}).get("calls", 0) for name in ("set", "get")}


class LoadgenAgainstRpcgate(LoadgenTestCase):
    """Every codec of one rpcgate (model single), set/get through it to a real Redis; the stats
    are asked on a listener of their own, so each data listener's count is the loadgen's alone."""

    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.redis = harness.RedisServer().start()
        cls.addClassCleanup(cls.redis.stop)  # runs after tearDownClass, and even if the gateway fails to start
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"},
             {"name": "proto", "codec": "protobuf"}, {"name": "ctl", "codec": "json"}],
            handlers={"enable": harness.DEFAULT_HANDLERS, "pi_max_terms": 1000}, log_level="info",
            # The test counts answers, not latency: a request_timeout far above the default 1 s
            # keeps a loaded CI host (the sanitizer stage, a neighbour's build) from turning a
            # slow answer into a TIMEOUT.
            extra_yaml="routes:\n  - {match: {methods: [set, get]}, cluster: cache}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d], request_timeout: 20s}\n"
                       % cls.redis.port)

    def stats(self):
        with harness.JsonClient(self.gw.port("ctl")) as client:
            return client.call("stats")["result"]

    def counted(self, before, after, listener):
        return after["listeners"][listener]["requests"] - before["listeners"][listener]["requests"]

    def test_resp_ping_plain_and_pipelined(self):
        before = self.stats()
        self.assertClean(loadgen(self.gw.port("resp"), "--requests", 20000, "--connections", 20), 20000)
        self.assertClean(loadgen(self.gw.port("resp"), "--requests", 50000, "--pipeline", 16), 50000)
        self.assertEqual(self.counted(before, self.stats(), "resp"), 70000)

    def test_resp_set_and_get_through_rpcgate_reach_redis(self):
        before, redis_before = self.stats(), redis_calls(self.redis.port)
        self.assertClean(loadgen(self.gw.port("resp"), "--command", "set", "--requests", 5000,
                                 "--value-size", 100, "--pipeline", 4), 5000)
        self.assertClean(loadgen(self.gw.port("resp"), "--command", "get", "--requests", 6000,
                                 "--key-space", 300, "--value-size", 20, "--pipeline", 4), 6000)
        after, redis_after = self.stats(), redis_calls(self.redis.port)
        self.assertEqual(self.counted(before, after, "resp"), 5000 + 300 + 6000)  # the get run's warm-up SETs 300 keys
        self.assertEqual(after["clusters"]["cache"]["requests"] - before["clusters"]["cache"]["requests"], 11300)
        self.assertEqual({k: redis_after[k] - redis_before[k] for k in redis_after}, {"set": 5300, "get": 6000})
        # The values are the loadgen's: a key's last digits, then 'x'.
        self.assertEqual(harness.redis_client(self.redis.port).get("key:000000000123"), b"000000000123xxxxxxxx")

    def test_json_ping_with_params_and_pi(self):
        before = self.stats()
        port = self.gw.port("json")
        self.assertClean(loadgen(port, "--codec", "json", "--requests", 10000), 10000)
        self.assertClean(loadgen(port, "--codec", "json", "--requests", 3000, "--pipeline", 4,
                                 "--params", '{"a": [1, 2.5, "\\u00e9"], "b": null}'), 3000)
        self.assertClean(loadgen(port, "--codec", "json", "--command", "pi", "--params", 500,
                                 "--requests", 2000, "--connections", 4), 2000)
        self.assertEqual(self.counted(before, self.stats(), "json"), 15000)

    def test_protobuf_ping_plain_and_pipelined(self):
        before = self.stats()
        self.assertClean(loadgen(self.gw.port("proto"), "--codec", "protobuf", "--requests", 10000), 10000)
        self.assertClean(loadgen(self.gw.port("proto"), "--codec", "protobuf", "--requests", 20000,
                                 "--pipeline", 16, "--connections", 10), 20000)
        self.assertEqual(self.counted(before, self.stats(), "proto"), 30000)

    def test_error_answers_are_counted(self):
        # pi above handlers.pi_max_terms (1000 here) is answered BAD_REQUEST: 50 error answers.
        self.assertCaught(loadgen(self.gw.port("json"), "--codec", "json", "--command", "pi", "--params", 1001,
                                  "--requests", 50, "--connections", 5), 50, "error answer")
        self.assertAlive()


class LoadgenAgainstRedis(LoadgenTestCase):
    def test_set_and_get_on_redis_itself(self):
        with harness.RedisServer() as redis:
            self.assertClean(loadgen(redis.port, "--command", "set", "--requests", 20000, "--pipeline", 8), 20000)
            self.assertClean(loadgen(redis.port, "--command", "get", "--requests", 20000, "--key-space", 1000,
                                     "--value-size", 64), 20000)
            self.assertEqual(redis_calls(redis.port), {"set": 21000, "get": 20000})  # 1000 warm-up SETs


class LoadgenAndFloor(LoadgenTestCase):
    def test_floor_answers_the_loadgen_on_both_codecs(self):
        with Floor("resp") as resp, Floor("json") as js:
            self.assertClean(loadgen(resp.port, "--requests", 20000), 20000)
            self.assertClean(loadgen(resp.port, "--requests", 50000, "--pipeline", 16), 50000)
            self.assertClean(loadgen(js.port, "--codec", "json", "--requests", 20000), 20000)
            self.assertClean(loadgen(js.port, "--codec", "json", "--requests", 50000, "--pipeline", 16), 50000)
            self.assertEqual((resp.stop(), js.stop()), (0, 0), "SIGTERM must end the floor with status 0")

    def test_floor_answers_redis_benchmark(self):
        with Floor("resp") as floor:
            done = subprocess.run(["redis-benchmark", "-h", harness.LOOPBACK, "-p", str(floor.port), "-t", "ping",
                                   "-n", "10000", "-q"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT)
            rates = re.findall(r"^(PING_INLINE|PING_MBULK): ([0-9.]+) requests per second", done.stdout, re.M)
            self.assertEqual((done.returncode, sorted(name for name, _ in rates)), (0, ["PING_INLINE", "PING_MBULK"]),
                             done.stdout + done.stderr)

    def test_wrong_answers_are_errors(self):
        # The floor answers every JSON frame with result null: a ping whose params are 1 must get 1.
        with Floor("json") as floor:
            run = loadgen(floor.port, "--codec", "json", "--params", 1, "--requests", 3000, "--connections", 10)
            self.assertCaught(run, 3000, '"result" is not the expected value')
            self.assertEqual(run[1]["requests"], 3000, run[1])
            self.assertIn('{\\"out\\": \\"pong\\", \\"result\\": null}', run[1]["first_error"])
        # It answers PING only: a SET gets an error reply, which is shown as it came.
        with Floor("resp") as floor:
            run = loadgen(floor.port, "--command", "set", "--requests", 200, "--connections", 2, "--pipeline", 4)
            self.assertCaught(run, 200, 'error reply: "-ERR the floor server answers PING only\\r\\n"')

    def test_a_closed_connection_is_an_error(self):
        # A protobuf length is big-endian: the JSON floor reads 8 as 134217728 bytes, above its
        # 16 MiB bound, and closes each connection.
        with Floor("json") as floor:
            self.assertCaught(loadgen(floor.port, "--codec", "protobuf", "--requests", 100, "--connections", 3),
                              3, "the server closed the connection with 1 request unanswered")
            self.assertClean(loadgen(floor.port, "--codec", "json", "--requests", 100), 100)  # still serving

    def test_bad_options_and_refused_connects_exit_2(self):
        with harness.occupied_port() as port:
            pass  # the port is free again, and nothing listens on it
        done = subprocess.run([LOADGEN, "--port", str(port)], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(done.returncode, 2)
        self.assertIn("cannot connect to 127.0.0.1:%d" % port, done.stderr)
        for args, words in ((["--pipeline", "0"], "bad value '0' for --pipeline"),
                            (["--codec", "protobuf", "--command", "get"], "not available with --codec protobuf"),
                            (["--codec", "json", "--params", "[1,"], "not valid JSON")):
            done = subprocess.run([LOADGEN] + args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
            self.assertEqual(done.returncode, 2, args)
            self.assertIn(words, done.stderr)


if __name__ == "__main__":
    harness.main()
