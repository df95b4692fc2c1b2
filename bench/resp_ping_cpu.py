#!/usr/bin/env python3
"""Side by side: server CPU per request for RESP PING, rpcgate vs redis-server, in one run.

Starts redis-server and rpcgate (single process) on free loopback ports, drives each with the same
redis-benchmark command, reads each server's utime+stime from /proc/PID/stat before and after, and
prints requests/s, CPU microseconds per request, and the rpcgate/redis ratios.

  bench/resp_ping_cpu.py [--rpcgate build/rpcgate] [-n 2000000] [-P 16] [-c 50] [--rounds 3]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from benchlib import free_port, wait_port

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def run_benchmark(port, args):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "ping", "-n", str(args.n),
           "-P", str(args.P), "-c", str(args.c), "-q"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    rates = [float(m) for m in re.findall(r"([\d.]+) requests per second", out)]
    if len(rates) != 2:
        raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")
    return rates  # PING_INLINE, PING_MBULK


def measure(name, pid, port, args):
    before = cpu_seconds(pid)
    rates = run_benchmark(port, args)
    cpu = cpu_seconds(pid) - before
    requests = 2 * args.n
    return {"name": name, "inline": rates[0], "mbulk": rates[1], "us_per_req": cpu * 1e6 / requests}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpcgate", default=os.path.join(os.path.dirname(__file__), "..", "build", "rpcgate"))
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("-P", type=int, default=16)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        sys.exit("needs redis-server and redis-benchmark (scripts/install-deps.sh --with-tests)")

    workdir = tempfile.mkdtemp(prefix="rpcgate-bench-")
    redis_port, gate_port = free_port(), free_port()
    config = os.path.join(workdir, "rpcgate.yaml")
    with open(config, "w") as f:
        # One process, one loop: the same shape as redis-server's single thread, and a pid whose
        # CPU time is the whole server's.
        f.write("process: {model: single}\n"
                f"listeners:\n  - {{name: resp, address: 127.0.0.1:{gate_port}, codec: resp}}\n"
                "handlers: [ping]\nlogging: {level: warn}\n")
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    gate = subprocess.Popen([args.rpcgate, "-c", config])
    try:
        wait_port(redis_port)
        wait_port(gate_port)
        print(f"redis-benchmark -t ping -n {args.n} -P {args.P} -c {args.c}, {args.rounds} rounds, "
              f"{os.cpu_count()} CPUs; CPU = server utime+stime from /proc/PID/stat")
        print(f"{'server':<10}{'PING_INLINE/s':>15}{'PING_MBULK/s':>15}{'CPU us/req':>12}")
        results = {"redis": [], "rpcgate": []}
        for _ in range(args.rounds):  # alternate, so drift in machine load hits both alike
            for name, pid, port in (("redis", redis.pid, redis_port), ("rpcgate", gate.pid, gate_port)):
                r = measure(name, pid, port, args)
                results[name].append(r)
                print(f"{name:<10}{r['inline']:>15.0f}{r['mbulk']:>15.0f}{r['us_per_req']:>12.3f}")
        best = {k: min(v, key=lambda r: r["us_per_req"]) for k, v in results.items()}
        median = {k: sorted(r["us_per_req"] for r in v)[len(v) // 2] for k, v in results.items()}
        print(f"median CPU/req: redis {median['redis']:.3f} us, rpcgate {median['rpcgate']:.3f} us, "
              f"ratio rpcgate/redis {median['rpcgate'] / median['redis']:.2f}")
        print(f"throughput ratio (MBULK, best rounds): "
              f"{best['rpcgate']['mbulk'] / best['redis']['mbulk']:.2f}")
    finally:
        for proc in (gate, redis):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
