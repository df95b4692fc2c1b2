#!/usr/bin/env python3
"""Logins on the listeners: redis-cli -a PASS and --user U --pass P served, no credentials answered
NOAUTH, HELLO 3 AUTH, python3-redis with a username; the JSON `auth` call and protobuf meta; wrong
passwords counted and logged without the secret; users from a file or an environment variable;
and the secret never shown by GET /config, INFO or the log."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "wonder-land-7"
DEFAULT_SECRET = "just-a-password-3"


def redis_cli(port, *args):
    run = subprocess.run(["redis-cli", "-p", str(port), "--no-auth-warning"] + list(args),
                         capture_output=True, text=True, timeout=30)
    return (run.stdout + run.stderr).strip()


class AuthTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-auth-")
        cls.users = os.path.join(cls.dir.name, "users")
        with open(cls.users, "w") as f:
            f.write("# user:password, or a password alone for the default user\nalice:%s\n%s\n"
                    % (SECRET, DEFAULT_SECRET))
        cls.admin_port = harness.free_port()
        auth = {"users_file": cls.users}
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp", "auth": auth}, {"name": "json", "codec": "json", "auth": auth},
             {"name": "proto", "codec": "protobuf", "auth": auth}, {"name": "open", "codec": "resp"}],
            process={"model": "prefork", "workers": 1}, log_level="info",
            extra_yaml="admin: {address: 127.0.0.1:%d}\n" % cls.admin_port)
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dir.cleanup()

    def test_redis_cli_with_and_without_credentials(self):
        port = self.gw.port("resp")
        self.assertEqual(redis_cli(port, "ping"), "NOAUTH Authentication required.")
        self.assertEqual(redis_cli(port, "-a", DEFAULT_SECRET, "ping"), "PONG")
        self.assertEqual(redis_cli(port, "--user", "alice", "--pass", SECRET, "ping"), "PONG")
        self.assertIn("WRONGPASS", redis_cli(port, "--user", "alice", "--pass", "nope", "ping"))
        self.assertEqual(redis_cli(self.gw.port("open"), "ping"), "PONG", "a listener without auth is open")

    def test_hello_auth_and_a_client_library(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(str(client.call("hello", "3")).split()[0], "NOAUTH")
            self.assertEqual(str(client.call("echo", "x")), "NOAUTH Authentication required.")
            hello = client.call("hello", "3", "auth", "alice", SECRET)
            self.assertIn("proto", str(hello))
            self.assertEqual(client.call("echo", "x"), b"x")
        import redis as redis_module
        anonymous = harness.redis_client(self.gw.port("resp"))
        try:
            with self.assertRaises(redis_module.exceptions.AuthenticationError):
                anonymous.ping()
        finally:
            anonymous.close()
        ok = redis_module.Redis(host=harness.LOOPBACK, port=self.gw.port("resp"), username="alice", password=SECRET,
                                socket_timeout=harness.IO_TIMEOUT)
        try:
            self.assertTrue(ok.ping())
        finally:
            ok.close()

    def test_json_auth_call(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            refused = client.call("ping")
            self.assertEqual(refused["result"]["code"], "NOAUTH")
            wrong = client.call("auth", {"user": "alice", "password": "nope"})
            self.assertEqual(wrong["result"]["code"], "NOAUTH")
            self.assertEqual(client.call("auth", {"user": "alice", "password": SECRET}), {"out": "auth", "result": "OK"})
            self.assertEqual(client.call("ping")["out"], "pong")
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("auth", [DEFAULT_SECRET])["result"], "OK", "a password alone: the default user")
            self.assertEqual(client.call("echo", "x")["result"], "x")

    def test_protobuf_meta_login(self):
        with harness.ProtoClient(self.gw.port("proto")) as client:
            refused = client.call(1, "ping")
            self.assertEqual(refused.error.code, "NOAUTH")
            served = client.call(2, "ping", meta={"user": "alice", "password": SECRET})
            self.assertEqual(served.error.code, "")
            self.assertEqual(client.call(3, "ping").error.code, "", "the connection stays logged in")

    def test_failures_are_counted_and_no_secret_is_ever_shown(self):
        for _ in range(3):
            redis_cli(self.gw.port("resp"), "-a", "wrong-" + SECRET, "ping")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=10) as r:
            metrics = r.read().decode()
        failures = [line for line in metrics.splitlines() if line.startswith("rpcgate_login_failures_total ")]
        self.assertGreaterEqual(float(failures[0].split()[1]), 3)
        with urllib.request.urlopen("http://127.0.0.1:%d/config" % self.admin_port, timeout=10) as r:
            config = r.read().decode()
        self.assertEqual(json.loads(config)["listeners"][0]["auth"], {"users": ["alice", "default"], "users_file": self.users})
        info = redis_cli(self.gw.port("open"), "info")
        for text in (config, info, self.gw.log_text(), metrics):
            self.assertNotIn(SECRET, text)
            self.assertNotIn(DEFAULT_SECRET, text)
        self.assertIn("a login from 127.0.0.1:", self.gw.log_text())


class UsersSourceTest(unittest.TestCase):
    def check(self, yaml, env=None):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(yaml)
        try:
            return subprocess.run([harness.BIN, "-t", "-c", f.name], capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, **(env or {})))
        finally:
            os.unlink(f.name)

    def test_users_from_the_environment_and_clear_errors(self):
        harness.require_binary(self)
        listener = "listeners: [{name: r, address: 127.0.0.1:%d, codec: resp, auth: %s}]\n"
        port = harness.free_port()
        ok = self.check(listener % (port, "{users_env: RPCGATE_TEST_USERS}"), {"RPCGATE_TEST_USERS": "bob:builder"})
        self.assertEqual(ok.returncode, 0, ok.stderr)
        unset = self.check(listener % (port, "{users_env: RPCGATE_TEST_UNSET}"))
        self.assertIn("the environment variable RPCGATE_TEST_UNSET is not set", unset.stderr)
        missing = self.check(listener % (port, "{users_file: /nonexistent/users}"))
        self.assertIn("cannot read /nonexistent/users", missing.stderr)
        both = self.check(listener % (port, "{users_file: /x, users_env: Y}"))
        self.assertIn("give exactly one of users_file", both.stderr)
        bad = self.check(listener % (port, "{users_env: RPCGATE_TEST_USERS}"), {"RPCGATE_TEST_USERS": "bob:"})
        self.assertIn("line 1: expected USER:PASSWORD", bad.stderr)
        self.assertNotEqual(bad.returncode, 0)
        # A user listed twice would have two passwords that work: refused, naming both lines.
        twice = self.check(listener % (port, "{users_env: RPCGATE_TEST_USERS}"), {"RPCGATE_TEST_USERS": "alice:x\nalice:y"})
        self.assertIn("line 2: user 'alice' is listed twice (first on line 1)", twice.stderr)
        self.assertNotEqual(twice.returncode, 0)
        stray = self.check(listener % (port, "{users_env: RPCGATE_TEST_USERS}"),
                           {"RPCGATE_TEST_USERS": "default:x\n# a comment\nstray-line"})
        self.assertIn("line 3: user 'default' is listed twice (first on line 1); a line without ':' is the password "
                      "of the user 'default'", stray.stderr)
        self.assertNotEqual(stray.returncode, 0)

        env_users = "carol:%s" % SECRET
        gw = harness.Gateway([{"name": "resp", "codec": "resp", "auth": {"users_env": "RPCGATE_TEST_USERS"}}])
        os.environ["RPCGATE_TEST_USERS"] = env_users
        try:
            gw.start()
        finally:
            del os.environ["RPCGATE_TEST_USERS"]
        try:
            self.assertEqual(redis_cli(gw.port("resp"), "--user", "carol", "--pass", SECRET, "ping"), "PONG")
        finally:
            gw.stop()
            gw.remove_log()


if __name__ == "__main__":
    harness.main()
