#!/usr/bin/env python3
"""gRPC to gRPC passthrough (docs/grpc.md, "gRPC to gRPC"): a grpc listener and a grpc cluster,
neither with descriptors, in front of two Python gRPC servers (tests/integration/grpc_relay_upstream.py,
stubs compiled by protoc at test time). Every answer is compared with the same call made to a
server directly: messages, status codes (those rpcgate's own error table lacks included), messages
and metadata as the server sent them; calls balanced per call on one client connection."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402  (Debian's python3-grpcio)

HERE = os.path.dirname(os.path.abspath(__file__))
RELAY_PROTO = """syntax = "proto3";
package relay;
service Relay {
  rpc Echo (Note) returns (Note);
  rpc Fail (Failure) returns (Note);
}
message Note { string text = 1; string server = 2; }
message Failure { int32 code = 1; string message = 2; }
"""
CALL_TIMEOUT = 10 * harness.SLOWDOWN
# NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE,
# DATA_LOSS (not in rpcgate's table), and some that are.
CODES = (5, 6, 7, 9, 10, 11, 15, 3, 12, 13, 2, 14)


def compile_proto(directory):
    with open(os.path.join(directory, "relay.proto"), "w") as f:
        f.write(RELAY_PROTO)
    harness.protoc_grpc_python(directory, "relay")


class RelayServer(harness.ReadyPeer):
    """grpc_relay_upstream.py on a free port, stopped by its PID."""

    def __init__(self, stubs, name):
        super().__init__(os.path.join(HERE, "grpc_relay_upstream.py"), "--stubs", stubs, "--name", name,
                         describe="grpc_relay_upstream.py " + name)


def outcome(call):
    """What a client sees of a failed unary call: code, details, trailing metadata."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error.details(), tuple(error.trailing_metadata() or ())
    raise AssertionError("the call succeeded")


class GrpcPassthroughTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        # Class cleanups run after tearDownClass (the gateway first), and when setUpClass fails.
        cls.dir = tempfile.mkdtemp(prefix="rpcgate-grpc-pass-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        compile_proto(cls.dir)
        sys.path.insert(0, cls.dir)
        global relay_pb2, relay_pb2_grpc
        import relay_pb2, relay_pb2_grpc  # noqa: E401,F401
        cls.a = RelayServer(cls.dir, "a")
        cls.addClassCleanup(cls.a.stop)
        cls.b = RelayServer(cls.dir, "b")
        cls.addClassCleanup(cls.b.stop)
        cls.gw = cls.start_gateway(
            [{"name": "grpc", "codec": "grpc"}], handlers=[],
            extra_yaml=("routes:\n"
                        "  - {match: {prefix: \"relay.Relay/\"}, cluster: pair}\n"
                        "clusters:\n"
                        "  - {name: pair, codec: grpc, endpoints: [127.0.0.1:%d, 127.0.0.1:%d]}\n"
                        % (cls.a.port, cls.b.port)))

    def channel(self, port=None):
        return grpc.insecure_channel("127.0.0.1:%d" % (port or self.gw.port("grpc")))

    def test_unary_calls_are_balanced_per_call_on_one_connection(self):
        with self.channel() as channel:
            stub = relay_pb2_grpc.RelayStub(channel)
            notes = [stub.Echo(relay_pb2.Note(text=str(i)), timeout=CALL_TIMEOUT) for i in range(10)]
        self.assertEqual([note.text for note in notes], [str(i) for i in range(10)])
        servers = [note.server for note in notes]
        self.assertEqual(sorted(servers), ["a"] * 5 + ["b"] * 5, servers)
        for first, second in zip(servers, servers[1:]):
            self.assertNotEqual(first, second, servers)  # round robin, call by call

    def test_metadata_both_ways_as_the_server_sends_it(self):
        sent = (("x-echo", "one"), ("x-more", "two words"), ("x-raw-bin", b"\x00\x01\xfe\xff"))
        results = []
        for port in (self.a.port, self.gw.port("grpc")):
            with self.channel(port) as channel:
                stub = relay_pb2_grpc.RelayStub(channel)
                note, call = stub.Echo.with_call(relay_pb2.Note(text="hello"), metadata=sent, timeout=CALL_TIMEOUT)
                results.append((note.text, tuple(call.initial_metadata()), tuple(call.trailing_metadata()),
                                call.code()))
        direct, through = results
        self.assertEqual(through, direct)
        self.assertIn(("x-raw-bin", b"\x00\x01\xfe\xff"), [tuple(m) for m in through[1]])

    def test_every_status_code_message_and_trailer_as_the_server_sends_it(self):
        with self.channel(self.a.port) as direct_channel, self.channel() as channel:
            direct = relay_pb2_grpc.RelayStub(direct_channel)
            through = relay_pb2_grpc.RelayStub(channel)
            for code in CODES:
                failure = relay_pb2.Failure(code=code, message="code %d: état à 100%% ✓" % code)
                expected = outcome(lambda: direct.Fail(failure, timeout=CALL_TIMEOUT))
                self.assertEqual(expected[0].value[0], code)
                self.assertEqual(outcome(lambda: through.Fail(failure, timeout=CALL_TIMEOUT)), expected)
            # The connection and the calls on it go on.
            self.assertEqual(through.Echo(relay_pb2.Note(text="after"), timeout=CALL_TIMEOUT).text, "after")


if __name__ == "__main__":
    harness.main()
