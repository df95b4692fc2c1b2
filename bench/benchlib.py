"""Small helpers shared by the benchmark scripts: free loopback ports, waiting for a server, and the
command-line options every side-by-side benchmark takes."""
import json
import os
import socket
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def add_rpcgate_arguments(parser, rounds_meaning):
    """--rpcgate, --workers and --rounds, as every side-by-side benchmark takes them."""
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--rpcgate", metavar="PATH", default=os.path.join(here, "..", "build", "rpcgate"),
                        help="the rpcgate binary (default build/rpcgate)")
    parser.add_argument("--workers", metavar="N", type=int, default=0,
                        help="run rpcgate as prefork with N workers (default: model single)")
    parser.add_argument("--rounds", metavar="R", type=int, default=3,
                        help=rounds_meaning + "; medians are reported (default 3)")


def finish_report(report, as_json, started, print_tables):
    """Prints a run's report: JSON on stdout, or the tables with any error and the elapsed time."""
    report["machine"]["loadavg_end"] = tuple(round(x, 2) for x in os.getloadavg())
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    if as_json:
        json.dump(report, sys.stdout, indent=1, default=str)
        print()
        return
    print_tables(report)
    if report.get("error"):
        print("\nERROR:", report["error"])
    print(f"\n({report['elapsed_s']} s)")
