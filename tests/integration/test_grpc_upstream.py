#!/usr/bin/env python3
"""grpc clusters (docs/grpc.md, "Legacy clients to gRPC services") against Python gRPC servers
(python3-grpcio, tests/integration/grpc_upstream.py), with stubs and descriptor sets compiled from
the book's pi.proto by protoc at test time: redis-cli, a legacy JSON client and a gRPC client
(through a grpc listener) get the value the gRPC server computes; an error status comes back as
its error code; a deadline shorter than the call is TIMEOUT and the server sees it as
grpc-timeout; calls are balanced per call across two servers; a killed server is UNAVAILABLE while
a bystander cluster keeps answering."""

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402  (Debian's python3-grpcio)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("RPCGATE_SOURCE_DIR", os.path.join(HERE, "..", ".."))
PI_PROTO = os.path.join(SOURCE, "conf", "examples", "pi.proto")
# Not the book's: which server answered, and what deadline it saw.
PROBE_PROTO = """syntax = "proto3";
package probe;
service Probe {
  rpc Who (Empty) returns (WhoAmI);
  rpc Wait (WaitRequest) returns (WaitResponse);
}
message Empty {}
message WhoAmI { string name = 1; }
message WaitRequest { double seconds = 1; }
message WaitResponse { double time_remaining = 1; }
"""
DEADLINE_MS = 400
CALL_TIMEOUT = 10 * harness.SLOWDOWN


def compile_protos(directory):
    shutil.copy(PI_PROTO, os.path.join(directory, "pi.proto"))
    with open(os.path.join(directory, "probe.proto"), "w") as f:
        f.write(PROBE_PROTO)
    for name in ("pi", "probe"):
        harness.protoc_grpc_python(directory, name, descriptor_set=True)


class GrpcServer(harness.ReadyPeer):
    """grpc_upstream.py on a free port, stopped by its PID."""

    def __init__(self, stubs, name, *flags):
        super().__init__(os.path.join(HERE, "grpc_upstream.py"), "--stubs", stubs, "--name", name, *flags,
                         describe="grpc_upstream.py " + name)


class RefusingServer:
    """A broken HTTP/2 server on a raw socket: it settles the connection, then refuses every stream
    (RST_STREAM REFUSED_STREAM), as no real gRPC server does for long, and counts them. It reads
    frame headers only: no HPACK is needed to refuse."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((harness.LOOPBACK, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.refused = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def frame(kind, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

    def serve(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self.refuse_all, args=(conn,), daemon=True).start()

    def refuse_all(self, conn):
        data, at = b"", 24  # after the client preface
        with conn, contextlib.suppress(OSError):
            conn.sendall(self.frame(4, 0, 0))  # SETTINGS, empty
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                while len(data) >= at + 9:
                    length = int.from_bytes(data[at:at + 3], "big")
                    kind, flags = data[at + 3], data[at + 4]
                    stream = int.from_bytes(data[at + 5:at + 9], "big") & 0x7FFFFFFF
                    if len(data) < at + 9 + length:
                        break
                    at += 9 + length
                    if kind == 4 and not flags & 1:  # SETTINGS: acknowledged
                        conn.sendall(self.frame(4, 1, 0))
                    elif kind == 1:  # HEADERS: a new call, refused (REFUSED_STREAM is 7)
                        self.refused += 1
                        conn.sendall(self.frame(3, 0, stream, struct.pack(">I", 7)))

    def stop(self):
        self.sock.close()


class GrpcUpstreamTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rpcgate-grpc-up-")
        compile_protos(cls.dir)
        sys.path.insert(0, cls.dir)
        global pi_pb2, pi_pb2_grpc
        import pi_pb2, pi_pb2_grpc  # noqa: E401,F401
        cls.servers = []
        cls.legacy = None
        try:
            cls.a, cls.b, cls.doomed = (GrpcServer(cls.dir, name) for name in ("a", "b", "doomed"))
            cls.servers = [cls.a, cls.b, cls.doomed]
            cls.narrow = GrpcServer(cls.dir, "narrow", "--max-streams", "1")
            cls.servers.append(cls.narrow)
            cls.refuser = RefusingServer()
            cls.servers.append(cls.refuser)
            cls.leaving, cls.staying = GrpcServer(cls.dir, "leaving"), GrpcServer(cls.dir, "staying")
            cls.servers += [cls.leaving, cls.staying]
            cls.legacy = harness.LegacyUpstream(name="bystander").start()
            descriptors = "descriptors: [%s, %s], unwrap: true" % (os.path.join(cls.dir, "pi.pb"),
                                                                  os.path.join(cls.dir, "probe.pb"))
            cls.gw = cls.start_gateway(
                [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"},
                 {"name": "grpc", "codec": "grpc", "unwrap": True,
                  "descriptors": [os.path.join(cls.dir, "pi.pb")]}],
                handlers=[],
                extra_yaml=(
                    "routes:\n"
                    "  - {match: {method: pi}, cluster: pi, rename: pi.PiCalculator/Calc, kind: pi_r}\n"
                    "  - {match: {prefix: \"pi.PiCalculator/\"}, cluster: pi}\n"
                    "  - {match: {method: probe.Probe/Wait}, cluster: pair, timeout: %dms}\n"
                    "  - {match: {prefix: \"probe.Probe/\"}, cluster: pair}\n"
                    "  - {match: {method: doomed.pi}, cluster: doomed, rename: pi.PiCalculator/Calc}\n"
                    "  - {match: {method: whoami}, cluster: legacy}\n"
                    "  - {match: {method: narrow.wait}, cluster: narrow, rename: probe.Probe/Wait}\n"
                    "  - {match: {method: refused.pi}, cluster: refuser, rename: pi.PiCalculator/Calc}\n"
                    "  - {match: {method: goaway.who}, cluster: goaway, rename: probe.Probe/Who}\n"
                    "  - {match: {method: goaway.wait}, cluster: goaway, rename: probe.Probe/Wait}\n"
                    "clusters:\n"
                    "  - {name: pi, codec: grpc, endpoints: [127.0.0.1:%d], %s}\n"
                    "  - {name: pair, codec: grpc, endpoints: [127.0.0.1:%d, 127.0.0.1:%d], %s}\n"
                    "  - {name: doomed, codec: grpc, endpoints: [127.0.0.1:%d], %s}\n"
                    "  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d]}\n"
                    "  - {name: narrow, codec: grpc, endpoints: [127.0.0.1:%d], max_connections: 2,\n"
                    "     request_timeout: 10s, %s}\n"
                    "  - {name: refuser, codec: grpc, endpoints: [127.0.0.1:%d], request_timeout: 10s, %s}\n"
                    "  - {name: goaway, codec: grpc, endpoints: [127.0.0.1:%d, 127.0.0.1:%d], request_timeout: 10s,\n"
                    "     %s}\n"
                    % (DEADLINE_MS, cls.a.port, descriptors, cls.a.port, cls.b.port, descriptors, cls.doomed.port,
                       descriptors, cls.legacy.port, cls.narrow.port, descriptors, cls.refuser.port, descriptors,
                       cls.leaving.port, cls.staying.port, descriptors)))
        except Exception:
            cls.stop_peers()
            raise

    @classmethod
    def stop_peers(cls):
        for server in cls.servers:
            server.stop()
        if cls.legacy is not None:
            cls.legacy.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stop_peers()

    def redis_cli(self, *args):
        """What redis-cli prints, errors included (whose exit status varies with its version)."""
        done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(self.gw.port("resp"))] + list(args),
                              capture_output=True, text=True, timeout=CALL_TIMEOUT)
        return (done.stdout + done.stderr).strip()

    def grpc_pi(self, n):
        """PiCalculator/Calc asked of server `a` directly: the value to compare with."""
        with grpc.insecure_channel("127.0.0.1:%d" % self.a.port) as channel:
            return pi_pb2_grpc.PiCalculatorStub(channel).Calc(pi_pb2.PiRequest(n=n), timeout=CALL_TIMEOUT).value

    def test_redis_cli_and_a_legacy_client_get_the_grpc_servers_value(self):
        for n in (0, 1000, 123457):
            expected = self.grpc_pi(n)
            self.assertEqual(float(self.redis_cli("call", "pi.PiCalculator/Calc", '{"n": %d}' % n)), expected)
            with harness.JsonClient(self.gw.port("json")) as client:
                # `pi` renamed to the gRPC method, its bare params wrapped into PiRequest.n.
                answer = client.call("pi", n)
                self.assertEqual(answer.get("result"), expected, answer)
        # The route's kind: the legacy client sees the `out` the legacy service itself gives.
        with harness.JsonClient(self.legacy.port) as client:
            legacy_kind = client.call("pi", 10)["out"]
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("pi", 10)["out"], legacy_kind)
            self.assertEqual(client.call("pi", -1)["out"], "error", "an error stays an error")

    def test_a_grpc_client_through_a_grpc_listener(self):
        with grpc.insecure_channel("127.0.0.1:%d" % self.gw.port("grpc")) as channel:
            stub = pi_pb2_grpc.PiCalculatorStub(channel)
            self.assertEqual(stub.Calc(pi_pb2.PiRequest(n=1000), timeout=CALL_TIMEOUT).value, self.grpc_pi(1000))
            with self.assertRaises(grpc.RpcError) as caught:
                stub.Calc(pi_pb2.PiRequest(n=-1), timeout=CALL_TIMEOUT)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("n must be at least 0", caught.exception.details())

    def test_an_error_status_comes_back_as_bad_request(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            answer = client.call("pi", -5)
        self.assertEqual(harness.error_code(answer), "BAD_REQUEST", answer)
        self.assertIn("n must be at least 0, not -5", str(answer))
        out = self.redis_cli("call", "pi.PiCalculator/Calc", '{"n": -5}')
        self.assertIn("BAD_REQUEST n must be at least 0, not -5", out)

    def test_params_that_do_not_fit_are_refused_without_reaching_the_server(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            answer = client.call("pi", "many")
            self.assertEqual(harness.error_code(answer), "BAD_REQUEST", answer)
            answer = client.call("pi.PiCalculator/Nope", 1)
            self.assertEqual(harness.error_code(answer), "UNKNOWN_METHOD", answer)
            self.assertEqual(client.call("pi", 10).get("result"), self.grpc_pi(10))  # the connection goes on

    def test_a_deadline_shorter_than_the_call_is_timeout_and_the_server_sees_it(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            started = time.monotonic()
            answer = client.call("probe.Probe/Wait", {"seconds": 2.0})
            self.assertEqual(harness.error_code(answer), "TIMEOUT", answer)
            self.assertLess(time.monotonic() - started, 1.5)
            seen = client.call("probe.Probe/Wait", {"seconds": 0})
            # grpc-timeout carried what was left of the route's 400 ms.
            self.assertGreater(seen.get("result"), 0, seen)
            self.assertLessEqual(seen.get("result"), DEADLINE_MS / 1000.0, seen)

    def test_calls_are_balanced_per_call_across_both_servers(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            names = [client.call("probe.Probe/Who", {}).get("result") for _ in range(10)]
        self.assertEqual(sorted(set(names)), ["a", "b"], names)
        self.assertEqual(names.count("a"), 5, names)

    def test_a_second_connection_opens_when_the_servers_stream_limit_is_reached(self):
        # The server takes one stream at a time (SETTINGS_MAX_CONCURRENT_STREAMS 1): two calls at
        # once run side by side only if the second gets a connection of its own.
        with harness.JsonClient(self.gw.port("json")) as first, harness.JsonClient(self.gw.port("json")) as second:
            first.call("narrow.wait", {"seconds": 0})  # connected, and the server's settings read
            started = time.monotonic()
            first.send({"in": "narrow.wait", "params": {"seconds": 1.0}})
            second.send({"in": "narrow.wait", "params": {"seconds": 1.0}})
            answers = [first.recv(), second.recv()]
            elapsed = time.monotonic() - started
        for answer in answers:
            self.assertGreater(answer.get("result"), 0, answers)
        self.assertLess(elapsed, 1.8, "the two calls took %.2f s: one after the other" % elapsed)

    def test_a_server_that_refuses_every_stream_fails_the_call_within_its_budget(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            started = time.monotonic()
            answer = client.call("refused.pi", 100)
            elapsed = time.monotonic() - started
            self.assertEqual(harness.error_code(answer), "UNAVAILABLE", answer)
            self.assertIn("refused 4 times", answer["result"]["message"])
            # Not placed again until the route's 10 s deadline, one round trip apart.
            self.assertLess(elapsed, 5.0, "answered after %.1f s" % elapsed)
            self.assertEqual(self.refuser.refused, 4)
            self.assertEqual(client.call("whoami").get("result"), "bystander")

    def test_the_shipped_example_reaches_a_grpc_server(self):
        gw = harness.ExampleGateway("grpc-bridge.yaml", {9001: self.legacy.port, 50052: self.a.port})
        try:
            # As its comment says: the descriptor set made in the directory rpcgate runs in.
            shutil.copy(os.path.join(self.dir, "pi.pb"), os.path.join(gw.dir.name, "pi.pb"))
            gw.start()
            with harness.JsonClient(gw.port("json")) as client:
                self.assertEqual(client.call("grpc_pi", 1000).get("result"), self.grpc_pi(1000))
        finally:
            gw.stop()
            gw.remove_log()

    def test_a_server_stopped_with_goaway_finishes_its_calls_and_no_call_fails(self):
        """grpc-core's own GOAWAY, not nghttp2's: calls in flight on the leaving server are answered,
        and every call made meanwhile is answered by the other one."""
        with harness.JsonClient(self.gw.port("json")) as client:
            names = {client.call("goaway.who")["result"] for _ in range(6)}
        self.assertEqual(names, {"leaving", "staying"}, "both servers have a connection from rpcgate")
        waits = [None] * 4

        def wait(i):
            with harness.JsonClient(self.gw.port("json"), timeout=CALL_TIMEOUT) as client:
                waits[i] = client.call("goaway.wait", 1.5 * harness.SLOWDOWN)

        threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(waits))]
        for thread in threads:
            thread.start()
        # The waits have reached both servers (half a second for it on a busy machine, one left).
        time.sleep(0.5 * harness.SLOWDOWN)
        os.kill(self.leaving.proc.pid, signal.SIGUSR1)
        answers = []
        time.sleep(0.2 * harness.SLOWDOWN)
        self.assertIsNone(self.leaving.proc.poll(), "the leaving server waits for the calls it has in flight")
        with harness.JsonClient(self.gw.port("json")) as client:
            # Longer than the calls in flight: a call made as the GOAWAY comes may wait for them.
            deadline = time.monotonic() + 2.0 * harness.SLOWDOWN
            while time.monotonic() < deadline and len(answers) < 200:
                answers.append(client.call("goaway.who"))
                time.sleep(0.01)
        for thread in threads:
            thread.join(CALL_TIMEOUT)
        for answer in waits:
            self.assertEqual(answer.get("out"), "result", "a call in flight at the GOAWAY: %r" % (answer,))
        failed = [answer for answer in answers if answer.get("out") == "error"]
        self.assertEqual(failed, [], "calls made while the server left")
        self.assertGreater(len(answers), 10)
        self.assertEqual(answers[-1].get("result"), "staying")
        self.assertIsNotNone(harness.wait_for(lambda: self.leaving.proc.poll() is not None, CALL_TIMEOUT),
                             "the leaving server exits once its calls are done")

    def test_z_a_killed_server_is_unavailable_and_a_bystander_keeps_working(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            self.assertEqual(client.call("doomed.pi", 100).get("result"), self.grpc_pi(100))
            self.doomed.stop(signal.SIGKILL)
            answers = [client.call("doomed.pi", 100) for _ in range(3)]
            for answer in answers[1:]:  # the first may find the dead connection
                self.assertEqual(harness.error_code(answer), "UNAVAILABLE", answers)
            self.assertEqual(client.call("whoami").get("result"), "bystander")
            self.assertEqual(client.call("pi", 100).get("result"), self.grpc_pi(100))


if __name__ == "__main__":
    harness.main()
