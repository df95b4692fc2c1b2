#!/usr/bin/env python3
"""bench/legacy_prefork_server.py, the legacy service as users deploy it (a master, prefork
workers each running an asyncio loop): its ping and pi answers equal bench/legacy_server.py's for
the same inputs, in both write modes; errors close the connection; more than one worker serves
(seen from /proc: which worker holds each accepted socket); a killed worker is reaped and
respawned; SIGTERM and SIGINT exit 0 and leave no child; workers exit when the master is killed."""

import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import JsonClient, same_json  # noqa: E402
from test_json_protocol import legacy_call  # noqa: E402  (a call on a fresh connection)
from test_prefork import wait_for  # noqa: E402

SERVER = os.path.join(harness.BENCH_DIR, "legacy_prefork_server.py")
legacy_server = harness.import_bench("legacy_server")
child_pids = harness.import_bench("upstream_cost").child_pids
cpu_seconds = harness.import_bench("resp_ping_cpu").cpu_seconds
READY_LINE = re.compile(rb"^listening on 127\.0\.0\.1:(\d+) master=(\d+) workers=([\d,]+)$")

PING_PARAMS = [None, 0, -7, 2 ** 53 + 1, 2 ** 64 - 1, 0.1, -2.5e-300, 1e300, "", "text",
               "unicode \u00e9\u4e2d\U0001f600", "quote\"back\\slash\n", True, False, [],
               [1, "a", None, [2.5]], {}, {"id": 7, "nested": {"list": [1, 2, {"x": None}]}}]
PI_TERMS = [0, 1, 2, 10, 1000, 123457]
BUSY_SECONDS = 1.5  # how long the pi that keeps one worker busy should take


class PreforkServer(harness.LogFile):
    """legacy_prefork_server.py on a free port (--port 0), stopped by its PID."""

    def __init__(self, *flags):
        self.flags = [str(flag) for flag in flags]
        fd, self.log_path = tempfile.mkstemp(prefix="legacy-prefork-", suffix=".log")
        os.close(fd)
        self.proc = None

    def start(self, timeout=harness.START_TIMEOUT):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([harness.PYTHON3, SERVER, "--port", "0"] + self.flags,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        # The master prints its one line in one write once every worker serves, or exits (EOF).
        readable = select.select([self.proc.stdout], [], [], timeout)[0]
        line = self.proc.stdout.readline() if readable else b""
        if not line.endswith(b"\n"):
            self.stop()
            raise RuntimeError("%s did not print its listening line within %.0f s (status %s)\n%s"
                               % (SERVER, timeout, self.proc.returncode, self.log_tail()))
        match = READY_LINE.match(line.strip())
        if not match or int(match.group(2)) != self.proc.pid:
            self.stop()
            raise RuntimeError("unexpected first line %r\n%s" % (line, self.log_tail()))
        self.port = int(match.group(1))
        self.workers = [int(pid) for pid in match.group(3).split(b",")]
        return self

    @property
    def pid(self):
        return self.proc.pid

    def children(self):
        return set(child_pids(self.proc.pid))

    def stop(self, sig=signal.SIGTERM):
        status = harness.stop_process(self.proc, sig)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        return status

    def remove_log(self):
        os.unlink(self.log_path)


def process_state(pid):
    """The state letter of /proc/PID/stat ("Z" for a zombie), or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def serving_pid(sock, pids):
    """Which of `pids` holds the server side of our connected `sock`: the socket whose local port
    is the server's and whose remote port is our local port, found in /proc/net/tcp by inode."""
    server_port = sock.getpeername()[1]
    client_port = sock.getsockname()[1]
    inode = None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if (state == "01" and int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port):
                inode = int(fields[9])
                break
    if inode is None:
        return None
    owners = [pid for pid in pids if inode in socket_inodes(pid)]
    return owners[0] if len(owners) == 1 else None


class LegacyPreforkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = []
        cls.server = cls.start_server("--workers", 2)
        cls.one_write = cls.start_server("--workers", 1, "--one-write")
        cls._legacy = harness.legacy_server()
        cls.legacy_port = cls._legacy.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._legacy.__exit__(None, None, None)
        for server in cls.servers:
            server.__exit__(None, None, None)

    @classmethod
    def start_server(cls, *flags):
        server = PreforkServer(*flags).start()
        cls.servers.append(server)
        return server

    def fresh_server(self, *flags):
        """A server of this test alone, stopped (if still running) when the test ends."""
        server = PreforkServer("--workers", 2, *flags).start()
        self.addCleanup(server.__exit__, None, None, None)
        return server

    # --- answers ----------------------------------------------------------------------------

    def assertSameAsLegacy(self, method, params_list):
        """Each server (both write modes) answers as bench/legacy_server.py does, on one connection."""
        for server in (self.server, self.one_write):
            with JsonClient(server.port) as client:
                for params in params_list:
                    with self.subTest(flags=server.flags, method=method, params=params):
                        expected = legacy_call(self.legacy_port, method, params)
                        answer = client.call(method, params)
                        self.assertTrue(same_json(answer, expected),
                                        "%s %r: legacy answered %r, prefork %r" % (method, params, expected, answer))

    def test_ping_matches_legacy_server(self):
        self.assertSameAsLegacy("ping", PING_PARAMS)

    def test_pi_matches_legacy_server(self):
        for n in PI_TERMS:
            self.assertEqual(legacy_call(self.legacy_port, "pi", n),
                             {"out": "pi_r", "result": legacy_server.compute_pi(n)})
        self.assertSameAsLegacy("pi", PI_TERMS)

    def test_pipelined_frames_then_an_unknown_method_closes(self):
        with JsonClient(self.server.port) as client:
            client.send_raw(harness.frame({"in": "ping", "params": 1}) + harness.frame({"in": "pi", "params": 10})
                            + harness.frame({"in": "no_such_method", "params": None})
                            + harness.frame({"in": "ping", "params": 2}))
            self.assertEqual(client.recv(), {"out": "pong", "result": 1})
            self.assertEqual(client.recv(), {"out": "pi_r", "result": legacy_server.compute_pi(10)})
            closed, rest = harness.wait_closed(client.sock)
        self.assertTrue(closed, "an unknown method should close the connection")
        self.assertEqual(rest, b"", "nothing is answered after the unknown method")

    def test_bad_frames_close_the_connection(self):
        bad = {"bad JSON": harness.frame(b"{not json"),
               "not an object": harness.frame(b"[1, 2]"),
               "no in": harness.frame({"params": 1}),
               "pi of a string": harness.frame({"in": "pi", "params": "x"}),
               "prefix over 16 MiB": struct.pack("I", (16 << 20) + 1) + b"{}"}
        for what, data in bad.items():
            with self.subTest(what=what), JsonClient(self.server.port) as client:
                client.send_raw(data)
                closed, rest = harness.wait_closed(client.sock)
                self.assertTrue(closed, "%s should close the connection" % what)
                self.assertEqual(rest, b"")
        self.assertEqual(legacy_call(self.server.port, "ping", "after"), {"out": "pong", "result": "after"})

    # --- workers ----------------------------------------------------------------------------

    def test_concurrent_connections_are_served_by_more_than_one_worker(self):
        server = self.fresh_server()
        workers = set(server.workers)
        self.assertEqual(len(workers), 2)
        self.assertEqual(server.children(), workers)
        started = time.perf_counter()
        legacy_server.compute_pi(100_000)
        n = min(50_000_000, int(100_000 * BUSY_SECONDS / max(time.perf_counter() - started, 1e-4)))
        busy = JsonClient(server.port, timeout=30)
        self.addCleanup(busy.close)
        self.assertEqual(busy.call("ping", 0), {"out": "pong", "result": 0})
        busy_pid = serving_pid(busy.sock, workers)
        self.assertIn(busy_pid, workers)
        # That worker computes a long pi in its event loop: while it does, only the other one can
        # accept and answer. All the connections stay open meanwhile.
        cpu_before = cpu_seconds(busy_pid)
        busy.send({"in": "pi", "params": n})
        self.assertTrue(wait_for(lambda: cpu_seconds(busy_pid) - cpu_before >= 0.1, 10.0),
                        "worker %d did not start computing pi %d" % (busy_pid, n))
        others = []
        for i in range(4):
            client = JsonClient(server.port)
            self.addCleanup(client.close)
            self.assertEqual(client.call("ping", i), {"out": "pong", "result": i})
            others.append(serving_pid(client.sock, workers))
        self.assertEqual(busy.recv(), {"out": "pi_r", "result": legacy_server.compute_pi(n)})
        self.assertEqual(set(others), workers - {busy_pid},
                         "while worker %d computed, the other worker should have served every new connection"
                         % busy_pid)
        print("\n  pi %d kept worker %d busy; 4 connections were served by worker %s meanwhile"
              % (n, busy_pid, sorted(set(others))), file=sys.stderr)

    def test_killed_worker_is_respawned(self):
        server = self.fresh_server()
        victim, survivor = server.workers
        os.kill(victim, signal.SIGKILL)
        def respawned():  # one snapshot: the victim is reaped first, its successor comes later
            children = server.children()
            return len(children) == 2 and survivor in children and victim not in children
        self.assertTrue(wait_for(respawned, 5.0), "no respawn within 5 s; children %s\n%s"
                        % (sorted(server.children()), server.log_tail()))
        self.assertIsNone(process_state(victim), "the killed worker was not reaped (zombie?)")
        (new,) = server.children() - {survivor}
        self.assertTrue(wait_for(lambda: ("worker %d serves" % new) in server.log_text(), 5.0),
                        "the respawned worker %d did not report serving\n%s" % (new, server.log_tail()))
        self.assertIn("worker %d killed by signal 9" % victim, server.log_text())
        self.assertNotIn("Z", [process_state(pid) for pid in server.children()])
        self.assertEqual(legacy_call(server.port, "ping", "again"), {"out": "pong", "result": "again"})

    def test_sigterm_and_sigint_exit_0_and_leave_no_child(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                server = self.fresh_server()
                workers = server.children()
                self.assertEqual(workers, set(server.workers))
                with JsonClient(server.port) as client:  # an open connection does not hold it up
                    self.assertEqual(client.call("ping", 1), {"out": "pong", "result": 1})
                    os.kill(server.pid, sig)
                    status = server.proc.wait(timeout=harness.STOP_TIMEOUT)
                self.assertEqual(status, 0, server.log_tail())
                self.assertEqual({pid: process_state(pid) for pid in workers if process_state(pid)}, {},
                                 "workers still present after the master exited")

    def test_workers_exit_when_the_master_is_killed(self):
        server = self.fresh_server()
        workers = server.children()
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(timeout=harness.STOP_TIMEOUT)
        # Orphans are reparented (to init, or to a subreaper), which reaps them: gone, or a zombie
        # waiting for that reaper, both mean the worker exited.
        exited = lambda: all(process_state(pid) in (None, "Z") for pid in workers)  # noqa: E731
        self.assertTrue(wait_for(exited, 5.0), "workers %s outlived their master: %s"
                        % (sorted(workers), {pid: process_state(pid) for pid in workers}))


if __name__ == "__main__":
    harness.main()
