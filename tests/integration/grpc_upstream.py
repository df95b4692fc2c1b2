#!/usr/bin/python3
"""A Python gRPC server (python3-grpcio) as an upstream of rpcgate's grpc clusters, for
test_grpc_upstream.py. Its stubs are generated at test time into STUBS (pi_pb2*, probe_pb2*).

    grpc_upstream.py --port P --stubs DIR [--name NAME] [--max-streams N] [--tls-cert PEM --tls-key PEM]

  pi.PiCalculator/Calc  the legacy services' estimate of pi (bench/legacy_server.py compute_pi);
                        n < 0 is aborted with INVALID_ARGUMENT, as a real service checks input
  probe.Probe/Who       answers NAME: which server took the call
  probe.Probe/Wait      sleeps `seconds`, and answers the time the call's deadline left when it
                        started (context.time_remaining(): the grpc-timeout seen; grpcio gives
                        a huge number for a call without one)

--max-streams sets the server's SETTINGS_MAX_CONCURRENT_STREAMS (grpc.max_concurrent_streams).
--tls-cert and --tls-key serve TLS only (grpc.ssl_server_credentials), with ALPN h2 as gRPC has it.
Prints "READY PORT" once serving; stopped by its PID (SIGTERM or SIGKILL). SIGUSR1 stops it as a
server is stopped for maintenance: grpc-core sends GOAWAY on every connection, takes no new call
and lets the calls in flight finish (server.stop with a grace of 10 s), then the process exits.
"""

import argparse
import math
import signal
import sys
import time
from concurrent import futures


def compute_pi(n):
    """The legacy estimate: sqrt(8 * sum_{i=0..n} 1/(2i+1)^2), two divisions in this order."""
    s = 0.0
    for i in range(n + 1):
        s += 1.0 / (2 * i + 1) / (2 * i + 1)
    return math.sqrt(8 * s)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--name", default="grpc")
    parser.add_argument("--max-streams", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import pi_pb2
    import pi_pb2_grpc
    import probe_pb2
    import probe_pb2_grpc

    class Pi(pi_pb2_grpc.PiCalculatorServicer):
        def Calc(self, request, context):
            if request.n < 0:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "n must be at least 0, not %d" % request.n)
            return pi_pb2.PiResponse(value=compute_pi(request.n))

    class Probe(probe_pb2_grpc.ProbeServicer):
        def Who(self, request, context):
            return probe_pb2.WhoAmI(name=args.name)

        def Wait(self, request, context):
            left = context.time_remaining()
            time.sleep(request.seconds)
            return probe_pb2.WaitResponse(time_remaining=-1.0 if left is None else left)  # None: older grpcio

    options = [("grpc.max_concurrent_streams", args.max_streams)] if args.max_streams else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
    pi_pb2_grpc.add_PiCalculatorServicer_to_server(Pi(), server)
    probe_pb2_grpc.add_ProbeServicer_to_server(Probe(), server)
    credentials = None
    if args.tls_cert:
        with open(args.tls_cert, "rb") as cert, open(args.tls_key, "rb") as key:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
    serve(server, args.port, credentials)


def serve(server, port, credentials=None):
    """Serves on 127.0.0.1:PORT (TLS with `credentials`), says READY (what harness.ReadyPeer waits
    for), stops on SIGTERM."""
    if credentials is not None:
        server.add_secure_port("127.0.0.1:%d" % port, credentials)
    else:
        server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    signal.signal(signal.SIGUSR1, lambda *_: server.stop(10))
    print("READY %d" % port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
