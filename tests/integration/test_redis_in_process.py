#!/usr/bin/env python3
"""What rpcgate answers in process on a RESP port, held against a real redis-server sent the same
commands: PING and ECHO with the arguments Redis refuses, INFO's errorstats, and rpcgate's own
INFO (INFO rpcgate, INFO rpcgate-SECTION), which reaches rpcgate even where a catch-all route
sends INFO itself to Redis."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespClient, RespError  # noqa: E402


def errorstats(text):
    """{code: count} from an INFO errorstats answer, with every line checked for Redis's form."""
    counts = {}
    for line in text.decode().split("\r\n"):
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"errorstat_([A-Z_]+):count=(\d+)", line)
        if match is None:
            raise AssertionError("errorstats line %r is not in Redis's form errorstat_<CODE>:count=N" % line)
        counts[match.group(1)] = int(match.group(2))
    return counts


class InProcessLikeRedisTest(harness.GatewayTestCase):
    """PING and ECHO answered by the built-in handlers, beside Redis answering the same bytes."""

    REFUSED = [("echo",), ("ECHO", "a", "b"), ("ping", "a", "b"), ("PING", "a", "b", "c")]
    SERVED = [("ping",), ("ping", "hello"), ("echo", "hello"), ("echo", "")]

    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = cls.start_gateway([{"name": "resp", "codec": "resp"}], handlers=["ping", "echo", "info"])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def both(self, *command):
        """The reply of Redis and of rpcgate to `command`, each on a fresh connection."""
        replies = []
        for port in (self.redis.port, self.gw.port("resp")):
            with RespClient(port) as client:
                replies.append(client.call(*command))
        return replies

    def test_arguments_redis_refuses_are_refused_alike(self):
        for command in self.REFUSED:
            redis_reply, gateway_reply = self.both(*command)
            self.assertIsInstance(redis_reply, RespError, command)
            self.assertIsInstance(gateway_reply, RespError, "%r answered %r; Redis refuses it: %r"
                                  % (command, gateway_reply, redis_reply))
            # The words after the code are Redis's; the code is the listener's (BAD_REQUEST on a
            # port that answers in process, as docs/redis-compatibility.md says).
            self.assertEqual(gateway_reply.args[0].split(" ", 1)[1], redis_reply.args[0].split(" ", 1)[1], command)

    def test_arguments_redis_serves_are_served_alike(self):
        for command in self.SERVED:
            redis_reply, gateway_reply = self.both(*command)
            self.assertEqual(gateway_reply, redis_reply, command)

    def test_errorstats_in_redis_form_counting_the_same_errors(self):
        before = [errorstats(reply) for reply in self.both("info", "errorstats")]
        for command in self.REFUSED:
            self.both(*command)
        after = [errorstats(reply) for reply in self.both("info", "errorstats")]
        added = [sum(a.values()) - sum(b.values()) for a, b in zip(after, before)]
        self.assertEqual(added[1], added[0], "errors counted: Redis %d, rpcgate %d (%r)" % (added[0], added[1], after))
        self.assertTrue(all(count > 0 for count in after[1].values()), "codes that never occurred are left out, "
                        "as Redis leaves them out: %r" % after[1])


class OwnInfoBehindCatchAllTest(harness.GatewayTestCase):
    """A sidecar whose catch-all route sends every command to Redis, INFO included."""

    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}], handlers=[],
            extra={"routes": [{"match": {"glob": "*"}, "cluster": "cache"}],
                   "clusters": [{"name": "cache", "codec": "resp", "endpoints": ["127.0.0.1:%d" % cls.redis.port]}]})

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def cli(self, *args):
        done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(self.gw.port("resp"))] + list(args),
                              capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_info_alone_is_redis(self):
        self.assertIn("redis_version:", self.cli("info", "server"))

    def test_info_rpcgate_is_rpcgate_formatted_by_redis_cli(self):
        out = self.cli("info", "rpcgate")
        self.assertIn("rpcgate_version:", out)
        self.assertIn("# Upstreams", out)
        self.assertNotIn("\\r\\n", out, "redis-cli should print INFO lines, not one quoted string")
        self.assertNotIn("redis_version:", out)

    def test_info_rpcgate_section(self):
        out = self.cli("INFO", "RPCgate-upstreams")
        self.assertTrue(out.startswith("# Upstreams"), out)
        self.assertIn("cluster_cache:codec=resp", out)
        self.assertNotIn("# Server", out)

    def test_redis_answers_info_rpcgate_with_nothing(self):
        # What makes the name a safe place: a client that asks Redis itself gets an empty answer.
        with RespClient(self.redis.port) as client:
            self.assertEqual(client.call("info", "rpcgate"), b"")
            self.assertEqual(client.call("info", "rpcgate-upstreams"), b"")

    def test_a_name_that_only_starts_alike_is_redis(self):
        with RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("info", "rpcgatex"), b"")


if __name__ == "__main__":
    harness.main()
