#!/usr/bin/env python3
"""What observability costs on RESP PING: latency histograms and the access log, on vs off, side
by side in one run.

Four rpcgate processes (model single, or prefork with --workers N) on free 127.0.0.1 ports:
  off        admin.latency_histograms: false, no access log (the baseline)
  metrics    the default: every request timed into the shared histograms
  log 1/100  metrics + access log, one request in 100 logged
  log all    metrics + access log, every request logged (to a file in a temporary directory)
The same `redis-benchmark -t ping -c C -P P -q` runs against each in turn, for several rounds,
with -P 16 (pipelined: the per-request path dominates) and -P 1. Reported: median requests/s,
the ratio to the baseline, and server CPU per request (utime+stime from /proc/PID/stat). Every
process is started here and stopped by PID; nothing is pass/fail.

    bench/observability_cost.py [--rpcgate build/rpcgate] [--workers N] [--rounds 3] [-n 400000] [--json]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import add_rpcgate_arguments, finish_report, free_port, wait_port
from resp_ping_cpu import cpu_seconds

VARIANTS = [
    ("off", "admin: {latency_histograms: false}\n", ""),
    ("metrics", "", ""),
    ("log 1/100", "", "access_log: true, access_log_file: {dir}/sampled.log, access_log_sample: 100, "),
    ("log all", "", "access_log: true, access_log_file: {dir}/all.log, "),
]


def config(port, workers, admin, logging, workdir):
    model = f"{{model: prefork, workers: {workers}}}" if workers else "{model: single}"
    return (f"process: {model}\n"
            f"listeners: [{{name: resp, address: 127.0.0.1:{port}, codec: resp}}]\n"
            f"logging: {{{logging.format(dir=workdir)}level: warn}}\n" + admin)


def pids_of(root):
    """The process and its children (the workers), read from /proc."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == root:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def run(port, pids, args, pipeline):
    before = sum(cpu_seconds(p) for p in pids)
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "ping", "-n", str(args.n),
                          "-P", str(pipeline), "-c", str(args.c), "-q"],
                         capture_output=True, text=True, timeout=600).stdout
    cpu = sum(cpu_seconds(p) for p in pids) - before
    rates = [float(m) for m in re.findall(r"([\d.]+) requests per second", out)]
    if len(rates) != 2:
        raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")
    return sum(rates) / 2, cpu * 1e6 / (2 * args.n)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rpcgate_arguments(parser, "rounds over the four variants")
    parser.add_argument("-n", type=int, default=400_000, help="requests per redis-benchmark test (default 400000)")
    parser.add_argument("-c", type=int, default=50, help="redis-benchmark clients (default 50)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    if not shutil.which("redis-benchmark"):
        sys.exit("needs redis-benchmark (scripts/install-deps.sh --with-tests)")
    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="rpcgate-obs-")
    report = {"machine": {"cpus": os.cpu_count(), "loadavg_start": tuple(round(x, 2) for x in os.getloadavg())},
              "workers": args.workers, "n": args.n, "clients": args.c, "results": {}}
    servers = []
    try:
        for name, admin, logging in VARIANTS:
            port = free_port()
            path = os.path.join(workdir, name.replace(" ", "_").replace("/", "_") + ".yaml")
            with open(path, "w") as f:
                f.write(config(port, args.workers, admin, logging, workdir))
            proc = subprocess.Popen([args.rpcgate, "-c", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append((name, port, proc))
            wait_port(port)
        time.sleep(0.3)  # the workers are up
        samples = {(name, p): [] for name, _, _ in servers for p in (16, 1)}
        for _ in range(args.rounds):
            for pipeline in (16, 1):
                for name, port, proc in servers:
                    samples[(name, pipeline)].append(run(port, pids_of(proc.pid), args, pipeline))
        for pipeline in (16, 1):
            base = statistics.median(r for r, _ in samples[("off", pipeline)])
            for name, _, _ in servers:
                rates = [r for r, _ in samples[(name, pipeline)]]
                cpus = [c for _, c in samples[(name, pipeline)]]
                report["results"][f"{name} -P {pipeline}"] = {
                    "rps": round(statistics.median(rates)), "ratio": round(statistics.median(rates) / base, 3),
                    "cpu_us_per_request": round(statistics.median(cpus), 3)}
    except Exception as error:  # noqa: BLE001: reported, the servers still stopped below
        report["error"] = repr(error)
    finally:
        for _, _, proc in servers:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    def tables(r):
        model = f"prefork, {r['workers']} workers" if r["workers"] else "single process"
        print(f"RESP PING through rpcgate ({model}), redis-benchmark -c {r['clients']} -n {r['n']}, "
              f"{r['machine']['cpus']} CPUs")
        print(f"{'variant':<18}{'requests/s':>12}{'vs off':>9}{'CPU us/req':>12}")
        for key, v in r["results"].items():
            print(f"{key:<18}{v['rps']:>12}{v['ratio']:>9.3f}{v['cpu_us_per_request']:>12.3f}")

    finish_report(report, args.json, started, tables)


if __name__ == "__main__":
    main()
