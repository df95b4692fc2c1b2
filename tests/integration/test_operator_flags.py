#!/usr/bin/env python3
"""What operators of nginx reach for: `rpcgate -T` prints the configuration in effect (every
default filled in, secrets redacted) and exits; `rpcgate -s reload|stop|reopen` signals the running
master through the configuration's pid file, and refuses clearly when there is no pid file, the
file is missing, or its pid is stale (gone, or a process that is not rpcgate)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BIN, RespClient  # noqa: E402


def run(*args, timeout=10):
    harness.require_binary()
    done = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def wait_for(predicate):
    return harness.wait_for(predicate, 10.0 * harness.SLOWDOWN)


class DumpTest(unittest.TestCase):
    SECRET = "s3cret-upstream-pw"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-dump-")
        self.users = os.path.join(self.dir.name, "users")
        with open(self.users, "w") as f:
            f.write("alice:user-secret-pw\n")
        port, upstream = harness.free_ports(2)
        self.path = os.path.join(self.dir.name, "rpcgate.yaml")
        with open(self.path, "w") as f:
            f.write("process: {model: prefork, workers: 2}\n"
                    "listeners:\n"
                    "  - {name: resp, address: 127.0.0.1:%d, codec: resp, auth: {users_file: %s}}\n"
                    "routes:\n"
                    "  - {match: {glob: \"*\"}, cluster: cache}\n"
                    "clusters:\n"
                    "  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d], password: %s}\n"
                    % (port, self.users, upstream, self.SECRET))

    def tearDown(self):
        self.dir.cleanup()

    def test_dump_fills_defaults_and_redacts_secrets(self):
        rc, out, err = run("-T", "-c", self.path)
        self.assertEqual(rc, 0, "rpcgate -T: exit %d\nstderr %s" % (rc, err))
        self.assertNotIn(self.SECRET, out, "the upstream password is printed")
        self.assertNotIn("user-secret-pw", out, "a login password from the users file is printed")
        config = json.loads(out)  # JSON, hence YAML too
        cluster = config["clusters"][0]
        self.assertEqual(cluster["password"], "<redacted>")
        # Defaults the file does not write, filled in (docs/configuration.md has each).
        self.assertEqual(config["process"]["drain_timeout"], "10s")
        self.assertEqual(config["process"]["workers"], 2)
        self.assertEqual(cluster["connect_timeout"], "200ms")
        self.assertEqual(cluster["request_timeout"], "1s")
        self.assertEqual(cluster["max_connections"], 1)
        listener = config["listeners"][0]
        self.assertEqual(listener["max_connections"], 10000)
        self.assertEqual(listener["idle_timeout"], "5m")
        self.assertEqual(listener["auth"]["users"], ["alice"])
        self.assertEqual(config["handlers"]["enable"], ["ping", "echo", "time", "pi", "info", "stats", "config"])
        self.assertEqual(config["logging"]["level"], "info")
        self.assertEqual(err, "", "-T prints the configuration only")

    def test_dump_of_an_invalid_file_fails_like_t(self):
        with open(self.path, "a") as f:
            f.write("listners: []\n")
        rc, out, err = run("-T", "-c", self.path)
        self.assertEqual(rc, 1, (out, err))
        self.assertEqual(out, "")
        self.assertIn("%s:8" % self.path, err)

    def test_modes_exclude_one_another(self):
        for args in (("-t", "-T"), ("-T", "-s", "stop"), ("-t", "-s", "reload")):
            rc, out, err = run(*args, "-c", self.path)
            self.assertEqual(rc, 2, "%s: exit %d, stderr %r" % (args, rc, err))
            self.assertIn("exclude", err)

    def test_help_names_the_new_flags(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0, err)
        for text in ("-T, --dump", "-s, --signal", "reload", "stop", "reopen", "JSON"):
            self.assertIn(text, out)


class SignalCommandTest(harness.GatewayTestCase):
    """Each test runs its own prefork gateway with a pid file, since some end it."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-s-")
        self.pid_file = os.path.join(self.dir.name, "rpcgate.pid")
        self.log_file = os.path.join(self.dir.name, "gateway.log")

    def tearDown(self):
        for gw in self.gateways:
            gw.__exit__(None, None, None)
        self.__class__.gateways = ()
        self.dir.cleanup()

    def start(self):
        gw = harness.Gateway([{"name": "resp", "codec": "resp"}], log_level="info",
                             process={"model": "prefork", "workers": 1, "pid_file": self.pid_file},
                             extra={"logging": {"level": "info", "file": self.log_file}})
        self.__class__.gateways = (gw,)
        gw.start()
        self.assertTrue(wait_for(lambda: os.path.exists(self.pid_file)), "no pid file written")
        with open(self.pid_file) as f:
            self.assertEqual(int(f.read()), gw.pid)
        self.gw = gw
        return gw

    def log(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except OSError:
            return ""

    def signal(self, name):
        return run("-s", name, "-c", self.gw.config_path)

    def test_reload(self):
        gw = self.start()
        rc, out, err = self.signal("reload")
        self.assertEqual(rc, 0, "rpcgate -s reload: exit %d, stderr %r" % (rc, err))
        self.assertIn("SIGHUP", out)
        self.assertTrue(wait_for(lambda: "configuration reloaded" in self.log()),
                        "no reload after -s reload:\n%s" % self.log()[-2000:])
        self.assertTrue(gw.alive())
        with RespClient(gw.port("resp")) as client:
            self.assertEqual(client.call("PING"), "PONG")

    def test_stop_drains_and_removes_the_pid_file(self):
        gw = self.start()
        rc, out, err = self.signal("stop")
        self.assertEqual(rc, 0, "rpcgate -s stop: exit %d, stderr %r" % (rc, err))
        self.assertIn("SIGTERM", out)
        self.assertEqual(gw.wait(10), 0, "the master should drain and exit 0 after -s stop")
        self.assertIn("draining", self.log())
        self.assertFalse(os.path.exists(self.pid_file), "the pid file outlived the master")
        # Now the pid file is gone: -s says so and sends nothing.
        rc, out, err = self.signal("stop")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("cannot read the pid file %s" % self.pid_file, err)

    def test_reopen(self):
        gw = self.start()
        rotated = self.log_file + ".1"
        os.rename(self.log_file, rotated)
        rc, out, err = self.signal("reopen")
        self.assertEqual(rc, 0, "rpcgate -s reopen: exit %d, stderr %r" % (rc, err))
        self.assertIn("SIGUSR1", out)
        self.assertTrue(wait_for(lambda: os.path.exists(self.log_file)), "the log file was not reopened")
        self.assertNotIn("SIGHUP", self.log(), "-s reopen reloaded")
        # A line logged after the reopen goes to the new file, not the rotated one.
        self.assertEqual(self.signal("reload")[0], 0)
        self.assertTrue(wait_for(lambda: "configuration reloaded" in self.log()), "no reload line in the new log")
        with open(rotated) as f:
            self.assertNotIn("configuration reloaded", f.read())
        self.assertTrue(gw.alive())


class SignalCommandErrorTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-s-err-")
        self.pid_file = os.path.join(self.dir.name, "rpcgate.pid")
        self.port = harness.free_port()

    def tearDown(self):
        self.dir.cleanup()

    def config(self, process):
        path = os.path.join(self.dir.name, "rpcgate.yaml")
        with open(path, "w") as f:
            f.write("process: %s\nlisteners:\n  - {name: resp, address: 127.0.0.1:%d, codec: resp}\n"
                    % (process, self.port))
        return path

    def test_no_pid_file_configured(self):
        path = self.config("{model: prefork}")
        rc, out, err = run("-s", "reload", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("names no process.pid_file", err)

    def test_missing_pid_file(self):
        path = self.config("{model: prefork, pid_file: %s}" % self.pid_file)
        rc, out, err = run("-s", "reload", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("cannot read the pid file %s" % self.pid_file, err)
        self.assertIn("No such file", err)

    def test_garbage_pid_file(self):
        path = self.config("{model: prefork, pid_file: %s}" % self.pid_file)
        with open(self.pid_file, "w") as f:
            f.write("12ab\n")
        rc, out, err = run("-s", "reopen", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("holds no pid", err)

    def test_stale_pid_of_an_exited_process(self):
        path = self.config("{model: prefork, pid_file: %s}" % self.pid_file)
        gone = subprocess.Popen(["true"])
        gone.wait()
        with open(self.pid_file, "w") as f:
            f.write("%d\n" % gone.pid)
        rc, out, err = run("-s", "stop", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("pid %d, which is not running" % gone.pid, err)

    def test_stale_pid_of_another_program_is_not_signalled(self):
        path = self.config("{model: prefork, pid_file: %s}" % self.pid_file)
        bystander = subprocess.Popen(["sleep", "30"])
        try:
            with open(self.pid_file, "w") as f:
                f.write("%d\n" % bystander.pid)
            rc, out, err = run("-s", "stop", "-c", path)
            self.assertEqual(rc, 1, (out, err))
            self.assertIn("which is sleep, not rpcgate", err)
            time.sleep(0.2)
            self.assertIsNone(bystander.poll(), "the process a stale pid file named was signalled")
        finally:
            harness.stop_process(bystander)

    def test_unknown_signal_names(self):
        path = self.config("{model: prefork, pid_file: %s}" % self.pid_file)
        rc, out, err = run("-s", "quit", "-c", path)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("expected reload, stop or reopen", err)
        self.assertIn("drains gracefully", err)
        rc, out, err = run("-s", "HUP", "-c", path)
        self.assertEqual(rc, 2, (out, err))

    def test_invalid_configuration_sends_nothing(self):
        path = self.config("{model: prefork, pid_file: %s, workerz: 2}" % self.pid_file)
        rc, out, err = run("-s", "reload", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("workerz", err)


if __name__ == "__main__":
    harness.main()
