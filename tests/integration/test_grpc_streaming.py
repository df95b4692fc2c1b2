#!/usr/bin/env python3
"""Streamed calls through gRPC to gRPC passthrough (docs/grpc.md, "Streaming"): a grpc listener and
a grpc cluster without descriptors in front of Python gRPC servers with the three streaming kinds
of call (tests/integration/grpc_stream_upstream.py, stubs compiled by protoc at test time). Each
call is made to the server directly and through rpcgate, and what the client sees is compared:
messages, metadata, trailers, status. Then what passthrough must add: messages pass one by one,
a slow reader keeps rpcgate's memory bounded while the other calls go on, cancellation and
deadlines reach the server, a server's abort and a killed server reach the client."""

import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402  (Debian's python3-grpcio)

HERE = os.path.dirname(os.path.abspath(__file__))
STREAM_PROTO = """syntax = "proto3";
package stream;
service Streams {
  rpc Count (Ask) returns (stream Note);
  rpc Collect (stream Note) returns (Note);
  rpc Chat (stream Note) returns (stream Note);
  rpc Hold (Ask) returns (stream Note);
  rpc Tally (Ask) returns (Ask);
}
service Doomed {
  rpc Count (Ask) returns (stream Note);
}
message Note { string text = 1; bytes blob = 2; }
message Ask {
  int32 count = 1; int32 size = 2; int32 big = 3; int32 abort_after = 4; int32 abort_code = 5; double pause = 6;
  double wait_first = 7;
}
"""
CALL_TIMEOUT = 10 * harness.SLOWDOWN
PROMPT = 1.0 * harness.SLOWDOWN  # a bystander's answer, while a stream is held back
# The clusters' request_timeout: a busy machine's Python server answers well within it.
REQUEST_TIMEOUT = 1.0 * harness.SLOWDOWN


class StreamServer(harness.ReadyPeer):
    """grpc_stream_upstream.py on a free port, stopped by its PID."""

    def __init__(self, stubs):
        super().__init__(os.path.join(HERE, "grpc_stream_upstream.py"), "--stubs", stubs,
                         describe="grpc_stream_upstream.py")


def seen(call):
    """What a client saw of a finished streaming call: its messages, metadata, status."""
    notes = []
    try:
        for note in call:
            notes.append((note.text, len(note.blob)))
    except grpc.RpcError:
        pass
    return notes, tuple(call.initial_metadata()), tuple(call.trailing_metadata() or ()), call.code(), call.details()


class GrpcStreamingTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rpcgate-grpc-stream-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        global stream_pb2, stream_pb2_grpc
        stream_pb2, stream_pb2_grpc = harness.grpc_stubs(cls.dir, "stream", STREAM_PROTO)
        cls.server, cls.doomed = StreamServer(cls.dir), StreamServer(cls.dir)
        cls.addClassCleanup(cls.server.stop)
        cls.addClassCleanup(cls.doomed.stop)
        # One cluster per service, each its own server: the Doomed one is killed by a test.
        services = {"Streams": cls.server.port, "Doomed": cls.doomed.port}
        routes = "".join('  - {match: {prefix: "stream.%s/"}, cluster: %s}\n' % (s, s) for s in services)
        clusters = "".join("  - {name: %s, codec: grpc, endpoints: [127.0.0.1:%d], request_timeout: %dms}\n"
                           % (name, port, REQUEST_TIMEOUT * 1000) for name, port in services.items())
        cls.gw = cls.start_gateway([{"name": "grpc", "codec": "grpc"}], handlers=[],
                                   extra_yaml="routes:\n" + routes + "clusters:\n" + clusters)

    def channel(self, port=None):
        """To rpcgate, or to `port`."""
        return grpc.insecure_channel("127.0.0.1:%d" % (port or self.gw.port("grpc")))

    def both(self, call):
        """call(stub) made directly, then through rpcgate: the two results."""
        results = []
        for port in (self.server.port, self.gw.port("grpc")):
            with self.channel(port) as channel:
                results.append(call(stream_pb2_grpc.StreamsStub(channel)))
        return results

    def tally(self):
        with self.channel(self.server.port) as channel:
            return stream_pb2_grpc.StreamsStub(channel).Tally(stream_pb2.Ask(), timeout=CALL_TIMEOUT)

    def test_server_streaming_as_the_server_sends_it(self):
        request = stream_pb2.Ask(count=50, size=300)
        direct, through = self.both(lambda stub: seen(stub.Count(request, metadata=(("x-tag", "t1"),),
                                                                 timeout=CALL_TIMEOUT)))
        self.assertEqual(len(through[0]), 50)
        self.assertEqual(through, direct)
        self.assertIn(("x-tag", "t1"), through[1])
        self.assertIn(("x-sent", "50"), through[2])

    def test_client_streaming_half_close_reaches_the_server(self):
        def collect(stub):
            notes = (stream_pb2.Note(text=str(i), blob=b"y" * 2000) for i in range(30))
            note, call = stub.Collect.with_call(notes, timeout=CALL_TIMEOUT)
            return note.text, tuple(call.trailing_metadata()), call.code()
        direct, through = self.both(collect)
        self.assertEqual(through[0], "+".join(str(i) for i in range(30)))
        self.assertEqual(through, direct)

    def test_bidirectional_each_message_answered_before_the_next_is_sent(self):
        def chat(stub):
            outgoing = queue.Queue()
            call = stub.Chat(iter(outgoing.get, None), timeout=CALL_TIMEOUT)
            answers = []
            for word in ("one", "two", "three"):
                outgoing.put(stream_pb2.Note(text=word))
                answers.append(next(call).text)  # the echo comes before the next message is sent
            outgoing.put(None)
            answers.extend(note.text for note in call)
            return answers, tuple(call.trailing_metadata()), call.code()
        direct, through = self.both(chat)
        self.assertEqual(through[0], ["ONE", "TWO", "THREE"])
        self.assertEqual(through, direct)

    def written_by_gateway(self):
        with open("/proc/%d/io" % self.gw.pid) as f:
            return int(next(line for line in f if line.startswith("wchar:")).split()[1])

    def test_compressed_messages_pass_compressed_both_ways(self):
        """A gzip client and a gzip server: the messages pass as they were framed, with the headers
        that say so. 2 MB of notes that compress to a few kB cross the gateway as a few kB."""
        compress = (("x-compress", "gzip"),)
        request = stream_pb2.Ask(count=20, size=100_000)
        before = self.written_by_gateway()
        direct, through = self.both(lambda stub: seen(stub.Count(request, metadata=compress, timeout=CALL_TIMEOUT,
                                                                 compression=grpc.Compression.Gzip)))
        written = self.written_by_gateway() - before
        self.assertEqual(len(through[0]), 20)
        self.assertEqual(through, direct)
        self.assertLess(written, 200_000, "the server's compressed messages were sent on compressed")

        def chat(stub):
            notes = [stream_pb2.Note(text=str(i), blob=b"z" * 50_000) for i in range(5)]
            call = stub.Chat(iter(notes), metadata=compress, timeout=CALL_TIMEOUT, compression=grpc.Compression.Gzip)
            return [(note.text, len(note.blob)) for note in call], call.code()
        direct, through = self.both(chat)
        self.assertEqual(through, direct)
        self.assertEqual(through[1], grpc.StatusCode.OK)

    def test_request_timeout_bounds_only_the_wait_for_a_first_answer(self):
        """Calls with no deadline of their client's: a server silent for longer than the cluster's
        request_timeout after the client has sent all it had ends the call DEADLINE_EXCEEDED; a
        stream that pauses longer between its messages, and an upload that lasts longer, go on."""
        with self.channel() as channel:
            stub = stream_pb2_grpc.StreamsStub(channel)
            started = time.monotonic()
            notes, _, _, code, details = seen(stub.Count(stream_pb2.Ask(count=1, size=1, wait_first=8 * REQUEST_TIMEOUT)))
            self.assertEqual((notes, code), ([], grpc.StatusCode.DEADLINE_EXCEEDED), details)
            self.assertLess(time.monotonic() - started, 4 * REQUEST_TIMEOUT)
            notes, _, _, code, details = seen(stub.Count(stream_pb2.Ask(count=2, size=1, pause=1.5 * REQUEST_TIMEOUT)))
            self.assertEqual((len(notes), code), (2, grpc.StatusCode.OK), details)

            def slow_upload():
                for i in range(3):
                    time.sleep(0.6 * REQUEST_TIMEOUT)
                    yield stream_pb2.Note(text=str(i))
            self.assertEqual(stub.Collect(slow_upload()).text, "0+1+2")

    def test_a_server_abort_mid_stream_reaches_the_client_as_sent(self):
        request = stream_pb2.Ask(count=10, size=10, abort_after=3, abort_code=10)  # ABORTED
        direct, through = self.both(lambda stub: seen(stub.Count(request, timeout=CALL_TIMEOUT)))
        self.assertEqual(len(through[0]), 3)
        self.assertEqual(through[3], grpc.StatusCode.ABORTED)
        self.assertEqual(through, direct)

    def test_a_slow_reader_holds_rpcgate_memory_bounded_and_others_go_on(self):
        pid = self.gw.pid
        with self.channel() as channel, self.channel() as bystander_channel:
            stub = stream_pb2_grpc.StreamsStub(channel)
            bystander = stream_pb2_grpc.StreamsStub(bystander_channel)
            bystander.Tally(stream_pb2.Ask(), timeout=CALL_TIMEOUT)  # connected
            before = harness.rss_kib(pid)
            # 1000 notes of 1 KiB, then 50 of 1 MiB: about 51 MiB, read 5 notes and then not at all.
            slow = stub.Count(stream_pb2.Ask(count=1000, size=1024, big=50), timeout=60 * harness.SLOWDOWN)
            for _ in range(5):
                next(slow)
            peak = before
            for _ in range(5):
                started = time.monotonic()
                self.assertEqual(len(seen(bystander.Count(stream_pb2.Ask(count=3, size=10),
                                                          timeout=CALL_TIMEOUT))[0]), 3)
                # Another stream on the slow reader's own connection, too.
                self.assertEqual(len(seen(stub.Count(stream_pb2.Ask(count=3, size=10), timeout=CALL_TIMEOUT))[0]), 3)
                self.assertLess(time.monotonic() - started, PROMPT)
                peak = max(peak, harness.rss_kib(pid))
                time.sleep(0.2)
            grown_mib = (peak - before) / 1024
            self.assertLess(grown_mib, 16, "rpcgate grew %.1f MiB behind a slow reader" % grown_mib)
            rest = list(slow)
            self.assertEqual(len(rest), 1045)
            self.assertEqual(len(rest[-1].blob), 1 << 20)
            self.assertEqual(slow.code(), grpc.StatusCode.OK)

    def test_a_client_cancel_reaches_the_server(self):
        before = self.tally().count
        with self.channel() as channel:
            call = stream_pb2_grpc.StreamsStub(channel).Hold(stream_pb2.Ask(), timeout=CALL_TIMEOUT)
            self.assertEqual(next(call).text, "held")
            self.assertEqual(self.tally().big, 1)  # open at the server
            call.cancel()
            self.assertTrue(harness.wait_for(lambda: self.tally().count == before + 1, 5 * harness.SLOWDOWN),
                            self.tally())
            self.assertEqual(self.tally().big, 0)

    def test_a_deadline_ends_the_stream_at_both_ends(self):
        before = self.tally().count
        with self.channel() as channel:
            call = stream_pb2_grpc.StreamsStub(channel).Hold(stream_pb2.Ask(), timeout=0.5 * harness.SLOWDOWN)
            self.assertEqual(next(call).text, "held")
            with self.assertRaises(grpc.RpcError):
                next(call)
            self.assertEqual(call.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertTrue(harness.wait_for(lambda: self.tally().count == before + 1, 5 * harness.SLOWDOWN), self.tally())
        self.assertTrue(harness.wait_for(lambda: self.tally().big == 0, 5 * harness.SLOWDOWN), self.tally())

    def test_z_a_killed_server_is_unavailable_and_bystanders_go_on(self):
        with self.channel() as channel:
            doomed = stream_pb2_grpc.DoomedStub(channel).Count(stream_pb2.Ask(count=1000, size=10, pause=0.01),
                                                               timeout=CALL_TIMEOUT)
            for _ in range(3):
                next(doomed)
            self.doomed.stop(signal.SIGKILL)
            notes, _, _, code, details = seen(doomed)
            self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
            self.assertLess(len(notes), 997)
            # The same connection, and the other cluster, go on.
            stub = stream_pb2_grpc.StreamsStub(channel)
            self.assertEqual(len(seen(stub.Count(stream_pb2.Ask(count=5, size=10), timeout=CALL_TIMEOUT))[0]), 5)
        self.assertAlive()


if __name__ == "__main__":
    harness.main()
