#!/usr/bin/env python3
"""The resp listener with real Redis clients: the redis-cli binary (one-shot and interactive),
python3-redis (commands and pipelining), and raw RESP for the reply types of RESP2 and RESP3."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespClient, RespDouble, RespError, RespMap  # noqa: E402

legacy_server = harness.import_bench("legacy_server")
REDIS_CLI = "redis-cli"


class RedisCliTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway([{"name": "resp", "codec": "resp"}])

    def cli(self, *args, stdin=None):
        command = [REDIS_CLI, "-h", harness.LOOPBACK, "-p", str(self.gw.port("resp"))] + list(args)
        try:
            done = subprocess.run(command, input=stdin if stdin is not None else "", capture_output=True,
                                  text=True, timeout=10)
        except FileNotFoundError:
            self.fail("redis-cli is not installed (apt-get install redis-tools)")
        return done.returncode, done.stdout, done.stderr

    def cli_ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, "redis-cli %s: exit %d, stdout %r, stderr %r" % (" ".join(args), rc, out, err))
        self.assertEqual(err, "", "redis-cli %s wrote to stderr: %r" % (" ".join(args), err))
        return out.rstrip("\n")

    def test_ping(self):
        self.assertEqual(self.cli_ok("ping"), "PONG")
        self.assertEqual(self.cli_ok("PING"), "PONG")
        self.assertEqual(self.cli_ok("Ping", "hello"), "hello")

    def test_echo(self):
        self.assertEqual(self.cli_ok("echo", "hello"), "hello")
        self.assertEqual(self.cli_ok("echo", "two words"), "two words")

    def test_pi(self):
        out = self.cli_ok("pi", "100000")
        # The legacy series converges slowly: pi(100000) = 3.14158947..., not 3.14159...
        self.assertTrue(out.startswith("3.1415"), "pi 100000 answered %r" % out)
        self.assertEqual(float(out), legacy_server.compute_pi(100000), "pi 100000 answered %r" % out)

    def test_call_with_json_params(self):
        out = self.cli_ok("call", "echo", '{"id": 7}')
        try:
            value = json.loads(out)
        except ValueError:
            self.fail("call echo '{\"id\": 7}' should answer the JSON text, got %r" % out)
        self.assertEqual(value, {"id": 7})
        out = self.cli_ok("call", "pi", "1000")
        self.assertEqual(float(out), legacy_server.compute_pi(1000), "call pi 1000 answered %r" % out)

    def test_info(self):
        out = self.cli_ok("info")
        self.assertIn("# Server", out)
        self.assertIn("connected_clients:", out)
        self.assertIn("# Stats", out)

    def test_unknown_command(self):
        rc, out, err = self.cli("nosuchcommand", "x")
        self.assertIn("UNKNOWN_METHOD", out + err, "an unknown command should answer UNKNOWN_METHOD: %r" % (out + err))

    def test_upper(self):
        self.assertEqual(self.cli_ok("upper", "abc"), "ABC")

    def test_time(self):
        lines = self.cli_ok("time").splitlines()
        self.assertEqual(len(lines), 2, "time should answer two integers like Redis TIME: %r" % lines)
        self.assertTrue(all(line.isdigit() for line in lines), lines)

    def test_interactive_without_tty(self):
        rc, out, err = self.cli(stdin="ping\necho hi\nupper abc\npi 10\n")
        self.assertEqual(rc, 0, "interactive redis-cli exited %d: %r %r" % (rc, out, err))
        lines = out.splitlines()
        self.assertEqual(lines[:3], ["PONG", "hi", "ABC"], "interactive session answered %r (stderr %r)" % (out, err))
        self.assertEqual(float(lines[3]), legacy_server.compute_pi(10))
        for line in (out + err).splitlines():
            self.assertNotIn("ERR", line, "unexpected error line in an interactive session: %r" % line)
            self.assertNotIn("Error", line, "unexpected error line in an interactive session: %r" % line)

    def test_hello_3_mode(self):
        rc, out, err = self.cli("-3", "pi", "10")
        self.assertEqual(rc, 0, (out, err))
        self.assertEqual(float(out.strip()), legacy_server.compute_pi(10), out)
        self.assertNotIn("ERR", out + err)


class RedisPyTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway([{"name": "resp", "codec": "resp"}])

    def setUp(self):
        self.r = harness.redis_client(self.gw.port("resp"))

    def tearDown(self):
        self.r.close()

    def test_commands(self):
        self.assertIs(self.r.ping(), True)
        self.assertEqual(self.r.echo("x"), b"x")
        self.assertEqual(float(self.r.execute_command("pi", 1000)), legacy_server.compute_pi(1000))
        self.assertEqual(self.r.execute_command("upper", "abc"), b"ABC")
        self.assertEqual(json.loads(self.r.execute_command("CALL", "echo", '{"a": [1, 2]}')), {"a": [1, 2]})
        info = self.r.info()
        self.assertIn("connected_clients", info)
        self.assertGreaterEqual(int(info["connected_clients"]), 1)

    def test_error_reply(self):
        import redis
        with self.assertRaises(redis.ResponseError) as caught:
            self.r.execute_command("no.such.method")
        self.assertIn("UNKNOWN_METHOD", str(caught.exception))
        self.assertIs(self.r.ping(), True, "the connection stays usable after an error reply")

    def test_client_setname_getname_select(self):
        self.assertTrue(self.r.client_setname("itest"))
        self.assertIn(self.r.client_getname(), (b"itest", "itest"))
        self.assertTrue(self.r.execute_command("SELECT", 0))

    def test_pipeline_in_order(self):
        pipe = self.r.pipeline(transaction=False)
        expected = []
        for i in range(100):
            if i % 10 == 3:
                pipe.execute_command("pi", 1000 + i)
                expected.append(("pi", 1000 + i))
            else:
                pipe.echo("v%d" % i)
                expected.append(("echo", b"v%d" % i))
        answers = pipe.execute()
        self.assertEqual(len(answers), 100)
        for i, ((kind, value), answer) in enumerate(zip(expected, answers)):
            if kind == "echo":
                self.assertEqual(answer, value, "pipelined answer #%d out of order" % i)
            else:
                try:
                    got = float(answer)
                except (TypeError, ValueError):
                    self.fail("pipelined answer #%d should be pi %d, got %r: out of order" % (i, value, answer))
                self.assertEqual(got, legacy_server.compute_pi(value), "pipelined pi #%d (n=%d)" % (i, value))


class RawRespTest(harness.GatewayTestCase):
    """Reply types from docs/protocols.md, read byte for byte."""

    @classmethod
    def setUpClass(cls):
        # `list`: echo under another name, for commands of several arguments (ECHO takes one).
        cls.gw = cls.start_gateway([{"name": "resp", "codec": "resp"},
                                    {"name": "resp_strings", "codec": "resp", "args": "strings"}],
                                   extra={"routes": [{"match": {"method": "list"}, "handler": "echo"}]})

    def client(self, name="resp"):
        return RespClient(self.gw.port(name))

    def test_resp2_reply_types(self):
        with self.client() as c:
            self.assertEqual(c.call("ping"), "PONG")
            self.assertEqual(c.call("call", "echo", "null"), None)
            self.assertEqual(c.call("call", "echo", "true"), 1)
            self.assertEqual(c.call("call", "echo", "false"), 0)
            self.assertEqual(c.call("call", "echo", "42"), 42)
            self.assertEqual(c.call("call", "echo", "-7"), -7)
            self.assertEqual(c.call("call", "echo", "1.5"), b"1.5")
            self.assertEqual(c.call("call", "echo", '"s"'), b"s")
            self.assertEqual(c.call("call", "echo", '[1, "a", null, [true]]'), [1, b"a", None, [1]])
            obj = c.call("call", "echo", '{"k": "v"}')
            self.assertIsInstance(obj, bytes, "an object is a bulk string of its JSON text in RESP2: %r" % (obj,))
            self.assertEqual(json.loads(obj), {"k": "v"})
            self.assertEqual(c.call("call", "echo"), None, "call without params: params null")
            pi = c.call("pi", "10")
            self.assertIsInstance(pi, bytes, "pi is a bulk string in RESP2: %r" % (pi,))
            self.assertEqual(float(pi), legacy_server.compute_pi(10))

    def test_args_auto(self):
        with self.client() as c:
            self.assertEqual(c.call("call", "echo"), None)
            self.assertEqual(c.call("upper", "abc"), b"ABC")
            # one argument -> JSON if it parses, else the string; several -> an array of such
            self.assertEqual(c.call("call", "echo", "[1, 2]"), [1, 2])
            self.assertEqual(c.call("list", "1", "a", "[2]", "null"), [1, b"a", [2], None])
            err = c.call("upper", "12")  # "12" is valid JSON: params 12, not a string
            self.assertIsInstance(err, RespError, "upper 12 should get params 12 (BAD_REQUEST), got %r" % (err,))
            self.assertTrue(err.args[0].startswith("BAD_REQUEST"), err)

    def test_args_strings(self):
        with self.client("resp_strings") as c:
            self.assertEqual(c.call("upper", "12"), b"12", "args: strings keeps 12 a string")
            err = c.call("pi", "10")
            self.assertIsInstance(err, RespError, "args: strings makes pi's n a string: BAD_REQUEST, got %r" % (err,))

    def test_command_names_are_case_insensitive(self):
        with self.client() as c:
            for name in ("upper", "UPPER", "Upper"):
                self.assertEqual(c.call(name, "x"), b"X", name)

    def test_inline_commands(self):
        with self.client() as c:
            c.send_raw(b"PING\r\necho inline\r\nupper abc\npi 10\r\n")
            self.assertEqual(c.read(), "PONG")
            self.assertEqual(c.read(), b"inline")
            self.assertEqual(c.read(), b"ABC")
            self.assertEqual(float(c.read()), legacy_server.compute_pi(10))

    def test_unknown_method_error(self):
        with self.client() as c:
            reply = c.call("nosuch")
            self.assertIsInstance(reply, RespError)
            self.assertTrue(reply.args[0].startswith("UNKNOWN_METHOD "), reply)
            self.assertEqual(c.call("ping"), "PONG")

    def test_hello_3_switches_to_resp3(self):
        with self.client() as c:
            hello = c.call("HELLO", "3")
            self.assertIsInstance(hello, RespMap, "HELLO 3 answers a map: %r" % (hello,))
            self.assertEqual(hello.get(b"proto"), 3, hello)
            pi = c.call("pi", "10")
            self.assertIsInstance(pi, RespDouble, "after HELLO 3 pi is a `,` double, got %r" % (pi,))
            self.assertEqual(float(pi), legacy_server.compute_pi(10))
            self.assertIs(c.call("call", "echo", "null"), None)
            self.assertIs(c.call("call", "echo", "true"), True)
            self.assertIs(c.call("call", "echo", "false"), False)
            self.assertEqual(c.call("call", "echo", "42"), 42)
            obj = c.call("call", "echo", '{"k": [1, "v"]}')
            self.assertIsInstance(obj, RespMap, "after HELLO 3 an object is a `%%` map, got %r" % (obj,))
            self.assertEqual(obj, {b"k": [1, b"v"]})
            self.assertEqual(c.call("ping"), "PONG")
            hello2 = c.call("HELLO", "2")
            self.assertIsInstance(hello2, list, "HELLO 2 answers a flat array: %r" % (hello2,))
            self.assertIsInstance(c.call("pi", "10"), bytes, "back in RESP2 pi is a bulk string")

    def test_hello_unsupported_version(self):
        with self.client() as c:
            reply = c.call("HELLO", "4")
            self.assertIsInstance(reply, RespError, "HELLO 4 should be refused: %r" % (reply,))
            self.assertEqual(c.call("ping"), "PONG")

    def test_connection_commands(self):
        with self.client() as c:
            self.assertEqual(c.call("SELECT", "0"), "OK")
            self.assertEqual(c.call("CLIENT", "SETNAME", "raw"), "OK")
            self.assertEqual(c.call("CLIENT", "GETNAME"), b"raw")
            self.assertIsInstance(c.call("COMMAND", "DOCS"), (list, dict))
            self.assertEqual(c.call("ECHO", "e"), b"e")
            self.assertEqual(c.call("QUIT"), "OK")
            closed, rest = harness.wait_closed(c.sock)
            self.assertTrue(closed, "QUIT should close the connection")

    def test_nothing_after_quit_runs(self):
        with harness.connect(self.gw.port("resp")) as sock:
            sock.sendall(b"PING\r\nQUIT\r\nPING\r\n*1\r\n$4\r\nINFO\r\n")
            closed, data = harness.wait_closed(sock)
        self.assertTrue(closed)
        self.assertEqual(data, b"+PONG\r\n+OK\r\n", "commands pipelined after QUIT must not run")

    def test_binary_bulk(self):
        with self.client() as c:
            blob = bytes(range(256)) * 4
            self.assertEqual(c.call("echo", blob), blob, "a non-UTF-8 bulk string must come back unchanged")


if __name__ == "__main__":
    harness.main()
