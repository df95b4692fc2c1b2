#!/usr/bin/python3
"""A Python gRPC server (python3-grpcio) with the streaming kinds of call, behind rpcgate's gRPC
passthrough, for test_grpc_streaming.py. Its stubs (stream_pb2*) are generated at test time into
STUBS from STREAM_PROTO (test_grpc_streaming.py).

    grpc_stream_upstream.py --port P --stubs DIR

  stream.Streams/Count    server streaming: `count` notes of `size` bytes, then `big` notes of
                          1 MiB; initial metadata from the request's "x-" metadata, trailing
                          ("x-sent", count); aborts with `abort_code` after `abort_after` notes
                          when asked; waits `pause` seconds before each note when asked, and
                          `wait_first` seconds before saying anything
  stream.Streams/Collect  client streaming: one note whose text joins every note's text
  stream.Streams/Chat     bidirectional: each note echoed as it comes, its text upper-cased

A call with the metadata ("x-compress", "gzip") is answered with gzip-compressed messages (when
the client's grpc-accept-encoding allows it, as gRPC decides).
  stream.Streams/Hold     server streaming: one note, then nothing until the client goes; the
                          call's end is counted as cancelled if the client cancelled it
  stream.Streams/Tally    unary: how many Hold calls the server saw cancelled, and how many are open
  stream.Doomed/Count     as Streams/Count, under a name a test routes to a server it kills

Prints "READY PORT" once serving; stopped by its PID (SIGTERM or SIGKILL).
"""

import argparse
import sys
import threading
import time
from concurrent import futures

from grpc_upstream import serve


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stubs", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import stream_pb2
    import stream_pb2_grpc

    def compress(context):
        if ("x-compress", "gzip") in context.invocation_metadata():
            context.set_compression(grpc.Compression.Gzip)

    lock = threading.Lock()
    tally = {"cancelled": 0, "open": 0}

    class Streams(stream_pb2_grpc.StreamsServicer):
        def Count(self, request, context):
            time.sleep(request.wait_first)
            compress(context)
            context.send_initial_metadata([(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")])
            sent = 0
            for i in range(request.count + request.big):
                if request.abort_code and sent == request.abort_after:
                    context.set_trailing_metadata([("x-sent", str(sent))])
                    context.abort(grpc.StatusCode(next(c.value for c in grpc.StatusCode
                                                       if c.value[0] == request.abort_code)), "stopped at %d" % sent)
                if request.pause:
                    time.sleep(request.pause)
                size = request.size if i < request.count else 1 << 20
                yield stream_pb2.Note(text=str(i), blob=b"x" * size)
                sent += 1
            context.set_trailing_metadata([("x-sent", str(sent))])

        def Collect(self, request_iterator, context):
            texts = [note.text for note in request_iterator]
            context.set_trailing_metadata([("x-received", str(len(texts)))])
            return stream_pb2.Note(text="+".join(texts))

        def Chat(self, request_iterator, context):
            compress(context)
            for note in request_iterator:
                yield stream_pb2.Note(text=note.text.upper(), blob=note.blob)

        def Hold(self, request, context):
            ended = threading.Event()

            def on_end():
                with lock:
                    tally["open"] -= 1
                    if context.is_active() is False and not finished.is_set():
                        tally["cancelled"] += 1
                ended.set()

            finished = threading.Event()
            with lock:
                tally["open"] += 1
            context.add_callback(on_end)
            yield stream_pb2.Note(text="held")
            ended.wait(60)

        def Tally(self, request, context):
            with lock:
                return stream_pb2.Ask(count=tally["cancelled"], big=tally["open"])

    class Doomed(stream_pb2_grpc.DoomedServicer):
        Count = Streams.Count

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    stream_pb2_grpc.add_StreamsServicer_to_server(Streams(), server)
    stream_pb2_grpc.add_DoomedServicer_to_server(Doomed(), server)
    serve(server, args.port)


if __name__ == "__main__":
    main()
