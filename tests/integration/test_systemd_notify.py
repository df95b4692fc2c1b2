#!/usr/bin/env python3
"""systemd's readiness protocol, as the unit's Type=notify hears it: rpcgate started with
NOTIFY_SOCKET naming a datagram socket this test owns (a path, or '@' for the abstract namespace)
sends READY=1 only once every worker serves, RELOADING=1 then READY=1 around a SIGHUP (once the
new workers serve, or at once when the new file is refused), and STOPPING=1 as SIGTERM starts the
drain. Every message comes from the master itself (systemd's NotifyAccess=main drops the rest):
the sender's pid is read from SCM_CREDENTIALS, as systemd reads it."""

import os
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespClient  # noqa: E402


class NotifySocket:
    """A unix datagram socket bound where NOTIFY_SOCKET will name it, with SO_PASSCRED on."""

    def __init__(self, directory, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = "rpcgate-notify-test-%d-%d" % (os.getpid(), id(self))
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = tempfile.mktemp(prefix="notify-", suffix=".sock", dir=directory)
            self.sock.bind(path)
            self.env = path

    def receive(self, timeout):
        """(fields, sender pid) of the next message, or (None, None) after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None, None
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("iII", payload[:12])
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        return fields, pid

    def close(self):
        self.sock.close()


class NotifyTest(harness.GatewayTestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-notify-")

    def tearDown(self):
        for gw in self.gateways:
            gw.__exit__(None, None, None)
        self.__class__.gateways = ()
        if getattr(self, "notify", None):
            self.notify.close()
        self.dir.cleanup()

    def start(self, process, abstract=False, admin=False, extra=None):
        self.notify = NotifySocket(self.dir.name, abstract)
        extra = dict(extra or {})
        listeners = [{"name": "resp", "codec": "resp"}]
        if admin:
            self.admin_port = harness.free_port()
            extra["admin"] = {"address": "127.0.0.1:%d" % self.admin_port}
        gw = harness.Gateway(listeners, process=process, log_level="info", extra=extra)
        self.__class__.gateways = (gw,)
        os.environ["NOTIFY_SOCKET"] = self.notify.env
        try:
            # Not gw.start(): that waits for the ports, and what matters here is what the
            # gateway says by itself, and when.
            with open(gw.config_path, "w") as f:
                f.write(gw.config_text())
            gw._log = open(gw.log_path, "wb")
            gw.proc = harness.subprocess.Popen([harness.BIN, "-c", gw.config_path], stdin=harness.subprocess.DEVNULL,
                                               stdout=gw._log, stderr=harness.subprocess.STDOUT, cwd=gw.dir.name)
        finally:
            del os.environ["NOTIFY_SOCKET"]
        self.gw = gw
        return gw

    def expect(self, key, timeout=10.0):
        """The next message, which must carry `key`=1 and come from the master."""
        fields, pid = self.notify.receive(timeout * harness.SLOWDOWN)
        self.assertIsNotNone(fields, "no %s=1 within %.0f s" % (key, timeout))
        self.assertEqual(fields.get(key), "1", "expected %s=1, got %r" % (key, fields))
        self.assertEqual(pid, self.gw.pid, "%r was sent by pid %s, not by the master %d" % (fields, pid, self.gw.pid))
        return fields

    def expect_nothing(self, seconds):
        fields, pid = self.notify.receive(seconds)
        self.assertIsNone(fields, "unexpected message %r from pid %s" % (fields, pid))

    def serving_workers(self, generation=1):
        """Workers of `generation` whose 'serving as' line is in the log."""
        role = "worker %d" if generation == 1 else "worker %%d of generation %d" % generation
        text = self.gw.log_text()
        return sum(1 for i in range(8) if "serving as %s (" % (role % i) in text)

    def ping(self):
        with RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("PING"), "PONG")

    def readyz(self):
        import http.client
        connection = http.client.HTTPConnection(harness.LOOPBACK, self.admin_port, timeout=harness.IO_TIMEOUT)
        try:
            connection.request("GET", "/readyz")
            return connection.getresponse().status
        finally:
            connection.close()

    def test_prefork_ready_reload_stop(self):
        self.start({"model": "prefork", "workers": 3}, admin=True)
        ready = self.expect("READY")
        # At READY=1 every worker has said it serves: each logged it, /readyz agrees, and a
        # client is answered.
        self.assertEqual(self.serving_workers(), 3, "READY=1 before every worker served:\n%s" % self.gw.log_tail())
        self.assertEqual(self.readyz(), 200)
        self.assertEqual(ready.get("MAINPID"), str(self.gw.pid))
        self.assertIn("workers: 3", ready.get("STATUS", ""))
        self.ping()
        self.expect_nothing(0.3)

        self.gw.send_signal(signal.SIGHUP)
        reloading = self.expect("RELOADING")
        self.assertIn("MONOTONIC_USEC", reloading)
        self.expect("READY")
        self.assertEqual(self.serving_workers(2), 3,
                         "READY=1 after the reload before the new workers served:\n%s" % self.gw.log_tail())
        self.ping()

        # A reload the new file refuses still ends the "reloading" state, with the old workers.
        with open(self.gw.config_path, "a") as f:
            f.write("listners: []\n")
        self.gw.send_signal(signal.SIGHUP)
        self.expect("RELOADING")
        self.expect("READY", timeout=2)
        self.assertIn("still serving the previous", self.gw.log_text())

        self.gw.send_signal(signal.SIGTERM)
        self.expect("STOPPING")
        self.assertEqual(self.gw.wait(10), 0)
        self.expect_nothing(0.2)

    def test_no_ready_while_a_worker_cannot_start(self):
        # The worker opens the access log; in a directory that is not there yet it exits at
        # start, and the master respawns it. READY=1 must wait until one serves.
        missing = os.path.join(self.dir.name, "later")
        self.start({"model": "prefork", "workers": 1},
                   extra={"logging": {"level": "info", "access_log": True,
                                      "access_log_file": os.path.join(missing, "access.log")}})
        deadline = time.monotonic() + 5 * harness.SLOWDOWN
        while "respawning" not in self.gw.log_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn("respawning", self.gw.log_text(), "the worker did not fail to start")
        self.expect_nothing(0.05)
        os.mkdir(missing)
        self.expect("READY")
        self.assertEqual(self.serving_workers(), 1, "READY=1 before the worker served:\n%s" % self.gw.log_tail())
        self.ping()

    def test_single_process_abstract_socket(self):
        self.start({"model": "single"}, abstract=True)
        self.expect("READY")
        self.assertIn(self.gw.port("resp"), harness.listening_ports())
        self.ping()
        self.gw.send_signal(signal.SIGTERM)
        self.expect("STOPPING")
        self.assertEqual(self.gw.wait(10), 0)

    def test_threads_and_fork_models(self):
        for model in ("threads", "fork"):
            with self.subTest(model=model):
                self.start({"model": model, "workers": 2})
                self.expect("READY")
                self.ping()
                self.gw.send_signal(signal.SIGTERM)
                self.expect("STOPPING")
                self.assertEqual(self.gw.wait(10), 0)
                self.notify.close()
                self.notify = None
                self.gw.__exit__(None, None, None)
                self.__class__.gateways = ()


if __name__ == "__main__":
    harness.main()
