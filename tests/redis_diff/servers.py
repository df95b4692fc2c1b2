"""The servers of one comparison lane: Redis A asked directly, and rpcgate in front of Redis B.

Both Redis servers get the same flags and ACL users, and the tester keeps a direct admin
connection to each (for INFO clients while waiting for a blocked client, and to reset between
sessions). Everything listens on free 127.0.0.1 ports and is stopped by its PID (harness.py).
"""

import os
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

from resp_frames import FrameBuffer  # noqa: E402
from transcript import encode_command  # noqa: E402

# The same ACL users on both servers, so AUTH/HELLO AUTH/ACL WHOAMI can be compared.
ACL_USERS = [
    ["user1", "on", ">pass1", "~*", "&*", "+@all"],
    ["reader", "on", ">rpass", "~r:*", "&*", "-@all", "+@read", "+@connection", "+acl|whoami"],
]
REDIS_FLAGS = [
    "--repl-diskless-sync", "no",   # SYNC answers at once (the diskless default waits 5 s)
    "--activerehashing", "no",      # hash-table order then moves only with commands, alike on both
    "--loglevel", "warning",
]


def redis_flags():
    flags = list(REDIS_FLAGS)
    for user in ACL_USERS:
        flags += ["--user"] + user
    return flags


def gateway_config(redis_port, workers):
    """The sidecar of conf/examples/redis-sidecar.yaml, RESP listener only; max_connections 2 so
    that a session's clients really share upstream connections."""
    return dict(
        listeners=[{"name": "resp", "codec": "resp"}],
        handlers=[],
        process={"model": "prefork", "workers": workers},
        log_level="warn",
        extra={
            "routes": [{"match": {"glob": "*"}, "cluster": "cache", "timeout": "2s"}],
            "clusters": [{"name": "cache", "codec": "resp",
                          "endpoints": ["127.0.0.1:%d" % redis_port],
                          "max_connections": 2, "pipeline_depth": 256,
                          # Clients log in to Redis themselves, so that its ACL users apply
                          # (docs/redis-compatibility.md, "Logins").
                          "forward_auth": True,
                          "connect_timeout": "200ms", "request_timeout": "2s"}],
        })


class Admin:
    """A direct, blocking connection to one Redis for the tester's own questions."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        self.frames = FrameBuffer()

    def call(self, *args):
        self.sock.sendall(encode_command([str(a) for a in args]))
        deadline = time.monotonic() + 5.0
        while True:
            got = self.frames.frames()
            if got:
                return got[0]
            if time.monotonic() > deadline:
                raise TimeoutError("admin %r: no reply" % (args,))
            select.select([self.sock], [], [], 0.1)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("admin connection closed")
            self.frames.feed(chunk)

    def client_lines(self):
        frame = self.call("CLIENT", "LIST")
        body = frame.split(b"\r\n", 1)[1]
        return [line.decode("latin-1") for line in body.split(b"\n") if line.startswith(b"id=")]

    def blocked_count(self):
        """Clients blocked now. From CLIENT LIST rather than INFO: CLIENT LIST is an admin
        command, which MONITOR does not show, so polling it leaves a session's MONITOR alone."""
        count = 0
        for line in self.client_lines():
            flags = dict(f.split("=", 1) for f in line.split(" ") if "=" in f).get("flags", "")
            count += "b" in flags
        return count

    def unsettled_clients(self):
        """Lines of clients that still hold state: blocked, subscribed, MONITOR, replica."""
        out = []
        for line in self.client_lines():
            fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
            if set(fields.get("flags", "N")) & set("bPOSx") or fields.get("sub", "0") != "0" or fields.get("psub", "0") != "0":
                out.append(line)
        return out

    def info_field(self, section, name):
        text = self.call("INFO", section).decode("latin-1", "replace")
        for line in text.split("\r\n"):
            if line.startswith(name + ":"):
                return int(line.split(":", 1)[1])
        return None

    def close(self):
        self.sock.close()


class _NoGateway:
    """Stands in for rpcgate in --self-check runs: clients of side B talk to Redis B directly."""

    def __init__(self, port):
        self._port = port

    def port(self, name):
        return self._port

    def alive(self):
        return True

    def log_tail(self, lines=40):
        return ""

    def stop(self):
        return 0

    def __exit__(self, *exc):
        return False


class Lane:
    """Redis A (direct), Redis B behind rpcgate. `reference_port` and `gateway_port` are what the
    clients connect to; admin_a/admin_b talk to the two Redis servers directly."""

    def __init__(self, workers=1, self_check=False):
        self.workers = workers
        self.self_check = self_check   # B asked directly too: any difference is the tester's own
        self.redis_a = self.redis_b = self.gateway = None
        self.admin_a = self.admin_b = None

    def start(self):
        self.redis_a = harness.RedisServer(*redis_flags()).start()
        self.redis_b = harness.RedisServer(*redis_flags()).start()
        self.start_gateway()
        self.admin_a = Admin(self.redis_a.port)
        self.admin_b = Admin(self.redis_b.port)
        return self

    def start_gateway(self):
        if self.self_check:
            self.gateway = _NoGateway(self.redis_b.port)
            return
        self.gateway = harness.Gateway(**gateway_config(self.redis_b.port, self.workers)).start()

    @property
    def reference_port(self):
        return self.redis_a.port

    @property
    def gateway_port(self):
        return self.gateway.port("resp")

    def healthy(self):
        return self.gateway.alive() and self.redis_a.proc.poll() is None and self.redis_b.proc.poll() is None

    def restart_gateway(self):
        """After rpcgate died (a finding of its own), so the lane keeps serving."""
        try:
            self.gateway.stop()
        except AssertionError:
            pass
        self.start_gateway()

    def settle(self, timeout=2.0):
        """Between sessions: waits until no client is blocked on either server (the session's
        connections are closed by then), then empties every database and script cache on both.
        Returns a note when B did not settle (a pinned connection rpcgate kept), else None."""
        note = None
        for admin, side in ((self.admin_a, "redis"), (self.admin_b, "rpcgate")):
            deadline = time.monotonic() + timeout
            while True:
                left = admin.unsettled_clients()
                if not left:
                    break
                if time.monotonic() > deadline:
                    note = "%s side: Redis still has %d stateful client(s) %.1f s after the session closed: %s" % (
                        side, len(left), timeout, left[0])
                    break
                time.sleep(0.02)
            admin.call("FLUSHALL")
            admin.call("SCRIPT", "FLUSH")
        if note:
            # A leftover replica, subscriber or MONITOR would disturb the next session: restart
            # rpcgate (its connections go with it) and drop every other client of both servers.
            self.restart_gateway()
            for admin in (self.admin_a, self.admin_b):
                for kind in ("normal", "pubsub", "replica"):
                    admin.call("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
        return note

    def stop(self):
        for admin in (self.admin_a, self.admin_b):
            if admin is not None:
                admin.close()
        log_tail = None
        if self.gateway is not None:
            try:
                self.gateway.__exit__(None, None, None)
            except AssertionError as error:   # a sanitizer report: surface it
                log_tail = str(error)
        for redis in (self.redis_a, self.redis_b):
            if redis is not None:
                redis.stop()
        return log_tail
