#!/usr/bin/env python3
"""One suite, run against every process model, so that no model can silently fall behind: the
three codecs, pipelining, bad input next to a good client, counters summed over the workers,
a reload (where the model has a master) and a graceful drain on SIGTERM.

Each model gets its own TestCase class (ModelSingleTest, ModelThreadsTest, ...), so a failure
names the model: `test_models.py ModelThreadsTest` runs one."""

import math
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

compute_pi = harness.import_bench("legacy_server").compute_pi

MODELS = ["single", "prefork", "reuseport", "fdpass", "threads", "fork"]
WORKERS = 2
LISTENERS = [{"name": "json", "codec": "json"}, {"name": "resp", "codec": "resp"},
             {"name": "protobuf", "codec": "protobuf"}]
PIPELINE = 200
PI_TERMS = 40_000_000  # about 100 ms of the thread pool (Release): still running when the signal comes


def info_field(port, field):
    with harness.RespClient(port) as client:
        text = client.call("INFO", "stats").decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no %s in INFO: %s" % (field, text))


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class ModelSuite:
    """The tests; mixed into one unittest.TestCase per model below."""

    model = None

    def setUp(self):
        process = {"model": self.model, "drain_timeout": "5s"}
        if self.model != "single":
            process["workers"] = WORKERS
        self.gw = harness.Gateway(LISTENERS, process=process, log_level="info").start()
        self.gateways = (self.gw,)
        if self.model not in ("single", "fork"):  # fork has no workers until connections come
            self.assertTrue(wait_for(lambda: self.gw.log_text().count("serving as worker") >= WORKERS, 5 * harness.SLOWDOWN),
                            self.gw.log_tail())

    def tearDown(self):
        self.gw.__exit__(None, None, None)
        self.gw.remove_log()

    def test_three_codecs(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("ping", {"a": [1, 2]}), {"out": "pong", "result": {"a": [1, 2]}})
            self.assertEqual(client.call("pi", 1000)["result"], compute_pi(1000))
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("PING"), "PONG")
            self.assertEqual(client.call("ECHO", "hello"), b"hello")
        with harness.ProtoClient(self.gw.port("protobuf")) as client:
            response = client.call(7, "ping", "x")
            self.assertEqual((response.id, response.kind, harness.from_value(response.result)), (7, "pong", "x"))

    def test_pipelined_answers_come_back_in_order(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            client.send_raw(b"".join(harness.frame({"in": "ping", "params": i}) for i in range(PIPELINE)))
            self.assertEqual([client.recv()["result"] for _ in range(PIPELINE)], list(range(PIPELINE)))
        with harness.RespClient(self.gw.port("resp")) as client:
            # (digits alone would come back as integers: docs/protocols.md, RESP arguments)
            client.send_raw(b"".join(harness.resp_command("ECHO", "v%d" % i) for i in range(PIPELINE)))
            self.assertEqual([client.read() for _ in range(PIPELINE)], [b"v%d" % i for i in range(PIPELINE)])
        with harness.ProtoClient(self.gw.port("protobuf")) as client:
            client.sock.sendall(b"".join(harness.frame(client.request(i, "ping", i).SerializeToString(), "big")
                                         for i in range(PIPELINE)))
            self.assertEqual([client.recv().id for _ in range(PIPELINE)], list(range(PIPELINE)))

    def test_bad_input_is_answered_and_other_clients_are_served(self):
        with harness.JsonClient(self.gw.port("json")) as good:
            with harness.connect(self.gw.port("json")) as bad:
                bad.sendall(struct.pack("<I", 0xFFFFFFFF) + b"{")
                answer = harness.read_frame(bad)
                self.assertIn(b"TOO_LARGE", answer)
                closed, _ = harness.wait_closed(bad)
                self.assertTrue(closed, "a 4 GiB length prefix should close the connection")
            with harness.connect(self.gw.port("resp")) as bad:
                bad.sendall(b"*1\r\n$4611686018427387904\r\n")
                self.assertTrue(harness.recv_exact(bad, 4).startswith(b"-"), "RESP protocol error expected")
            with harness.ProtoClient(self.gw.port("protobuf")) as bad:
                bad.sock.sendall(struct.pack(">I", 3) + b"\xff\xff\xff")
                self.assertEqual(bad.recv().error.code, "BAD_REQUEST")
            self.assertEqual(good.call("ping", "still here")["result"], "still here")
        self.assertTrue(self.gw.alive())

    def test_requests_are_counted_over_every_worker(self):
        clients = [harness.JsonClient(self.gw.port("json")) for _ in range(6)]
        try:
            for client in clients:
                for i in range(25):
                    self.assertEqual(client.call("ping", i)["result"], i)
        finally:
            for client in clients:
                client.close()
        # 150 pings, plus the INFO itself (counted once it is answered, so not in its own figure)
        self.assertTrue(wait_for(lambda: info_field(self.gw.port("resp"), "total_commands_processed") >= 150, 3))
        self.assertLess(info_field(self.gw.port("resp"), "total_commands_processed"), 150 + 5)

    def test_reload_keeps_serving(self):
        if self.model == "single":
            self.skipTest("model single has no master to reload (SIGHUP is logged and ignored)")
        with harness.JsonClient(self.gw.port("json"), timeout=30) as before:
            # A call in flight across the reload is answered by its old worker, which drains...
            before.send({"in": "pi", "params": PI_TERMS, "id": 1})
            time.sleep(0.02)
            self.gw.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "configuration reloaded" in self.gw.log_text(), 5 * harness.SLOWDOWN),
                            self.gw.log_tail())
            answer = before.recv()
            self.assertEqual((answer.get("out"), answer.get("id")), ("pi_r", 1), answer)
            # ...and new connections are served by the new generation.
            for i in range(10):
                with harness.JsonClient(self.gw.port("json")) as after:
                    self.assertEqual(after.call("ping", i)["result"], i)

    def test_sigterm_drains_in_flight_calls_then_exits_0(self):
        with harness.JsonClient(self.gw.port("json"), timeout=30) as busy:
            busy.send_raw(b"".join(harness.frame({"in": "pi", "params": PI_TERMS, "id": i}) for i in range(2)))
            time.sleep(0.02)
            self.gw.send_signal(signal.SIGTERM)
            refused = wait_for(lambda: not _accepts(self.gw.port("json")), 3 * harness.SLOWDOWN)
            self.assertTrue(refused, "still accepting after SIGTERM")
            for i in range(2):
                answer = busy.recv()
                self.assertEqual((answer.get("out"), answer.get("id")), ("pi_r", i), answer)
                self.assertLess(abs(answer["result"] - math.pi), 1e-5)
        self.assertEqual(self.gw.wait(10 * harness.SLOWDOWN), 0, self.gw.log_tail())


class ForkModelTest(harness.GatewayTestCase):
    """What only model fork has: a child per connection, bounded by max_children, each reaped."""

    def start(self, **process):
        self.gw = self.start_gateway([{"name": "json", "codec": "json"}],
                                     process=dict({"model": "fork", "drain_timeout": "5s"}, **process), log_level="info")
        return self.gw

    def setUp(self):
        self.__class__.gateways = ()

    def tearDown(self):
        for gw in self.gateways:
            gw.__exit__(None, None, None)

    def test_max_children_bounds_the_live_children_and_the_next_connection_waits(self):
        gw = self.start(max_children=2)
        first, second = harness.JsonClient(gw.port("json")), harness.JsonClient(gw.port("json"))
        try:
            self.assertEqual(first.call("ping", 1)["result"], 1)
            self.assertEqual(second.call("ping", 2)["result"], 2)
            self.assertEqual(len(harness.children(gw.pid)), 2)
            with harness.JsonClient(gw.port("json"), timeout=5) as third:
                third.send({"in": "ping", "params": 3})
                readable, _, _ = harness.select.select([third.sock], [], [], 0.5)
                self.assertEqual(readable, [], "a third connection was served past max_children 2")
                self.assertEqual(len(harness.children(gw.pid)), 2)
                first.close()  # its child exits, and the waiting connection gets one
                self.assertEqual(third.recv()["result"], 3)
        finally:
            first.close()
            second.close()

    def test_every_child_is_reaped(self):
        gw = self.start(max_children=16)
        for i in range(60):  # one after another...
            with harness.JsonClient(gw.port("json")) as client:
                self.assertEqual(client.call("ping", i)["result"], i)
        clients = [harness.JsonClient(gw.port("json")) for _ in range(16)]  # ...and at once
        try:
            for i, client in enumerate(clients):
                self.assertEqual(client.call("ping", i)["result"], i)
        finally:
            for client in clients:
                client.close()
        self.assertTrue(wait_for(lambda: harness.children(gw.pid) == [], 5 * harness.SLOWDOWN),
                        "children left, zombies included: %r" % harness.children(gw.pid))
        self.assertEqual(accepted_connections(gw.port("json")), 60 + 16 + 1)

    def test_a_killed_child_costs_only_its_own_connection(self):
        gw = self.start()
        with harness.JsonClient(gw.port("json")) as victim, harness.JsonClient(gw.port("json")) as bystander:
            self.assertEqual(victim.call("ping", 1)["result"], 1)
            self.assertEqual(bystander.call("ping", 2)["result"], 2)
            before = set(harness.children(gw.pid))
            self.assertEqual(len(before), 2)
            os.kill(min(before), signal.SIGKILL)  # the older child serves `victim`
            closed, _ = harness.wait_closed(victim.sock)
            self.assertTrue(closed)
            self.assertEqual(bystander.call("ping", 3)["result"], 3)
        self.assertTrue(wait_for(lambda: "was killed by SIGKILL" in gw.log_text(), 5), gw.log_tail())


class ThreadsModelTest(harness.GatewayTestCase):
    """What only model threads has: one process, and signals turned into commands to the threads."""

    def test_one_process_with_a_thread_per_worker_and_log_reopening(self):
        directory = tempfile.mkdtemp(prefix="rpcgate-threads-")
        access_log = os.path.join(directory, "access.log")
        gw = self.start_gateway([{"name": "json", "codec": "json"}], process={"model": "threads", "workers": 3},
                                extra={"logging": {"level": "info", "access_log": True, "access_log_file": access_log}})
        try:
            self.assertTrue(wait_for(lambda: gw.log_text().count("serving as worker") == 3, 5 * harness.SLOWDOWN))
            self.assertEqual(harness.children(gw.pid), [], "model threads forks nothing")
            self.assertGreaterEqual(len(os.listdir("/proc/%d/task" % gw.pid)), 4, "the master thread and 3 workers")
            self.call_pings(gw, 10)
            self.assertTrue(wait_for(lambda: _lines(access_log) == 10, 5), "10 access log lines")
            # logrotate's way: rename, then SIGUSR1; each thread reopens its access log.
            os.rename(access_log, access_log + ".1")
            gw.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            self.call_pings(gw, 6)
            self.assertTrue(wait_for(lambda: _lines(access_log) == 6, 5), "6 lines in the reopened file")
            self.assertEqual(_lines(access_log + ".1"), 10)
            gw.stop()
            self.assertEqual(gw.returncode, 0)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def call_pings(gw, count):
        for i in range(count):  # a connection each, so that the threads share them
            with harness.JsonClient(gw.port("json")) as client:
                assert client.call("ping", i)["result"] == i


def _lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return -1


def accepted_connections(port):
    """The total over every worker (here: every child, live or gone), this connection included."""
    with harness.JsonClient(port) as client:
        return client.call("stats")["result"]["connections"]["accepted"]


def _accepts(port):
    try:
        socket.create_connection((harness.LOOPBACK, port), timeout=1).close()
        return True
    except (ConnectionRefusedError, ConnectionResetError):
        return False


for _model in MODELS:
    _name = "Model%sTest" % _model.capitalize()
    globals()[_name] = type(_name, (ModelSuite, harness.GatewayTestCase), {"model": _model})
del _model, _name

if __name__ == "__main__":
    harness.main()
