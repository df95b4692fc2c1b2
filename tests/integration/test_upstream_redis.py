#!/usr/bin/env python3
"""A real redis-server behind the RESP listener, through the example sidecar config
(conf/examples/redis-sidecar.yaml): every answer through the gateway is compared with the answer
of the same Redis asked directly, in the same test. Also: a JSON and a protobuf client calling
Redis (translation), interleaved pipelines that mix Redis, in-process handlers and errors, and
redis-benchmark through the gateway."""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def redis_cli(port, *args, stdin=None):
    done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(port)] + list(args),
                          input=stdin, capture_output=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


class RedisSidecarTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = cls.start_gateway_from_example(
            "redis-sidecar.yaml", {6379: cls.redis.port}, log_level="info")
        cls.via = cls.gw.port("resp")

    @classmethod
    def start_gateway_from_example(cls, name, upstream_ports, **kwargs):
        gw = harness.ExampleGateway(name, upstream_ports, **kwargs).start()
        cls.gateways = tuple(cls.gateways) + (gw,)
        return gw

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def both(self, *args, stdin=None):
        """redis-cli's answer through the gateway and straight from Redis, on distinct keys."""
        return redis_cli(self.via, *args, stdin=stdin), redis_cli(self.redis.port, *args, stdin=stdin)

    def assertSameAsRedis(self, *commands):
        for command in commands:
            # Each side writes its own keys so that the direct run does not see the other's state.
            through, direct = (redis_cli(self.via, *[a.replace("{k}", "gw") for a in command]),
                               redis_cli(self.redis.port, *[a.replace("{k}", "direct") for a in command]))
            rc, out, err = through
            self.assertEqual((rc, out.replace(b"gw:", b"direct:"), err), direct, "command %r" % (command,))

    def test_redis_cli_commands_answer_like_redis(self):
        self.assertSameAsRedis(
            ["del", "{k}:s", "{k}:n", "{k}:h"],
            ["set", "{k}:s", "hello world"],
            ["get", "{k}:s"],
            ["get", "{k}:missing"],
            ["incr", "{k}:n"],
            ["incrby", "{k}:n", "41"],
            ["mget", "{k}:s", "{k}:n", "{k}:missing"],
            ["hset", "{k}:h", "a", "1", "b", "two"],
            ["hgetall", "{k}:h"],
            ["incr", "{k}:s"],                     # an error reply, as Redis words it
            ["lpush", "{k}:s", "x"],               # WRONGTYPE
            ["exists", "{k}:s", "{k}:missing"],
            ["del", "{k}:s", "{k}:n", "{k}:h"],
        )

    def test_commands_rpcgate_does_not_know_are_forwarded_as_they_are(self):
        # Whatever the command and its syntax: Redis answers, and the answer comes back unchanged.
        self.assertSameAsRedis(
            ["set", "{k}:e", "v"],
            ["expire", "{k}:e", "100", "NX"],
            ["expire", "{k}:e", "50", "GT"],
            ["expire", "{k}:e", "200", "XX"],
            ["expire", "{k}:e", "10", "LT"],
            ["ttl", "{k}:e"],
            ["object", "encoding", "{k}:e"],
            ["rename", "{k}:e", "{k}:renamed"],
            ["exists", "{k}:e", "{k}:renamed"],
            ["keys", "{k}:*"],
            ["scan", "0", "MATCH", "{k}:*", "COUNT", "1000"],
            ["xadd", "{k}:stream", "1-1", "field", "value"],
            ["xadd", "{k}:stream", "2-1", "field", "other"],
            ["xrange", "{k}:stream", "-", "+"],
            ["xlen", "{k}:stream"],
            ["config", "get", "maxmemory-policy"],
            ["debug", "sleep", "0"],
            ["function", "list"],
            ["foo", "bar"],                         # unknown: Redis's own error, connection kept
            ["del", "{k}:renamed", "{k}:stream"],
            ["config", "set", "maxmemory-policy", "noeviction"],
            ["flushall"],
            ["dbsize"],
        )
        with harness.RespClient(self.via) as client:
            self.assertIn("unknown command", str(client.call("FOO")))
            self.assertEqual(client.call("PING"), "PONG")  # the same connection goes on
            seconds, micros = client.call("TIME")        # Redis's TIME, not a local one
            self.assertAlmostEqual(int(seconds), time.time(), delta=5)
            self.assertTrue(micros.isdigit())

    def error_and_close(self, port, data):
        """The first line a server answers to `data`, and whether it then closed the connection."""
        sock = harness.connect(port)
        try:
            harness.send_ignoring_reset(sock, data)
            reply = b""
            deadline = time.monotonic() + 5
            while b"\r\n" not in reply and time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n")[0], harness.wait_closed(sock)[0]
        finally:
            sock.close()

    def test_protocol_errors_read_as_redis_writes_them(self):
        cases = [
            b"*abc\r\n",                      # invalid multibulk length
            b"*1\r\n$abc\r\n",                # invalid bulk length
            b"*1\r\n:1\r\n",                  # expected '$', got ':'
            b'set "a b\r\n',                  # unbalanced quotes in request
            b"*3000000000\r\n",               # a count out of range, refused at once
            b"*1\r\n$2000000000\r\n",         # a length out of range, refused at once
            b"x" * (70 * 1024),                # too big inline request
        ]
        for data in cases:
            through = self.error_and_close(self.via, data)
            direct = self.error_and_close(self.redis.port, data)
            self.assertTrue(direct[0].startswith(b"-ERR Protocol error"), (data[:20], direct))
            self.assertEqual(through, direct, data[:20])

    def test_binary_and_large_values_round_trip(self):
        through = harness.redis_client(self.via)
        direct = harness.redis_client(self.redis.port)
        binary = bytes(range(256)) * 4 + b"\r\n$-1\r\n*3\r\n"
        big = os.urandom(1 << 20)  # 1 MiB
        for key, value in ((b"bin:\x00\xff", binary), (b"big", big), (b"empty", b"")):
            self.assertTrue(through.set(key, value))
            self.assertEqual(direct.get(key), value)     # what Redis stored is what was sent
            self.assertEqual(through.get(key), value)    # and it comes back unchanged
        self.assertEqual(through.strlen(b"big"), 1 << 20)
        through.delete(b"bin:\x00\xff", b"big", b"empty")

    def test_pipeline_of_ten_thousand_commands(self):
        def run(port, prefix):
            client = harness.redis_client(port, timeout=30)
            pipe = client.pipeline(transaction=False)
            for i in range(10000):
                key = "%s:%d" % (prefix, i % 100)
                [pipe.set, pipe.get, pipe.incr, pipe.append][i % 4](key, *([str(i)] if i % 4 in (0, 3) else []))
            results = pipe.execute(raise_on_error=False)
            client.delete(*["%s:%d" % (prefix, i) for i in range(100)])
            return [r if not isinstance(r, Exception) else "error: %s" % r for r in results]

        through = run(self.via, "p")
        direct = run(self.redis.port, "p")
        self.assertEqual(len(through), 10000)
        self.assertEqual(through, direct)

    def test_interleaved_pipeline_keeps_request_order(self):
        # In one write: commands for Redis (some forwarded byte for byte, CALL translated), a
        # connection command the listener answers, the pi handler on the thread pool, and
        # Redis's own error for a command it does not know.
        pi10 = repr(harness.import_bench("legacy_server").compute_pi(10)).encode()
        with harness.RespClient(self.via) as client:
            commands = []
            for i in range(200):
                commands += [("SET", "order:%d" % i, str(i)), ("ECHO", "e%d" % i), ("CALL", "echo", '{"n": %d}' % i),
                             ("GET", "order:%d" % i), ("PI", "10"), ("INCR", "order:%d" % i), ("NOSUCHCOMMAND", "x")]
            client.send_raw(b"".join(harness.resp_command(*c) for c in commands))
            answers = [client.read(timeout=20) for _ in commands]
            client.call("DEL", *["order:%d" % i for i in range(200)])
        for i in range(200):
            got = answers[7 * i:7 * i + 7]
            self.assertEqual(got[0], "OK")
            self.assertEqual(got[1], b"e%d" % i)
            self.assertEqual(got[2], b'{"n":%d}' % i)
            self.assertEqual(got[3], str(i).encode())
            self.assertEqual(got[4], pi10)
            self.assertEqual(got[5], i + 1)
            self.assertIsInstance(got[6], harness.RespError)
            self.assertIn("unknown command", str(got[6]))

    def test_json_and_protobuf_clients_reach_redis(self):
        direct = harness.redis_client(self.redis.port)
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("set", ["tr:json", "from json"])["result"], "OK")
            self.assertEqual(client.call("get", ["tr:json"])["result"], "from json")
            self.assertEqual(client.call("incrby", ["tr:n", 5])["result"], 5)
            error = client.call("incr", ["tr:json"])
            self.assertEqual(error["out"], "error")
            self.assertEqual(error["result"]["code"], "UPSTREAM_ERROR")
            self.assertIn("not an integer", error["result"]["message"])
            client.send({"in": "get", "params": ["tr:json"], "id": 77})
            self.assertEqual(client.recv(), {"out": "result", "result": "from json", "id": 77})
        self.assertEqual(direct.get("tr:json"), b"from json")
        with harness.ProtoClient(self.gw.port("proto")) as client:
            answer = client.call(9, "hgetall", ["tr:missing"])
            self.assertEqual(answer.id, 9)
            self.assertEqual(harness.from_value(answer.result), [])
            answer = client.call(10, "mget", ["tr:json", "tr:n"])
            self.assertEqual(harness.from_value(answer.result), ["from json", "5"])
        direct.delete("tr:json", "tr:n")

    def test_info_is_redis_own_and_rpcgate_info_is_ours(self):
        with harness.RespClient(self.via) as client:
            self.assertIn(b"redis_version:", client.call("INFO", "server"))
            ours = client.call("rpcgate.info", "upstreams").decode()
        self.assertRegex(ours, r"(?m)^cluster_cache:codec=resp,endpoints=1,requests=[1-9]")

    def test_redis_benchmark_set_get_without_errors(self):
        done = subprocess.run(["redis-benchmark", "-h", harness.LOOPBACK, "-p", str(self.via), "-t", "set,get",
                               "-n", "20000", "-q"], capture_output=True, text=True, timeout=120)
        output = done.stdout + done.stderr
        self.assertEqual(done.returncode, 0, output)
        results = [line.strip() for line in re.split(r"[\r\n]", output) if "requests per second" in line and ":" in line]
        finals = [line for line in results if re.match(r"^(SET|GET): [0-9.]+ requests per second", line)]
        self.assertEqual(len(finals), 2, output)
        self.assertNotRegex(output, r"(?i)error|warning", output)
        rc, out, _ = redis_cli(self.via, "get", "key:__rand_int__")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out), 4, out)  # redis-benchmark's 3-byte SET payload, read back through Redis

    def test_redis_cli_rdb_makes_a_backup_redis_check_rdb_accepts(self):
        # SYNC turns the client's connection into a byte stream (an RDB file, then the
        # replication stream), passed on unread both ways: backups through the sidecar work.
        rc, _, _ = redis_cli(self.via, "set", "backup:key", "kept")
        self.assertEqual(rc, 0)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "backup.rdb")
            rc, out, err = redis_cli(self.via, "--rdb", path)
            self.assertEqual(rc, 0, (out, err))
            self.assertIn(b"Transfer finished with success", out + err)
            with open(path, "rb") as f:
                self.assertEqual(f.read(5), b"REDIS")
            check = subprocess.run(["redis-check-rdb", path], capture_output=True, timeout=30)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertIn(b"RDB looks OK", check.stdout + check.stderr)
        # Ordinary clients went on meanwhile, on the shared connections.
        self.assertEqual(redis_cli(self.via, "get", "backup:key")[1], b"kept\n")


if __name__ == "__main__":
    harness.main()
