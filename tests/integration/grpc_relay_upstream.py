#!/usr/bin/python3
"""A Python gRPC server (python3-grpcio) behind rpcgate's gRPC passthrough, for
test_grpc_passthrough.py. Its stubs (relay_pb2*) are generated at test time into STUBS from
RELAY_PROTO (test_grpc_passthrough.py).

    grpc_relay_upstream.py --port P --stubs DIR [--name NAME]

  relay.Relay/Echo    answers the text and NAME; sends back the request's metadata whose names
                      start with "x-" as initial metadata, and ("x-trailer", text) as trailing
  relay.Relay/Fail    aborts with the code and message asked, with trailing metadata

Prints "READY PORT" once serving; stopped by its PID (SIGTERM or SIGKILL).
"""

import argparse
import sys
from concurrent import futures

from grpc_upstream import serve


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--name", default="relay")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import relay_pb2
    import relay_pb2_grpc

    class Relay(relay_pb2_grpc.RelayServicer):
        def Echo(self, request, context):
            context.send_initial_metadata([(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")])
            context.set_trailing_metadata([("x-trailer", request.text)])
            return relay_pb2.Note(text=request.text, server=args.name)

        def Fail(self, request, context):
            context.set_trailing_metadata([("x-why", "asked"), ("x-code-bin", bytes([request.code, 0, 255]))])
            context.abort(grpc.StatusCode(next(c.value for c in grpc.StatusCode if c.value[0] == request.code)),
                          request.message)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    relay_pb2_grpc.add_RelayServicer_to_server(Relay(), server)
    serve(server, args.port)


if __name__ == "__main__":
    main()
