#!/usr/bin/env python3
"""How each process model spreads connections over its workers.

For each model, starts rpcgate with N workers on a free loopback port, opens C connections (all
held open, as a pool of long-lived clients would), asks each which worker serves it (the
process_id and worker lines of INFO), and prints the count per worker with min/max and the
coefficient of variation. Connections are opened one after another, from one client: the worst
case for accept competition, where the worker that went back to waiting last tends to win again.

  bench/connection_spread.py [--rpcgate build/rpcgate] [--workers 4] [--connections 400]
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time

from benchlib import free_port, wait_port


def info_worker(sock):
    """Which worker serves this connection: (process_id, worker) from INFO server. The worker index
    tells the threads of `model: threads` apart, which share one process id."""
    sock.sendall(b"INFO server\r\n")
    data = b""
    pattern = re.compile(rb"process_id:(\d+)\r\n(?:.*\r\n)*?worker:(\d+)\r\n")
    while not pattern.search(data):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    m = pattern.search(data)
    return int(m.group(1)), int(m.group(2))


def count_by_worker(port, connections, socks):
    """Opens `connections` connections to a running gateway's RESP port, one after another, and asks
    each which worker serves it; returns {(process id, worker index): connections}. Every socket
    opened is appended to `socks` and left open (the caller closes them), so that all are held at
    once."""
    counts = {}
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)
        worker = info_worker(s)
        counts[worker] = counts.get(worker, 0) + 1
    return counts


def measure(binary, model, workers, connections):
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="rpcgate-spread-")
    config = os.path.join(workdir, "rpcgate.yaml")
    with open(config, "w") as f:
        f.write(f"process: {{model: {model}, workers: {workers}}}\n"
                f"listeners:\n  - {{name: resp, address: 127.0.0.1:{port}, codec: resp, args: strings}}\n"
                "handlers: [ping, info]\nlogging: {level: warn}\n")
    proc = subprocess.Popen([binary, "-c", config])
    socks = []
    try:
        wait_port(port)
        time.sleep(0.3)  # every worker listening
        return count_by_worker(port, connections, socks)
    finally:
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpcgate", default=os.path.join(os.path.dirname(__file__), "..", "build", "rpcgate"))
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--models", default="prefork,reuseport,fdpass")
    args = parser.parse_args()
    print(f"{args.connections} connections held open, {args.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'model':<10} {'per worker':<28} {'min':>5} {'max':>5} {'CV':>6}")
    for model in args.models.split(","):
        counts = measure(args.rpcgate, model, args.workers, args.connections)
        values = sorted(counts.values(), reverse=True) + [0] * (args.workers - len(counts))
        cv = statistics.pstdev(values) / statistics.mean(values)
        print(f"{model:<10} {str(values):<28} {min(values):>5} {max(values):>5} {cv:>6.2f}")


if __name__ == "__main__":
    main()
