"""Shared helpers of the integration tests: free loopback ports, temporary configs, a gateway
subprocess stopped by its PID, and small clients for the three wire protocols.

Environment (set by ctest, see tests/CMakeLists.txt):
  RPCGATE_BIN         the built rpcgate binary
  RPCGATE_PYPROTO     directory holding the generated rpcgate_pb2.py
  RPCGATE_SOURCE_DIR  the source tree (for bench/ and conf/)

Every socket operation has a timeout and every wait loop is bounded in time. Processes are only
ever stopped by the PID this module started; nothing here signals anything else.
"""

import contextlib
import fnmatch
import http.client as httpclient
import importlib
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

IO_TIMEOUT = 5.0            # seconds, for every socket operation
START_TIMEOUT = 10.0        # seconds for a started process to listen on all its ports
STOP_TIMEOUT = 10.0         # seconds after SIGTERM before SIGKILL
LOOPBACK = "127.0.0.1"

SOURCE_DIR = os.environ.get("RPCGATE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("RPCGATE_BIN") or os.path.join(SOURCE_DIR, "build", "rpcgate")
PYPROTO = os.environ.get("RPCGATE_PYPROTO") or os.path.join(
    os.path.dirname(BIN), "tests", "pyproto")
BENCH_DIR = os.path.join(SOURCE_DIR, "bench")
DEFAULT_HANDLERS = ["ping", "echo", "time", "pi", "info", "stats", "config", "upper"]


def _is_sanitized(path):
    """True for a binary built with -DRPCGATE_SANITIZE=ON (gcc links libasan dynamically)."""
    try:
        with open(path, "rb") as f:
            return b"libasan.so" in f.read()
    except OSError:
        return False


# scripts/test.sh runs the behaviour tests against an ASan+UBSan binary too. Its code runs a few
# times slower, and its allocator keeps freed memory in quarantine and pads every block, so
# latency bounds are scaled by SLOWDOWN and memory bounds are only asserted on a normal build
# (the Release stage of the same run asserts them).
SANITIZED = _is_sanitized(BIN)
SLOWDOWN = 4 if SANITIZED else 1


def require_binary(test_case=None):
    """Fails loudly (not a skip) when the binary is missing: a test run without it proves nothing."""
    if not os.access(BIN, os.X_OK):
        raise RuntimeError("rpcgate binary not found or not executable: %r (set RPCGATE_BIN)" % BIN)


# ----------------------------------------------------------------------------------------------
# Ports and processes


def protoc_grpc_python(directory, name, descriptor_set=False):
    """protoc on `directory`/`name`.proto: Python message and gRPC stubs (name_pb2*, with Debian's
    grpc_python_plugin) into `directory`, and with `descriptor_set` the FileDescriptorSet name.pb
    that a grpc listener or cluster loads."""
    command = ["protoc", "--proto_path=" + directory, "--python_out=" + directory, "--grpc_python_out=" + directory,
               "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"]
    if descriptor_set:
        command += ["--include_imports", "--descriptor_set_out=" + os.path.join(directory, name + ".pb")]
    subprocess.run(command + [os.path.join(directory, name + ".proto")], check=True, timeout=30)


def grpc_stubs(directory, name, proto_text):
    """Writes `proto_text` as `directory`/`name`.proto, compiles it (protoc_grpc_python) and imports
    the stubs: (name_pb2, name_pb2_grpc)."""
    with open(os.path.join(directory, name + ".proto"), "w") as f:
        f.write(proto_text)
    protoc_grpc_python(directory, name)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module(name + "_pb2"), importlib.import_module(name + "_pb2_grpc")


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (bound to port 0, then released together)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port():
    return free_ports(1)[0]


def listening_ports():
    """Ports in LISTEN state on this host, read from /proc/net/tcp{,6} (no connection made, so
    waiting for readiness does not touch the gateway's connection counters)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(ports, proc=None, timeout=START_TIMEOUT, describe=""):
    """Waits until every port listens; raises if `proc` exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    missing = set(ports)
    while time.monotonic() < deadline:
        missing = set(ports) - listening_ports()
        if not missing:
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with status %s before listening on %s"
                               % (describe or "process", proc.returncode, sorted(missing)))
        time.sleep(0.02)
    raise RuntimeError("%s did not listen on %s within %.0f s" % (describe or "process", sorted(missing), timeout))


def first_line(proc, timeout=START_TIMEOUT):
    """The first line `proc` prints on its stdout pipe (what a peer says once it serves), or what
    it printed of it within `timeout`."""
    deadline, line = time.monotonic() + timeout, b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(proc.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    return line


class ReadyPeer:
    """A Python peer script (a gRPC server) started on a free port with `--port PORT` and `args`,
    ready once it prints "READY PORT"; stopped by its PID."""

    def __init__(self, script, *args, describe=None):
        self.port = free_port()
        self.proc = subprocess.Popen([PYTHON3, script, "--port", str(self.port)] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = first_line(self.proc)
        if line.split() != [b"READY", str(self.port).encode()]:
            self.stop()
            raise RuntimeError("%s did not start: %r" % (describe or os.path.basename(script), line))

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)
        self.proc.stdout.close()


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Stops one process we started, by its PID: `sig`, a bounded wait, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc is not None else None
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout)


def wait_for(predicate, timeout, step=0.02):
    """True once `predicate()` is, polling every `step` seconds; its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def children(pid):
    """PIDs of the direct children of `pid` (zombies included, until reaped), from /proc."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rss_kib(pid):
    """Resident memory of a process in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------------------------
# Config files


_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_YAML_SPECIAL = re.compile(r"^([-+]?[0-9._]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$")


def _scalar(value):
    if isinstance(value, dict):  # a nested flow mapping, inside a list item's
        return "{%s}" % ", ".join("%s: %s" % (k, _scalar(v)) for k, v in value.items())
    if isinstance(value, list):
        return "[%s]" % ", ".join(_scalar(v) for v in value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if (_PLAIN.match(text) and not _YAML_SPECIAL.match(text)
            and text.lower() not in ("null", "true", "false", "yes", "no", "on", "off", "y", "n", "~")):
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block-style YAML for dicts and lists of scalars/flow items (enough for our configs)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                if isinstance(item, list) and all(not isinstance(x, (dict, list)) for x in item):
                    lines.append("%s%s: [%s]" % (pad, key, ", ".join(_scalar(x) for x in item)))
                else:
                    lines.append("%s%s:" % (pad, key))
                    lines.append(to_yaml(item, indent + 2))
            elif isinstance(item, (dict, list)):
                lines.append("%s%s: %s" % (pad, key, "{}" if isinstance(item, dict) else "[]"))
            else:
                lines.append("%s%s: %s" % (pad, key, _scalar(item)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                # one flow mapping per list item, as users write listeners
                lines.append("%s- {%s}" % (pad, ", ".join("%s: %s" % (k, _scalar(v)) for k, v in item.items())))
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# The gateway under test


class LogFile:
    """A process's log file, readable while it runs and kept (as `_final_log`) once it is deleted."""

    log_path = None
    _final_log = None

    def log_text(self):
        if self._final_log is not None:
            return self._final_log
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        text = self.log_text().splitlines()
        return "\n".join(text[-lines:]) if text else "(empty log)"

    # A context manager: start(), then stop() and remove_log(), keeping the log's text.
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._final_log is None:
            self._final_log = self.log_text()
            self.remove_log()
        return False


SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |WARNING: ThreadSanitizer")


def _first_route_target(routes, method):
    """The handler (or "cluster:NAME") of the first route that takes `method`, None if none does."""
    for route in routes:
        match = route.get("match", {})
        methods = match.get("methods", [match["method"]] if "method" in match else None)
        if methods is not None:
            taken = method in methods
        elif "prefix" in match:
            taken = method.startswith(match["prefix"])
        else:
            taken = fnmatch.fnmatchcase(method, match.get("glob", "*"))
        if taken:
            return route.get("handler", "cluster:%s" % route.get("cluster"))
    return None


class Gateway(LogFile):
    """One rpcgate process on free loopback ports.

        with Gateway([{"name": "json", "codec": "json"}]) as gw:
            port = gw.port("json")

    Each listener dict is written as given plus an `address` on a free port. stdout and stderr go
    to a log file; `log_tail()` returns its end for failure messages.
    """

    def __init__(self, listeners, handlers=None, process=None, extra=None, log_level="debug", extra_yaml=""):
        require_binary()
        self.listeners = [dict(item) for item in listeners]
        ports = free_ports(len(self.listeners))
        for listener, port in zip(self.listeners, ports):
            listener["address"] = "%s:%d" % (LOOPBACK, port)
        self.ports = {listener["name"]: port for listener, port in zip(self.listeners, ports)}
        self.handlers = DEFAULT_HANDLERS if handlers is None else handlers
        self.process_config = {"model": "single", "drain_timeout": "5s"}
        if process:
            self.process_config.update(process)
        self.extra = extra or {}
        self.extra_yaml = extra_yaml  # appended as written: for shapes to_yaml does not produce
        self.log_level = log_level
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-it-")
        self.config_path = os.path.join(self.dir.name, "rpcgate.yaml")
        self.log_path = os.path.join(self.dir.name, "rpcgate.log")
        self.proc = None
        self._log = None
        self._final_log = None   # the log's text, kept when the temporary directory goes
        self.returncode = None

    def config_text(self):
        handlers = self.handlers
        if handlers is DEFAULT_HANDLERS:
            # As a careful author would list them: rpcgate -t refuses a listed handler that a
            # route takes first, which a test's catch-all route would do.
            handlers = [name for name in handlers if _first_route_target(self.extra.get("routes", []), name)
                        in (None, name)]
        ordered = {"process": self.process_config, "logging": {"level": self.log_level},
                   "handlers": handlers, "listeners": self.listeners}
        ordered.update(self.extra)
        return to_yaml(ordered) + "\n" + self.extra_yaml

    def start(self):
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "-c", self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir.name)
        try:
            wait_listening(self.ports.values(), self.proc, describe="rpcgate")
        except Exception as error:
            self.stop()
            raise RuntimeError("%s\n--- config ---\n%s--- log tail ---\n%s"
                               % (error, self.config_text(), self.log_tail())) from None
        return self

    @property
    def pid(self):
        return self.proc.pid

    def port(self, name):
        return self.ports[name]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """The exit status within `timeout` seconds, or None if still running."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        if self.proc is not None:
            self.returncode = stop_process(self.proc, sig, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
            # A sanitizer build (scripts/test.sh runs some tests on one) reports into the log,
            # from the master or any worker: a report fails the test that stopped it.
            reports = [line for line in self.log_text().splitlines() if SANITIZER_REPORT.search(line)]
            if reports:
                raise AssertionError("sanitizer report in the rpcgate log:\n%s\n%s" % ("\n".join(reports[:5]), self.log_tail(60)))
        return self.returncode

    def remove_log(self):
        self.dir.cleanup()


class GatewayTestCase(unittest.TestCase):
    """A TestCase whose failures carry the tail of the gateway's log.

    Subclasses set `cls.gw` (a started Gateway) in setUpClass, usually through start_gateway().
    """

    gw = None
    gateways = ()

    @classmethod
    def start_gateway(cls, *args, **kwargs):
        gw = Gateway(*args, **kwargs).start()
        cls.gateways = tuple(cls.gateways) + (gw,)
        return gw

    @classmethod
    def tearDownClass(cls):
        for gw in cls.gateways:
            gw.__exit__(None, None, None)
        cls.gateways = ()

    def run(self, result=None):
        # Append the log tail to every failure and error of this test.
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for collection in (result.failures, result.errors):
                for i, (test, text) in enumerate(collection):
                    if test is self and "--- rpcgate log tail" not in text:
                        tails = "".join("\n--- rpcgate log tail (pid %s) ---\n%s\n" % (g.proc.pid if g.proc else "-", g.log_tail())
                                        for g in self.gateways)
                        collection[i] = (test, text + tails)
        return outcome

    def assertAlive(self, gw=None):
        gw = gw or self.gw
        self.assertTrue(gw.alive(), "rpcgate exited with status %s" % (gw.proc.poll(),))


class GatewayPerTestCase(GatewayTestCase):
    """A GatewayTestCase whose tests each start the gateways they need (start_gateway), stopped
    after the test but kept, so that a failure report still appends each one's log tail."""

    def setUp(self):
        self.__class__.gateways = ()

    def tearDown(self):
        for gw in self.gateways:
            gw.__exit__(None, None, None)


def main():
    """Runs the tests of the calling script; exits non-zero on any failure."""
    unittest.main(verbosity=2)


# ----------------------------------------------------------------------------------------------
# Sockets


@contextlib.contextmanager
def occupied_port():
    """A loopback port held by a listening socket of ours (without SO_REUSEPORT) meanwhile."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((LOOPBACK, 0))
        s.listen(1)
        yield s.getsockname()[1]
    finally:
        s.close()


def connect(port, timeout=IO_TIMEOUT, nodelay=True):
    s = socket.create_connection((LOOPBACK, port), timeout=timeout)
    s.settimeout(timeout)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n, timeout=IO_TIMEOUT):
    """Exactly n bytes; raises EOFError on a close and socket.timeout when they do not come."""
    deadline = time.monotonic() + timeout
    chunks = []
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out after %.1f s waiting for %d bytes (got %d)" % (timeout, n, got))
        sock.settimeout(left)
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (got, n))
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def wait_closed(sock, timeout=IO_TIMEOUT):
    """Reads until the peer closes; returns (closed, bytes read). A reset counts as closed."""
    deadline = time.monotonic() + timeout
    data = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, b"".join(data)
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, b"".join(data)
        except (ConnectionResetError, BrokenPipeError):
            return True, b"".join(data)
        if not chunk:
            return True, b"".join(data)
        data.append(chunk)


def send_ignoring_reset(sock, data):
    """Sends what the peer takes; a peer that already closed is not an error here."""
    try:
        sock.sendall(data)
        return True
    except (ConnectionResetError, BrokenPipeError):
        return False


class SocketClient:
    """A client owning `self.sock`: closed by close() or at the end of a `with` block."""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ----------------------------------------------------------------------------------------------
# json: 4-byte length (little-endian by default) + JSON


def _order_char(order):
    return "<" if order == "little" else ">"


def frame(body, order="little"):
    if not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    return struct.pack(_order_char(order) + "I", len(body)) + bytes(body)


def read_frame(sock, order="little", timeout=IO_TIMEOUT):
    (length,) = struct.unpack(_order_char(order) + "I", recv_exact(sock, 4, timeout))
    return recv_exact(sock, length, timeout)


def error_code(answer):
    """The code of a JSON error answer ({"out": "error", "result": {"code": ...}}), or None."""
    result = answer.get("result")
    return result.get("code") if answer.get("out") == "error" and isinstance(result, dict) else None


class JsonClient(SocketClient):
    def __init__(self, port, order="little", timeout=IO_TIMEOUT):
        self.sock = connect(port, timeout)
        self.order = order
        self.timeout = timeout

    def send(self, obj):
        self.sock.sendall(frame(obj, self.order))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=None):
        return json.loads(read_frame(self.sock, self.order, timeout or self.timeout))

    def call(self, method, params=None, **extra):
        request = {"in": method, "params": params}
        request.update(extra)
        self.send(request)
        return self.recv()



# ----------------------------------------------------------------------------------------------
# protobuf: 4-byte big-endian length + rpcgate.v1 messages


def pb2():
    """The generated module (imported lazily: only the protobuf tests need it)."""
    if PYPROTO not in sys.path:
        sys.path.insert(0, PYPROTO)
    import rpcgate_pb2  # noqa: E402
    return rpcgate_pb2


def to_value(obj):
    from google.protobuf import struct_pb2
    value = struct_pb2.Value()
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, (int, float)):
        value.number_value = float(obj)
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, list):
        value.list_value.SetInParent()
        for item in obj:
            value.list_value.values.add().CopyFrom(to_value(item))
    elif isinstance(obj, dict):
        value.struct_value.SetInParent()
        for key, item in obj.items():
            value.struct_value.fields[key].CopyFrom(to_value(item))
    else:
        raise TypeError(type(obj))
    return value


def from_value(value):
    """A google.protobuf.Value as a Python value (numbers stay floats: that is what Value holds)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    return {key: from_value(item) for key, item in value.struct_value.fields.items()}


class ProtoClient(SocketClient):
    def __init__(self, port, timeout=IO_TIMEOUT, sock=None):
        """`sock`: a connected socket to use instead (one wrapped in TLS)."""
        self.pb = pb2()
        self.sock = sock or connect(port, timeout)
        self.timeout = timeout

    def request(self, id, method, params=None, payload=b"", meta=None, omit_params=False):
        message = self.pb.Request(id=id, method=method, payload=payload)
        if not omit_params:
            message.params.CopyFrom(to_value(params))
        for key, item in (meta or {}).items():
            message.meta[key] = item
        return message

    def send(self, message):
        self.sock.sendall(frame(message.SerializeToString(), "big"))

    def recv(self, timeout=None):
        response = self.pb.Response()
        response.ParseFromString(read_frame(self.sock, "big", timeout or self.timeout))
        return response

    def call(self, id, method, params=None, **kwargs):
        self.send(self.request(id, method, params, **kwargs))
        return self.recv()



# ----------------------------------------------------------------------------------------------
# resp: raw command encoding and a small reply reader (RESP2 and RESP3)


class RespError(Exception):
    """An error reply (returned as a value by RespReader, not raised)."""

    def __eq__(self, other):
        return isinstance(other, RespError) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


class RespDouble(float):
    """A RESP3 `,` double, kept apart from bulk strings so tests can see the type."""


class RespMap(dict):
    pass


class RespStatus(str):
    """A `+` simple string."""


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RespReader:
    """Reads RESP2/RESP3 replies from a socket: bulk -> bytes, + -> RespStatus, : -> int,
    - -> RespError, $-1/*-1/_ -> None, , -> RespDouble, # -> bool, % -> RespMap, * -> list."""

    def __init__(self, sock, timeout=IO_TIMEOUT):
        self.sock = sock
        self.timeout = timeout
        self.buf = b""

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for a RESP reply (have %r)" % self.buf[:200])
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed (unparsed: %r)" % self.buf[:200])
        self.buf += chunk

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self, timeout=None):
        return self._read(time.monotonic() + (timeout or self.timeout))

    def _read(self, deadline):
        line = self._line(deadline)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return RespStatus(rest.decode("utf-8", "replace"))
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n, deadline)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self._read(deadline) for _ in range(n)]
        if kind == b"%":
            n = int(rest)
            result = RespMap()
            for _ in range(n):
                key = self._read(deadline)
                result[key if not isinstance(key, list) else tuple(key)] = self._read(deadline)
            return result
        if kind == b"_":
            return None
        if kind == b",":
            return RespDouble(float(rest))
        if kind == b"#":
            return rest == b"t"
        if kind == b"=":  # verbatim string: "txt:" + text
            n = int(rest)
            return self._bytes(n, deadline)[4:]
        if kind == b"(":
            return int(rest)
        raise ValueError("unknown RESP type in line %r" % line[:200])


class RespClient(SocketClient):
    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = connect(port, timeout)
        self.reader = RespReader(self.sock, timeout)

    def send(self, *args):
        self.sock.sendall(resp_command(*args))

    def send_raw(self, data):
        self.sock.sendall(data)

    def read(self, timeout=None):
        return self.reader.read(timeout)

    def call(self, *args):
        self.send(*args)
        return self.read()



def redis_client(port, timeout=IO_TIMEOUT):
    """A python3-redis client speaking RESP2 (redis-py 5 takes protocol=2; 4.x only speaks RESP2)."""
    import redis
    try:
        return redis.Redis(host=LOOPBACK, port=port, protocol=2, socket_timeout=timeout,
                           socket_connect_timeout=timeout)
    except TypeError:
        return redis.Redis(host=LOOPBACK, port=port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)


# ----------------------------------------------------------------------------------------------
# The legacy reference server (bench/legacy_server.py), as a real peer


def import_bench(module):
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    return __import__(module)


@contextlib.contextmanager
def legacy_server():
    """Starts bench/legacy_server.py on a free port; yields the port; stops it by PID."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, os.path.join(BENCH_DIR, "legacy_server.py"), "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_listening([port], proc, describe="legacy_server.py")
        except Exception:
            log.seek(0)
            raise RuntimeError("legacy server did not start: %s" % log.read().decode("utf-8", "replace"))
        yield port
    finally:
        stop_process(proc)
        log.close()


LEGACY_UPSTREAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_upstream.py")
PYTHON3 = "/usr/bin/python3"  # the interpreter with Debian's python3 packages


class LegacyUpstream(LogFile):
    """tests/integration/legacy_upstream.py as an upstream, stopped by its PID.

        with LegacyUpstream("--close-on-1024", name="a") as up:
            ... up.port, up.pid, up.log_tail() ...

    `flags` are passed through. The port is a free one unless given, and it is kept across
    restart(). stdout carries only the READY line. stderr (the connection log) goes to a
    temporary file, kept across restarts.
    """

    def __init__(self, *flags, port=None, name=None):
        self.flags = [str(flag) for flag in flags] + (["--name", name] if name is not None else [])
        self.port = port or free_port()
        self.proc = None
        fd, self.log_path = tempfile.mkstemp(prefix="legacy-upstream-", suffix=".log")
        os.close(fd)
        self._final_log = None

    def start(self, timeout=START_TIMEOUT):
        with open(self.log_path, "ab") as log:  # O_APPEND: log_tail() may read while it writes
            self.proc = subprocess.Popen([PYTHON3, LEGACY_UPSTREAM, "--port", str(self.port)] + self.flags,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        deadline, line = time.monotonic() + timeout, b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            chunk = None
            if left > 0 and select.select([self.proc.stdout], [], [], left)[0]:
                chunk = os.read(self.proc.stdout.fileno(), 256)
            if not chunk:  # timed out, or stdout closed: the process exited
                self.stop()
                raise RuntimeError("legacy_upstream.py %s did not print READY within %.0f s (status %s)\n%s"
                                   % (" ".join(self.flags), timeout, self.proc.returncode, self.log_tail()))
            line += chunk
        if line.split() != [b"READY", str(self.port).encode()]:
            self.stop()
            raise RuntimeError("legacy_upstream.py printed %r\n%s" % (line, self.log_tail()))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM by PID, a bounded wait, then SIGKILL; returns the exit status."""
        status = stop_process(self.proc, timeout=timeout)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        return status

    def kill(self):
        """SIGKILL by PID (no clean shutdown), then waits; returns the exit status."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
        return self.stop()

    def restart(self, timeout=START_TIMEOUT):
        """Stops it (if running) and starts it again on the same port (the server retries the bind)."""
        self.stop()
        return self.start(timeout)

    def remove_log(self):
        with contextlib.suppress(OSError):
            os.remove(self.log_path)


# ----------------------------------------------------------------------------------------------
# Certificates, made with the openssl command line

# What a test's certificate script starts with: ECDSA P-256 keys ($ec), a CA (ca.pem, ca.key),
# and `issue NAME SUBJECT SAN [SERIAL] [DAYS]`, a certificate that CA signed (NAME.pem, NAME.key).
_CERTIFICATES_PROLOGUE = r"""
set -e
exec >openssl.log 2>&1
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 3 -subj /CN=rpcgate-test-ca
issue() {
  openssl req $ec -keyout $1.key -out $1.csr -subj "$2" -addext "subjectAltName=$3"
  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key ${4:+-set_serial $4} -CAcreateserial -out $1.pem \
    -days ${5:-2} -copy_extensions copy
}
"""


def make_certificates(directory, script):
    """Runs `script` after the prologue above in `directory`, then makes every key file private
    (rpcgate refuses a key others can read); returns name -> its path in `directory`."""
    done = subprocess.run(["sh", "-c", _CERTIFICATES_PROLOGUE + script + "\nchmod 600 *.key\n"], cwd=directory,
                          timeout=60)
    if done.returncode != 0:
        with open(os.path.join(directory, "openssl.log")) as f:
            raise RuntimeError("openssl failed:\n" + f.read())
    return lambda name: os.path.join(directory, name)


# ----------------------------------------------------------------------------------------------
# The admin port


def http(port, method, path, body=None, timeout=IO_TIMEOUT):
    connection = httpclient.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode()
    finally:
        connection.close()


def metric_samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert match, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


def metric_value(parsed, name, **labels):
    wanted = set(labels.items())
    found = [v for (n, l), v in parsed.items() if n == name and wanted <= set(l)]
    assert len(found) == 1, "%s%s: %d series" % (name, labels, len(found))
    return found[0]


def same_json(a, b):
    """Value-for-value equality that also tells 1 from 1.0 and True from 1, and -0.0 from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and (a != 0 or str(a) == str(b)) or (a != a and b != b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return a == b


# ----------------------------------------------------------------------------------------------
# Real upstream peers, and the example configs that use them


class RedisServer:
    """A redis-server on a free loopback port, with no persistence, stopped by its PID."""

    def __init__(self, *flags, port=None):
        self.port = port or free_port()
        self.flags = list(flags)  # more redis-server options, such as "--requirepass", "x"
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-redis-")
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir.name, "redis.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                 "--appendonly", "no", "--dir", self.dir.name] + self.flags,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        wait_listening([self.port], self.proc, describe="redis-server")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        status = stop_process(self.proc)
        self.dir.cleanup()
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# Debian's zookeeper.jar names its dependencies in its manifest's Class-Path, but no slf4j binding:
# alone it starts and logs nothing at all. slf4j-log4j12 with log4j 1.2 (a dependency of the
# package, and what /etc/zookeeper/conf/log4j.properties is for) gives it a log.
ZOOKEEPER_CLASSPATH = ":".join("/usr/share/java/%s.jar" % jar
                               for jar in ("zookeeper", "slf4j-log4j12", "log4j-1.2"))
ZOOKEEPER_JVM_FLAGS = [
    "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",  # small, and quick to start on 2 cores
    "-XX:-UsePerfData",                   # no /tmp/hsperfdata_$USER/PID file left behind
    "-Dzookeeper.jmx.log4j.disable=true",  # skips registering log4j's MBeans at start
]
ZOOKEEPER_START_TIMEOUT = 20.0  # a JVM: ~0.5 s on an idle box, allow for a loaded one
ZOOKEEPER_LOG4J = """\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""


def stop_kazoo(client, timeout=2.0):
    """Stops and closes a kazoo client, waiting at most `timeout` seconds; True if it finished.
    With ZooKeeper up, stop() closes the session (its ephemeral nodes go at once). With ZooKeeper
    down, kazoo's stop() sleeps out its reconnect back-off, up to 10 s, then raises: not worth a wait."""
    def run():
        with contextlib.suppress(Exception):
            client.stop()
            client.close()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


class ZooKeeperServer(LogFile):
    """A standalone ZooKeeper (Debian's zookeeper package) on a free loopback port, stopped by its PID.

        with ZooKeeperServer() as zk:
            up = LegacyUpstream("--zookeeper", zk.hosts, "--zk-path", "/demo").start()
            zk.client().get_children("/demo")

    tickTime is 500 ms and the session timeouts accepted go from 1 s to 60 s, so tests can have
    short sessions expire and long ones survive a ZooKeeper restart. stop() keeps the data directory: start() again serves the same data on the same
    port, persistent nodes included. Sessions are kept too, so the ephemeral nodes of a client that
    is gone stay for one more session timeout after the restart. close() (or leaving the `with`)
    also stops the clients of client() and removes the directory; log_tail() still works after it.
    """

    def __init__(self, port=None):
        self.port = port or free_port()
        self.hosts = "%s:%d" % (LOOPBACK, self.port)
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-zk-")
        self.log_path = os.path.join(self.dir.name, "zookeeper.log")  # appended to across restarts
        self.proc = None
        self._final_log = None
        self._clients = []

    def config_text(self):
        return "\n".join([
            "tickTime=500",
            "minSessionTimeout=1000",
            "maxSessionTimeout=60000",
            "dataDir=%s" % os.path.join(self.dir.name, "data"),
            "clientPort=%d" % self.port,
            "clientPortAddress=%s" % LOOPBACK,
            "admin.enableServer=false",  # else its Jetty admin server takes port 8080
            "maxClientCnxns=0",
            "4lw.commands.whitelist=ruok,srvr",
        ]) + "\n"

    def start(self, timeout=ZOOKEEPER_START_TIMEOUT):
        # Whatever answers on the port counts as serving below, so it must be ours.
        if self.alive() or self.port in listening_ports():
            raise RuntimeError("zookeeper: port %d is in use (already started?)" % self.port)
        config = os.path.join(self.dir.name, "zoo.cfg")
        log4j = os.path.join(self.dir.name, "log4j.properties")
        with open(config, "w") as f:
            f.write(self.config_text())
        with open(log4j, "w") as f:
            f.write(ZOOKEEPER_LOG4J)
        with open(self.log_path, "ab") as log:  # stdout and stderr, so JVM errors land there too
            self.proc = subprocess.Popen(
                ["java"] + ZOOKEEPER_JVM_FLAGS + ["-Dlog4j.configuration=file:" + log4j,
                 "-cp", ZOOKEEPER_CLASSPATH, "org.apache.zookeeper.server.ZooKeeperServerMain", config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir.name)
        deadline = time.monotonic() + timeout
        while not self.serving():
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                status = self.stop()
                raise RuntimeError("zookeeper on port %d did not serve within %.0f s (status %s)\n"
                                   "--- zookeeper log tail ---\n%s" % (self.port, timeout, status, self.log_tail()))
            time.sleep(0.05)
        return self

    def serving(self):
        """Whether it serves clients. `ruok` is no test: it answers imok as soon as the port
        listens, before the data is loaded; `srvr` names the mode only once it serves."""
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as s:
                s.sendall(b"srvr")
                answer = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return b"Mode: " in answer
                    answer += chunk
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID (the JVM exits with 143), keeping the data; returns the exit status."""
        return stop_process(self.proc)

    def client(self, session_timeout=10.0, timeout=IO_TIMEOUT):
        """A started kazoo KazooClient connected to it; close() stops it, so a test need not."""
        from kazoo.client import KazooClient  # lazily: only the ZooKeeper tests need python3-kazoo
        client = KazooClient(hosts=self.hosts, timeout=session_timeout)
        client.start(timeout=timeout)
        self._clients.append(client)
        return client

    def remove_log(self):
        self.dir.cleanup()

    def close(self):
        for client in self._clients:  # first, while the server can still close their sessions
            stop_kazoo(client)
        self._clients = []
        super().__exit__(None, None, None)

    def __exit__(self, *exc):
        self.close()
        return False


_ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")


class ExampleGateway(Gateway):
    """A gateway on conf/examples/NAME as shipped, with its ports moved: each listener to a free
    port, and each upstream port as `upstream_ports` maps it ({6379: redis.port}). A port the map
    does not cover is an error, so a test cannot silently talk to something it did not start."""

    def __init__(self, name, upstream_ports, log_level="info"):
        self.example_path = os.path.join(SOURCE_DIR, "conf", "examples", name)
        with open(self.example_path) as f:
            self.example = f.read()
        listeners = re.findall(r"\{name: ([\w.-]+), address: 127\.0\.0\.1:(\d+)", self.example)
        super().__init__([{"name": listener} for listener, _ in listeners], log_level=log_level)
        self.port_map = dict(upstream_ports)
        self.port_map.update({int(port): self.ports[listener] for listener, port in listeners})

    def config_text(self):
        def move(match):
            port = int(match.group(1))
            if port not in self.port_map:
                raise ValueError("%s uses port %d, which the test did not map" % (self.example_path, port))
            return "%s:%d" % (LOOPBACK, self.port_map[port])
        return _ADDRESS.sub(move, self.example) + "\nlogging: {level: %s}\n" % self.log_level
