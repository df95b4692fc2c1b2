#!/usr/bin/env python3
"""The grpc listener (docs/grpc.md) against Python's own gRPC client (python3-grpcio), with stubs
and a descriptor set compiled from the book's pi.proto by protoc at test time: PiCalculator/Calc
answered in process by the `pi` handler and, through a second rpcgate, by the legacy JSON `pi`
service, values identical to the legacy service's own; the status mapping (unknown method,
deadline, oversized message), the health service, gzip, drain with a call in flight, and a
bystander that keeps working while hostile raw-socket clients send garbage or reset streams."""

import os
import queue
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

PI_PROTO = """syntax = "proto3";
package pi;
service PiCalculator { rpc Calc (PiRequest) returns (PiResponse); }
message PiRequest { int32 n = 1; }
message PiResponse { double value = 1; }
"""
# A second service, not the book's: a slow legacy call for the deadline and drain tests.
SLOW_PROTO = """syntax = "proto3";
package slow;
service Slow { rpc Sleep (SleepRequest) returns (SleepResponse); }
message SleepRequest { double seconds = 1; }
message SleepResponse { double slept = 1; }
"""
# The standard health service's definition, as gRPC ships it (Debian's grpc-proto).
GRPC_PROTOS = "/usr/share/grpc-proto"
MAX_MESSAGE = 64 * 1024
MAX_RESETS = 50
CALL_TIMEOUT = 10 * harness.SLOWDOWN


def compile_protos(directory):
    """Descriptor sets and Python stubs of both protos, in `directory`."""
    for name, text in (("pi", PI_PROTO), ("slow", SLOW_PROTO)):
        with open(os.path.join(directory, name + ".proto"), "w") as f:
            f.write(text)
        harness.protoc_grpc_python(directory, name, descriptor_set=True)
    # Copied beside them, so that its stubs are the modules health_pb2*, not grpc.health.v1.*,
    # which the grpc package itself would shadow.
    shutil.copy(os.path.join(GRPC_PROTOS, "grpc/health/v1/health.proto"), directory)
    harness.protoc_grpc_python(directory, "health")
    # Server reflection, as generic tools (grpcurl, grpc_cli) ask for it: v1alpha, which they try first.
    shutil.copy(os.path.join(GRPC_PROTOS, "grpc/reflection/v1alpha/reflection.proto"), directory)
    harness.protoc_grpc_python(directory, "reflection")


def grpc_listener(directory, **extra):
    listener = {"name": "grpc", "codec": "grpc", "unwrap": True,
                "descriptors": [os.path.join(directory, "pi.pb"), os.path.join(directory, "slow.pb")],
                "max_message_bytes": MAX_MESSAGE, "max_resets": MAX_RESETS, "resets_per_second": 1}
    listener.update(extra)
    return listener


def bridge_routes(legacy_port):
    return ("routes:\n"
            "  - {match: {method: pi.PiCalculator/Calc}, cluster: legacy, rename: pi}\n"
            "  - {match: {method: slow.Slow/Sleep}, cluster: legacy, rename: sleep}\n"
            "  - {match: {glob: \"*\"}, cluster: legacy}  # which must not take the health check\n"
            "clusters:\n"
            "  - {name: legacy, codec: json, endpoints: [127.0.0.1:%d], request_timeout: 10s}\n" % legacy_port)


# HTTP/2 by hand, for the hostile clients only: frames (RFC 9113, 4.1) and header blocks of
# literal fields without indexing or Huffman coding (RFC 7541, 6.2.2), which any HPACK decoder reads.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def header_block(fields):
    return b"".join(b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v for n, v in fields)


CALL_HEADERS = header_block([(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/pi.PiCalculator/Calc"),
                             (b":authority", b"x"), (b"content-type", b"application/grpc")])


def read_until_closed(sock, timeout):
    """Every byte the server sends until it closes, or until `timeout`; and whether it closed."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def frames_of(data):
    """(type, flags, stream, payload) of each whole frame in `data`."""
    out, at = [], 0
    while at + 9 <= len(data):
        length = int.from_bytes(data[at:at + 3], "big")
        out.append((data[at + 3], data[at + 4], int.from_bytes(data[at + 5:at + 9], "big") & 0x7FFFFFFF,
                    data[at + 9:at + 9 + length]))
        at += 9 + length
    return out


class GrpcListenerTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rpcgate-grpc-")
        compile_protos(cls.dir)
        sys.path.insert(0, cls.dir)
        global pi_pb2, pi_pb2_grpc, slow_pb2, slow_pb2_grpc, health_pb2, health_pb2_grpc, reflection_pb2, \
            reflection_pb2_grpc
        import pi_pb2, pi_pb2_grpc, slow_pb2, slow_pb2_grpc, health_pb2, health_pb2_grpc  # noqa: E401,F401
        import reflection_pb2, reflection_pb2_grpc  # noqa: E401,F401
        cls.legacy = harness.LegacyUpstream(name="legacy").start()
        try:
            # In process: the `pi` handler answers the book's call.
            cls.admin_port = harness.free_port()
            # Prefork: the admin port (POST /healthcheck/fail) is the master's.
            cls.gw = cls.start_gateway([grpc_listener(cls.dir)], handlers=["pi"],
                                       process={"model": "prefork", "workers": 1},
                                       extra_yaml="admin: {address: 127.0.0.1:%d}\n"
                                       "routes:\n  - {match: {method: pi.PiCalculator/Calc}, handler: pi}\n"
                                       % cls.admin_port)
            harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")
            # The bridge: the same call, answered by the legacy JSON service.
            cls.bridge = cls.start_gateway([grpc_listener(cls.dir)], handlers=[],
                                           extra_yaml=bridge_routes(cls.legacy.port))
        except Exception:
            super().tearDownClass()
            cls.legacy.__exit__(None, None, None)
            raise
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.gw.port("grpc"))
        cls.bridge_channel = grpc.insecure_channel("127.0.0.1:%d" % cls.bridge.port("grpc"))

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.bridge_channel.close()
        super().tearDownClass()
        cls.legacy.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def worker_pid(self):
        """The prefork gateway's one worker."""
        with open("/proc/%d/task/%d/children" % (self.gw.pid, self.gw.pid)) as f:
            return int(f.read().split()[0])

    def calc(self, channel, n, **kwargs):
        return pi_pb2_grpc.PiCalculatorStub(channel).Calc(pi_pb2.PiRequest(n=n), timeout=CALL_TIMEOUT, **kwargs).value

    def raw_call(self, channel, path, body, timeout=CALL_TIMEOUT):
        return channel.unary_unary(path)(body, timeout=timeout)

    def test_pi_in_process_and_through_the_legacy_service_equals_the_legacy_answer(self):
        with harness.JsonClient(self.legacy.port) as legacy:
            for n in (0, 1, 1000, 123457):
                expected = legacy.call("pi", n)["result"]
                self.assertEqual(self.calc(self.channel, n), expected, "in process, n=%d" % n)
                self.assertEqual(self.calc(self.bridge_channel, n), expected, "through the bridge, n=%d" % n)

    def test_gzip_messages_are_accepted(self):
        self.assertEqual(self.calc(self.channel, 1000, compression=grpc.Compression.Gzip),
                         self.calc(self.channel, 1000))

    def test_an_unknown_method_is_unimplemented(self):
        for path in ("/pi.PiCalculator/Nope", "/no.Such/Service"):
            with self.assertRaises(grpc.RpcError) as caught:
                self.raw_call(self.channel, path, b"")
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED, path)
            self.assertIn("not in the listener's descriptors", caught.exception.details())
        # In the descriptors, but routed nowhere: the gateway's own UNKNOWN_METHOD.
        with self.assertRaises(grpc.RpcError) as caught:
            slow_pb2_grpc.SlowStub(self.channel).Sleep(slow_pb2.SleepRequest(seconds=0), timeout=CALL_TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertIn("no route for method 'slow.Slow/Sleep'", caught.exception.details())

    def test_grpc_timeout_is_the_calls_deadline(self):
        stub = slow_pb2_grpc.SlowStub(self.bridge_channel)
        self.assertEqual(stub.Sleep(slow_pb2.SleepRequest(seconds=0.05), timeout=CALL_TIMEOUT).slept, 0.05)
        started = time.monotonic()
        with self.assertRaises(grpc.RpcError) as caught:
            stub.Sleep(slow_pb2.SleepRequest(seconds=3), timeout=0.5 * harness.SLOWDOWN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        # rpcgate's answer, sent before the client's own timer: the deadline reached the cluster
        # (its request_timeout is 10 s) as the call's timeout.
        self.assertIn("no answer within", caught.exception.details())
        self.assertLess(time.monotonic() - started, 2.5)

    def test_an_oversized_message_is_resource_exhausted_and_the_channel_goes_on(self):
        def padded(size):  # PiRequest{n: 10} with an unknown bytes field 2, `size` bytes in all
            pad = size - 2 - 1 - 3
            return b"\x08\x0a\x12" + bytes([0x80 | (pad & 0x7F), 0x80 | ((pad >> 7) & 0x7F), pad >> 14]) + b"p" * pad
        answer = pi_pb2.PiResponse.FromString(self.raw_call(self.channel, "/pi.PiCalculator/Calc", padded(MAX_MESSAGE)))
        self.assertEqual(answer.value, self.calc(self.channel, 10))
        with self.assertRaises(grpc.RpcError) as caught:
            self.raw_call(self.channel, "/pi.PiCalculator/Calc", padded(MAX_MESSAGE + 1))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("max_message_bytes", caught.exception.details())
        self.assertGreater(self.calc(self.channel, 1000), 3.14)

    def health(self, channel, service):
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=CALL_TIMEOUT).status

    def test_the_health_service_answers_from_readiness(self):
        serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
        for channel in (self.channel, self.bridge_channel):  # the bridge's catch-all route does not take it
            self.assertEqual(self.health(channel, ""), serving)
            self.assertEqual(self.health(channel, "pi.PiCalculator"), serving)
            # A service the listener does not serve: NOT_FOUND, as the health protocol answers it.
            with self.assertRaises(grpc.RpcError) as caught:
                self.health(channel, "no.Such")
            self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        # What /readyz says, the health service says: NOT_SERVING while failed on purpose.
        self.assertEqual(harness.http(self.admin_port, "POST", "/healthcheck/fail?reason=test")[0], 200)
        try:
            self.assertEqual(harness.http(self.admin_port, "GET", "/readyz")[0], 503)
            self.assertEqual(self.health(self.channel, ""), not_serving)
            self.assertEqual(self.health(self.channel, "pi.PiCalculator"), not_serving)
            self.assertGreater(self.calc(self.channel, 10), 3.0, "calls are still answered")
        finally:
            self.assertEqual(harness.http(self.admin_port, "POST", "/healthcheck/ok")[0], 200)
        self.assertEqual(self.health(self.channel, ""), serving)

    def test_health_watch_follows_readiness(self):
        """Watch, as the health protocol has it: the status at once, then each change (within a sweep
        of the gateway, a second); a service it does not serve is SERVICE_UNKNOWN, its stream open."""
        Response, stub = health_pb2.HealthCheckResponse, health_pb2_grpc.HealthStub(self.channel)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service="pi.PiCalculator"), timeout=CALL_TIMEOUT)
        unknown = stub.Watch(health_pb2.HealthCheckRequest(service="no.Such"), timeout=CALL_TIMEOUT)
        try:
            self.assertEqual(next(watch).status, Response.SERVING)
            self.assertEqual(next(unknown).status, Response.SERVICE_UNKNOWN)
            self.assertEqual(harness.http(self.admin_port, "POST", "/healthcheck/fail?reason=watch")[0], 200)
            try:
                self.assertEqual(next(watch).status, Response.NOT_SERVING)
            finally:
                self.assertEqual(harness.http(self.admin_port, "POST", "/healthcheck/ok")[0], 200)
            self.assertEqual(next(watch).status, Response.SERVING)
            self.assertGreater(self.calc(self.channel, 10), 3.0, "calls go on beside the watches")
        finally:
            watch.cancel()
            unknown.cancel()

    def test_reflection_lists_and_describes_what_a_generic_client_then_calls(self):
        """As a generic tool does: one reflection stream asked three things, each answered before the
        next is asked; the services listed, the file of one with what it imports, a symbol the
        descriptors lack NOT_FOUND; then a call built from the file alone, with no stubs."""
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        Request = reflection_pb2.ServerReflectionRequest
        asked = queue.Queue()
        answers = reflection_pb2_grpc.ServerReflectionStub(self.channel).ServerReflectionInfo(
            iter(asked.get, None), timeout=CALL_TIMEOUT)
        asked.put(Request(host="h", list_services=""))
        listed = next(answers)
        self.assertEqual(listed.valid_host, "h")
        self.assertEqual(listed.original_request.list_services, "")
        self.assertEqual(sorted(s.name for s in listed.list_services_response.service), ["pi.PiCalculator", "slow.Slow"])
        asked.put(Request(file_containing_symbol="pi.PiCalculator.Calc"))
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in next(answers).file_descriptor_response.file_descriptor_proto]
        self.assertEqual([f.name for f in files], ["pi.proto"])
        asked.put(Request(file_containing_symbol="no.Such"))
        self.assertEqual(next(answers).error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        asked.put(None)
        self.assertEqual(list(answers), [])
        self.assertEqual(answers.code(), grpc.StatusCode.OK)

        pool = descriptor_pool.DescriptorPool()
        for f in files:
            pool.Add(f)
        method = pool.FindMethodByName("pi.PiCalculator.Calc")
        factory = message_factory.MessageFactory(pool)  # protobuf 3.21's way (Debian 12)
        request_class = factory.GetPrototype(method.input_type)
        response_class = factory.GetPrototype(method.output_type)
        call = self.channel.unary_unary("/pi.PiCalculator/Calc", request_serializer=request_class.SerializeToString,
                                        response_deserializer=response_class.FromString)
        self.assertEqual(call(request_class(n=1000), timeout=CALL_TIMEOUT).value, self.calc(self.channel, 1000))

    def test_reflection_that_is_no_request_ends_its_stream_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            list(self.channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")(
                iter([b"\x0a\x05ab"]), timeout=CALL_TIMEOUT))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertGreater(self.calc(self.channel, 10), 3.0)

    def test_hostile_clients_are_closed_and_a_bystander_is_not_disturbed(self):
        failures, calls, stop = [], [0], threading.Event()

        def bystander():
            with grpc.insecure_channel("127.0.0.1:%d" % self.gw.port("grpc")) as channel:
                while not stop.is_set():
                    try:
                        self.calc(channel, 100)
                        calls[0] += 1
                    except grpc.RpcError as error:
                        failures.append(error)

        thread = threading.Thread(target=bystander)
        thread.start()
        try:
            # Garbage after the preface: a DATA frame on stream 0 is a connection error.
            with harness.connect(self.gw.port("grpc")) as sock:
                sock.sendall(PREFACE + h2_frame(4, 0, 0) + h2_frame(0, 0, 0, b"garbage"))
                data, closed = read_until_closed(sock, 5 * harness.SLOWDOWN)
            self.assertTrue(closed, "the connection that sent garbage was not closed")
            goaways = [f for f in frames_of(data) if f[0] == 7]
            self.assertTrue(goaways and goaways[0][3][4:8] != b"\x00\x00\x00\x00", frames_of(data))
            # Rapid reset: far more resets than max_resets allows, as fast as they can go.
            with harness.connect(self.gw.port("grpc")) as sock:
                burst = b"".join(h2_frame(1, 0x5, stream, CALL_HEADERS) + h2_frame(3, 0, stream, b"\x00\x00\x00\x08")
                                 for stream in range(1, 2 * 4 * MAX_RESETS, 2))
                harness.send_ignoring_reset(sock, PREFACE + h2_frame(4, 0, 0) + burst)
                data, closed = read_until_closed(sock, 5 * harness.SLOWDOWN)
            self.assertTrue(closed, "the resetting client was not closed")
            self.assertIn(7, [f[0] for f in frames_of(data)], "no GOAWAY before the close")
            # A flood of PINGs whose acknowledgements are never read (CVE-2019-9512): held back, or
            # cut off, as any client that does not read its answers, with rpcgate's memory bounded.
            worker = self.worker_pid()
            before = harness.rss_kib(worker)
            with harness.connect(self.gw.port("grpc")) as sock:
                sock.settimeout(2 * harness.SLOWDOWN)
                try:
                    sock.sendall(PREFACE + h2_frame(4, 0, 0) + h2_frame(6, 0, 0, b"12345678") * 200_000)
                except (socket.timeout, ConnectionResetError, BrokenPipeError):
                    pass  # it stopped reading 3.4 MB of PINGs, or closed
            grown_mib = (harness.rss_kib(worker) - before) / 1024
            self.assertLess(grown_mib, 8, "a ping flood grew the worker %.1f MiB" % grown_mib)
            time.sleep(0.2)
        finally:
            stop.set()
            thread.join(CALL_TIMEOUT)
        self.assertEqual(failures, [])
        self.assertGreater(calls[0], 0)
        self.assertAlive()

    def test_the_shipped_example_bridges_grpc_to_the_legacy_service(self):
        # Its grpc cluster (test_grpc_upstream.py calls it) points at a port nobody listens on.
        gw = harness.ExampleGateway("grpc-bridge.yaml", {9001: self.legacy.port, 50052: harness.free_port()})
        try:
            # As its comment says: the descriptor set made in the directory rpcgate runs in.
            examples = os.path.join(harness.SOURCE_DIR, "conf", "examples")
            subprocess.run(["protoc", "--proto_path=" + examples, "--include_imports",
                            "--descriptor_set_out=" + os.path.join(gw.dir.name, "pi.pb"),
                            os.path.join(examples, "pi.proto")], check=True, timeout=30)
            gw.start()
            with grpc.insecure_channel("127.0.0.1:%d" % gw.port("grpc")) as channel, \
                    harness.JsonClient(self.legacy.port) as legacy:
                self.assertEqual(self.calc(channel, 1000), legacy.call("pi", 1000)["result"])
        finally:
            gw.stop()
            gw.remove_log()

    def test_drain_sends_goaway_and_answers_the_call_in_flight(self):
        gw = harness.Gateway([grpc_listener(self.dir)], handlers=[], extra_yaml=bridge_routes(self.legacy.port)).start()
        try:
            with grpc.insecure_channel("127.0.0.1:%d" % gw.port("grpc")) as channel, \
                    harness.connect(gw.port("grpc")) as idle:
                idle.sendall(PREFACE + h2_frame(4, 0, 0))
                stub = slow_pb2_grpc.SlowStub(channel)
                future = stub.Sleep.future(slow_pb2.SleepRequest(seconds=1), timeout=CALL_TIMEOUT)
                time.sleep(0.3)
                gw.send_signal(signal.SIGTERM)
                self.assertEqual(future.result().slept, 1.0)
                # An idle connection is told goodbye (GOAWAY, NO_ERROR) before it is closed.
                data, closed = read_until_closed(idle, 5 * harness.SLOWDOWN)
                self.assertTrue(closed)
                goaways = [f for f in frames_of(data) if f[0] == 7]
                self.assertEqual([f[3][4:8] for f in goaways], [b"\x00\x00\x00\x00"], frames_of(data))
            self.assertEqual(gw.wait(10), 0)
        finally:
            gw.stop()
            gw.remove_log()


if __name__ == "__main__":
    harness.main()
