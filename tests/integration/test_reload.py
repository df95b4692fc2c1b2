"""SIGHUP reload of a prefork master, under load: a changed route answers afterwards with zero
failed requests, a broken file changes nothing and is logged, listeners come and go with the
config, and the listening sockets survive the reload."""

import os
import re
import signal
import socket
import threading
import time

import harness
from test_prefork import children, wait_for

WORKERS = 2


class ConnectPerCallLoad:
    """Threads that each open a connection per call (short-lived RPC clients), so every call also
    tests that the listening socket accepts. Any refused or reset connection, or an answer other
    than pong, is a failure. `call` (default: a JSON ping) makes one such call, raising on a
    failure; what it returns, when not None, is kept in `seen`."""

    def __init__(self, port, threads=4, call=None):
        self.port = port
        self.call = call or self.json_ping
        self.stop = threading.Event()
        self.calls = 0
        self.failures = []
        self.seen = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def json_ping(self):
        with harness.JsonClient(self.port) as client:
            answer = client.call("ping", 7)
        if answer != {"out": "pong", "result": 7}:
            raise AssertionError("bad answer %r" % answer)

    def run(self):
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                result = self.call()
                with self.lock:
                    self.calls += 1
                    if result is not None:
                        self.seen.add(result)
            except Exception as error:  # noqa: BLE001 - counted and reported by the test
                with self.lock:
                    self.failures.append(repr(error))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(35)
        return False


class ReloadTest(harness.GatewayTestCase):
    def start(self, handlers, model="prefork"):
        gw = self.start_gateway([{"name": "json", "codec": "json"}],
                                handlers=handlers, process={"model": model, "workers": WORKERS,
                                                            "drain_timeout": "5s"}, log_level="info")
        self.assertTrue(wait_for(lambda: len(children(gw.pid)) == WORKERS, 5))
        return gw

    def rewrite(self, gw, more_yaml="", **changes):
        for key, value in changes.items():
            setattr(gw, key, value)
        with open(gw.config_path, "w") as f:
            f.write(gw.config_text() + more_yaml)

    def setUp(self):
        self.__class__.gateways = ()

    def tearDown(self):
        # Stopped, but kept: a failure report appends each one's log tail after tearDown.
        for gw in self.gateways:
            gw.__exit__(None, None, None)

    def test_changed_route_under_load_loses_nothing(self):
        for model in ("prefork", "fdpass"):
            with self.subTest(model=model):
                self.changed_route_under_load(model)

    def changed_route_under_load(self, model):
        gw = self.start(["ping", "info"], model=model)
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("upper", "abc")["result"]["code"], "UNKNOWN_METHOD")
        old_workers = set(children(gw.pid))
        self.rewrite(gw, more_yaml="routes:\n  - {match: {method: shout}, handler: upper}\n")
        with ConnectPerCallLoad(gw.port("json")) as load:
            time.sleep(0.5)
            before = load.calls
            gw.send_signal(signal.SIGHUP)
            replaced = wait_for(lambda: not (set(children(gw.pid)) & old_workers)
                                and len(children(gw.pid)) == WORKERS, 10)
            time.sleep(0.5)
        self.assertTrue(replaced, "old workers %r still running" % (set(children(gw.pid)) & old_workers))
        self.assertEqual(load.failures, [], "calls failed across the reload")
        self.assertGreater(load.calls - before, 50, "the load did not keep running across the reload")
        print("%d calls across the reload, 0 failed" % load.calls)
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("shout", "abc"), {"out": "upper", "result": "ABC"})
        self.assertIn("configuration reloaded", gw.log_text())

    def test_broken_config_keeps_serving(self):
        gw = self.start(["ping"])
        workers = set(children(gw.pid))
        with open(gw.config_path, "a") as f:
            f.write("listeners: [oops\n")
        gw.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "still serving the previous one" in gw.log_text(), 5), gw.log_tail())
        self.assertEqual(set(children(gw.pid)), workers, "a broken reload must not replace workers")
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("ping", 1), {"out": "pong", "result": 1})
        self.assertIn("YAML syntax error", gw.log_text())

    def test_log_lines_say_what_happened(self):
        gw = self.start(["ping"])
        old_workers = set(children(gw.pid))
        gw.send_signal(signal.SIGHUP)
        outcome = "configuration reloaded: %d workers of generation 2 started; %d older workers draining" % (
            WORKERS, WORKERS)
        self.assertTrue(wait_for(lambda: outcome in gw.log_text(), 5), gw.log_tail())
        self.assertTrue(wait_for(lambda: not (set(children(gw.pid)) & old_workers), 10), gw.log_tail())
        log = gw.log_text()
        self.assertRegex(log, r"worker 0: SIGTERM from the master: draining")
        self.assertNotIn("send it again", log, "an old worker retired by a reload is told nothing to send again")

        with open(gw.config_path, "a") as f:
            f.write("routes: [{match: {method: x}, handler: ehco}]\nadmin: {address: nowhere}\n")
        gw.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "still serving the previous one" in gw.log_text(), 5), gw.log_tail())
        refused = [line for line in gw.log_text().splitlines() if "reload refused" in line]
        self.assertEqual(len(refused), 2, "one line per problem (the handler, the address):\n%s"
                         % "\n".join(refused))
        stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) \[\d+\] ")
        for line in gw.log_text().splitlines():
            self.assertRegex(line, stamp, "every log line starts with its time, level and pid")

        gw.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_for(lambda: "master: SIGUSR1: log reopened (stderr)" in gw.log_text(), 5), gw.log_tail())

    def test_listeners_follow_the_config(self):
        gw = self.start(["ping"])
        json_port = gw.port("json")
        resp_port = harness.free_port()
        # Replace the json listener by a resp one.
        listeners = [{"name": "resp", "codec": "resp", "address": "%s:%d" % (harness.LOOPBACK, resp_port)}]
        self.rewrite(gw, listeners=listeners)
        gw.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "configuration reloaded" in gw.log_text(), 5), gw.log_tail())
        with harness.connect(resp_port) as sock:
            sock.sendall(b"PING\r\n")
            self.assertEqual(harness.recv_exact(sock, 7), b"+PONG\r\n")

        def refused():
            try:
                socket.create_connection((harness.LOOPBACK, json_port), timeout=1).close()
                return False
            except (ConnectionRefusedError, ConnectionResetError):
                return True
        self.assertTrue(wait_for(refused, 10), "the dropped json listener still accepts")

    def test_model_change_is_refused(self):
        gw = self.start(["ping"])
        self.rewrite(gw, process_config={"model": "reuseport", "workers": WORKERS})
        gw.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "cannot change on reload" in gw.log_text(), 5), gw.log_tail())
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("ping", 1), {"out": "pong", "result": 1})


if __name__ == "__main__":
    harness.main()
