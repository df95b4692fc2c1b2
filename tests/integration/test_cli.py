#!/usr/bin/env python3
"""The command line and the process life: --help, --version, -t on good and bad files (every
mistake named by file and line), the shipped default config, and SIGTERM draining (an in-flight
call is still answered, then exit 0; a second SIGTERM exits at once)."""

import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BIN, JsonClient  # noqa: E402

PI_MAX_TERMS = 10 ** 8  # the default handlers.pi_max_terms


# What conf/examples/tls-sidecar.yaml names: a certificate for the listener, its key, and the CA
# of Redis's certificate (here the same CA).
EXAMPLE_CERTIFICATES = r"""
set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out redis-ca.pem -days 2 -subj /CN=example-ca
openssl req $ec -keyout rpcgate.key -out rpcgate.csr -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
openssl x509 -req -in rpcgate.csr -CA redis-ca.pem -CAkey ca.key -CAcreateserial -out rpcgate.pem -days 2
chmod 600 *.key
"""


def run(*args, cwd=None, timeout=10):
    harness.require_binary()
    done = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def project_version():
    with open(os.path.join(harness.SOURCE_DIR, "CMakeLists.txt")) as f:
        match = re.search(r"project\(rpcgate\s+VERSION\s+([0-9.]+)", f.read())
    return match.group(1) if match else None


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-cli-")
        self.port = harness.free_port()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text.replace("PORT", str(self.port)))
        return path

    GOOD = ("process:\n"                                          # 1
            "  model: single\n"                                   # 2
            "  drain_timeout: 5s\n"                               # 3
            "listeners:\n"                                        # 4
            "  - {name: json, address: 127.0.0.1:PORT, codec: json, idle_timeout: 30s}\n"  # 5
            "handlers: [ping, echo, pi]\n"                        # 6
            "logging: {level: info}\n")                           # 7

    def test_help(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("-c", out)
        self.assertIn("-t", out)
        rc, out2, err = run("-h")
        self.assertEqual((rc, out2), (0, out))

    def test_version(self):
        rc, out, err = run("--version")
        self.assertEqual(rc, 0, err)
        version = project_version()
        self.assertIsNotNone(version, "no version in CMakeLists.txt")
        self.assertIn(version, out, "--version printed %r; the project is version %s" % (out, version))

    def test_unknown_option(self):
        rc, out, err = run("--no-such-option")
        self.assertNotEqual(rc, 0)
        self.assertIn("Usage", err, "a bad option should print the usage on stderr: %r" % err)

    def test_check_good_config(self):
        path = self.write("good.yaml", self.GOOD)
        rc, out, err = run("-t", "-c", path)
        self.assertEqual(rc, 0, "rpcgate -t -c good.yaml: exit %d\nstdout %r\nstderr %r" % (rc, out, err))

    def test_check_json_config(self):
        # JSON is valid YAML: the same config written as JSON passes too.
        text = ('{"process": {"model": "single"}, "handlers": ["ping"],\n'
                ' "listeners": [{"name": "j", "address": "127.0.0.1:PORT", "codec": "json"}]}\n')
        rc, out, err = run("-t", "-c", self.write("good.json", text))
        self.assertEqual(rc, 0, "a JSON config: exit %d, stderr %r" % (rc, err))

    def bad(self, name, text, line, mention):
        """`line` None: any line of the file will do (where a parser notices a syntax error varies)."""
        path = self.write(name, text)
        rc, out, err = run("-t", "-c", path)
        self.assertEqual(rc, 1, "rpcgate -t -c %s: expected exit 1, got %d\nstdout %r\nstderr %r" % (name, rc, out, err))
        if line is None:
            self.assertRegex(err, re.escape(path) + r":[1-9][0-9]*", "the error should name %s:LINE; stderr was:\n%s"
                             % (path, err))
        else:
            where = "%s:%d" % (path, line)
            self.assertRegex(err, re.escape(where) + r"\b", "the error should name %s; stderr was:\n%s" % (where, err))
        self.assertIn(mention, err, "the error should mention %r; stderr was:\n%s" % (mention, err))
        # running (not just -t) refuses the same file
        rc2, _, err2 = run("-c", path, timeout=10)
        self.assertEqual(rc2, 1, "rpcgate -c %s should refuse to start: exit %d, stderr %r" % (name, rc2, err2))
        return err

    def test_unknown_listener_key(self):
        text = self.GOOD.replace("address: 127", "adress: 127")
        self.bad("typo.yaml", text, 5, "adress")

    def test_unknown_top_level_key(self):
        self.bad("top.yaml", self.GOOD + "listners: []\n", 8, "listners")

    def test_bad_duration(self):
        self.bad("duration.yaml", self.GOOD.replace("drain_timeout: 5s", "drain_timeout: 5 seconds"), 3, "5 seconds")

    def test_bad_codec(self):
        self.bad("codec.yaml", self.GOOD.replace("codec: json", "codec: xml"), 5, "xml")

    def test_bad_address(self):
        self.bad("address.yaml", self.GOOD.replace("127.0.0.1:PORT", "localhost:PORT"), 5, "localhost")

    def test_bad_port(self):
        self.bad("port.yaml", self.GOOD.replace("127.0.0.1:PORT", "127.0.0.1:70000"), 5, "70000")

    def test_unknown_handler(self):
        self.bad("handler.yaml", self.GOOD.replace("[ping, echo, pi]", "[ping, nosuch]"), 6, "nosuch")

    def test_unknown_handler_is_reported_with_the_others_and_a_suggestion(self):
        text = self.GOOD.replace("[ping, echo, pi]", "[ping, ehco]").replace("codec: json", "codec: xml")
        err = self.bad("handler2.yaml", text, 5, "xml")
        self.assertIn("unknown handler 'ehco' (did you mean 'echo'?)", err)

    def test_handler_a_route_takes_first(self):
        text = self.GOOD + "routes: [{match: {glob: '*'}, handler: pi}]\n"
        self.bad("shadowed.yaml", text, 6, "handler 'ping' never answers: the route at line 8 (glob:*)")

    def test_route_that_no_resp_client_reaches(self):
        text = self.GOOD.replace("codec: json", "codec: resp") + "routes: [{match: {method: GET}, handler: echo}]\n"
        self.bad("upper.yaml", text, 8, "write 'get'")

    def test_timeout_on_a_handler_route(self):
        self.bad("timeout.yaml", self.GOOD + "routes: [{match: {method: x}, handler: echo, timeout: 1s}]\n", 8,
                 "timeout applies to routes with a cluster target only")

    def test_address_that_cannot_be_bound_here(self):
        # 192.0.2.1 is TEST-NET-1 (RFC 5737), on no interface of this machine: only bind() is tried.
        self.bad("unbindable.yaml", self.GOOD.replace("127.0.0.1:PORT", "192.0.2.1:PORT"), 5, "cannot be bound here")

    def test_address_in_use_is_only_a_note(self):
        # As before a reload, when the running gateway holds the port.
        with harness.occupied_port() as port:
            rc, out, err = run("-t", "-c", self.write("inuse.yaml", self.GOOD.replace("PORT", str(port))))
        self.assertEqual(rc, 0, err)
        self.assertIn("127.0.0.1:%d is in use" % port, err)

    def test_every_shipped_example_passes(self):
        folder = os.path.join(harness.SOURCE_DIR, "conf", "examples")
        # Run where the examples' comments say: with the descriptor sets of their .proto files made
        # in the working directory (grpc-bridge.yaml names pi.pb).
        for proto in sorted(name for name in os.listdir(folder) if name.endswith(".proto")):
            subprocess.run(["protoc", "--proto_path=" + folder, "--include_imports",
                            "--descriptor_set_out=" + os.path.join(self.dir.name, proto[:-len("proto")] + "pb"),
                            os.path.join(folder, proto)], check=True, timeout=30)
        # ...and the certificates tls-sidecar.yaml names, in tls/.
        os.mkdir(os.path.join(self.dir.name, "tls"))
        subprocess.run(["sh", "-c", EXAMPLE_CERTIFICATES], cwd=os.path.join(self.dir.name, "tls"), check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in sorted(name for name in os.listdir(folder) if name.endswith(".yaml")):
            rc, out, err = run("-t", "-c", os.path.join(folder, name), cwd=self.dir.name)
            self.assertEqual(rc, 0, "rpcgate -t -c conf/examples/%s: exit %d\n%s" % (name, rc, err))

    def test_yaml_syntax_error(self):
        self.bad("syntax.yaml", self.GOOD.replace("handlers: [ping, echo, pi]", "handlers: [ping, echo"), None,
                 "YAML syntax error")

    def test_several_mistakes_are_all_reported(self):
        text = self.GOOD.replace("drain_timeout: 5s", "drain_timeout: soon").replace("codec: json", "codec: xml")
        err = self.bad("two.yaml", text, 3, "soon")
        self.assertIn("%s:5" % os.path.join(self.dir.name, "two.yaml"), err, "both mistakes should be reported:\n%s" % err)

    def test_missing_file(self):
        path = os.path.join(self.dir.name, "missing.yaml")
        rc, out, err = run("-t", "-c", path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn(path, err)

    def test_default_config_passes(self):
        path = os.path.join(harness.SOURCE_DIR, "conf", "rpcgate.yaml")
        self.assertTrue(os.path.exists(path), "the default config %s is missing" % path)
        rc, out, err = run("-t", "-c", path)
        self.assertEqual(rc, 0, "rpcgate -t -c conf/rpcgate.yaml: exit %d\nstdout %r\nstderr %r" % (rc, out, err))
        # and without -c, from the source tree, it is the one used
        rc, out, err = run("-t", cwd=harness.SOURCE_DIR)
        self.assertEqual(rc, 0, "rpcgate -t (default config): exit %d\nstdout %r\nstderr %r" % (rc, out, err))
        self.assertIn("rpcgate.yaml", out + err)


class SignalTest(harness.GatewayTestCase):
    """Each test starts its own gateway, since each ends it."""

    def start(self, drain_timeout):
        gw = harness.Gateway([{"name": "json", "codec": "json"}], process={"drain_timeout": drain_timeout},
                             log_level="info").start()
        self.__class__.gateways = (gw,)
        self.gw = gw
        return gw

    def tearDown(self):
        for gw in self.gateways:
            gw.__exit__(None, None, None)

    def pi_work(self, seconds):
        """(n, count): `count` pipelined pi(n) calls keep this machine's thread pool busy for
        about `seconds` (n capped at pi_max_terms; calls run up to one per CPU at a time)."""
        with JsonClient(self.gw.port("json"), timeout=30) as client:
            t = time.monotonic()
            self.assertEqual(client.call("pi", 10 ** 7).get("out"), "pi_r")
            per_term = max((time.monotonic() - t) / 10 ** 7, 1e-12)
        n = min(PI_MAX_TERMS, max(10 ** 6, int(seconds / per_term)))
        parallel = max(1, min(4, os.cpu_count() or 1))  # libuv's thread pool has 4 threads
        count = max(1, min(64, math.ceil(seconds * parallel / (n * per_term))))
        return n, count

    def send_pis(self, client, n, count):
        client.send_raw(b"".join(harness.frame({"in": "pi", "params": n, "id": i}) for i in range(count)))

    def test_sigterm_finishes_in_flight_calls_then_exits_0(self):
        gw = self.start("20s")
        n, count = self.pi_work(1.0)
        idle = harness.connect(gw.port("json"))
        busy = JsonClient(gw.port("json"), timeout=30)
        try:
            self.send_pis(busy, n, count)
            time.sleep(0.05)  # let the gateway read them
            sent_at = time.monotonic()
            gw.send_signal(signal.SIGTERM)
            # stop accepting: the listener closes at once
            deadline = time.monotonic() + 2
            refused = False
            while time.monotonic() < deadline and not refused:
                try:
                    socket.create_connection((harness.LOOPBACK, gw.port("json")), timeout=1).close()
                    time.sleep(0.02)
                except (ConnectionRefusedError, ConnectionResetError):
                    # reset: the connect raced the close and was dropped from the accept queue
                    refused = True
            self.assertTrue(refused, "new connections were still accepted 2 s after SIGTERM")
            # an idle connection has nothing in flight: closed without waiting for the busy one
            closed, rest = harness.wait_closed(idle, timeout=2)
            self.assertTrue(closed, "an idle connection was not closed during the drain")
            for i in range(count):
                answer = busy.recv(timeout=30)
                self.assertEqual(answer.get("out"), "pi_r", "in-flight pi #%d was answered %r" % (i, answer))
                self.assertEqual(answer.get("id"), i)
                self.assertLess(abs(answer["result"] - math.pi), 1e-6, answer)
            answered_at = time.monotonic()
            closed, rest = harness.wait_closed(busy.sock, timeout=5)
            self.assertTrue(closed, "the busy connection should close once its calls are answered")
        finally:
            idle.close()
            busy.close()
        status = gw.wait(15)
        self.assertEqual(status, 0, "after the drain rpcgate should exit 0, got %s" % status)
        self.assertGreater(answered_at - sent_at, 0.1,
                           "calibration: %d x pi %d finished %.3f s after SIGTERM; the test did not catch them "
                           "in flight" % (count, n, answered_at - sent_at))

    def test_sigterm_with_nothing_in_flight_exits_promptly(self):
        gw = self.start("20s")
        with JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("ping", 1), {"out": "pong", "result": 1})
            t = time.monotonic()
            gw.send_signal(signal.SIGTERM)
            status = gw.wait(5)
        self.assertEqual(status, 0, "an idle gateway should drain and exit 0 at once, got %s" % status)
        self.assertLess(time.monotonic() - t, 3)

    def test_second_sigterm_exits_at_once(self):
        gw = self.start("30s")
        n, count = self.pi_work(3.0)
        with JsonClient(gw.port("json"), timeout=30) as client:
            self.send_pis(client, n, count)
            time.sleep(0.1)
            gw.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertTrue(gw.alive(), "rpcgate exited before its in-flight calls were done (status %s)"
                            % gw.proc.poll())
            t = time.monotonic()
            gw.send_signal(signal.SIGTERM)
            status = gw.wait(2)
            elapsed = time.monotonic() - t
        self.assertIsNotNone(status, "a second SIGTERM should exit at once; still running after 2 s")
        self.assertLess(elapsed, 1.0, "a second SIGTERM took %.2f s to exit" % elapsed)

    def test_drain_timeout_bounds_the_wait(self):
        gw = self.start("1s")
        n, count = self.pi_work(4.0)
        with JsonClient(gw.port("json"), timeout=30) as client:
            self.send_pis(client, n, count)
            time.sleep(0.1)
            t = time.monotonic()
            gw.send_signal(signal.SIGTERM)
            status = gw.wait(10)
            elapsed = time.monotonic() - t
        self.assertIsNotNone(status, "rpcgate still running 10 s after SIGTERM with drain_timeout 1s "
                             "(%d x pi %d in flight)" % (count, n))
        self.assertLess(elapsed, 2.5, "drain_timeout 1s, but the exit took %.2f s (%d x pi %d in flight)"
                        % (elapsed, count, n))
        self.assertEqual(status, 0, "a drain cut short by drain_timeout still exits 0, got %s" % status)
        self.assertIn("drain_timeout reached", gw.log_text())


if __name__ == "__main__":
    harness.main()
