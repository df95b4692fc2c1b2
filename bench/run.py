#!/usr/bin/env python3
"""The one-command benchmark (issue 7): rpcgate side by side with Redis, twemproxy, HAProxy, the
floor server and the legacy Python server, measured in one run on one machine.

Sections (--only picks some; the names are the ones in brackets):

  1. [ping]        RESP PING answered in-process: rpcgate `model: single` (1 worker) and
                   `prefork, workers: auto`, redis-server, rpcgate-floor; with redis-benchmark
                   (-t ping_mbulk --csv) and with rpcgate-loadgen (--codec resp)
  2. [proxy]       RESP GET/SET to one real redis-server: rpcgate, nutcracker, haproxy (tcp) and
                   Redis direct, started as bench/proxy_compare.py starts them; redis-benchmark
                   -t set,get --csv, and Redis's INFO commandstats must count every SET/GET
  3. [json]        JSON ping: rpcgate (single and auto), bench/legacy_prefork_server.py with its
                   legacy habits (two writes, Nagle on) and with --one-write, rpcgate-floor --codec
                   json; rpcgate-loadgen --codec json
  4. [translation] a RESP client -> rpcgate -> a JSON upstream: the legacy prefork server, or a second
                   rpcgate. redis-benchmark sends the routed command `up.legacy PONG` or
                   `up.rpcgate PONG` (rpcgate-loadgen only checks PING, SET and GET, whose answers a
                   JSON upstream cannot give). The answer is checked byte for byte once before
                   measuring; redis-benchmark stops at the first error reply; after every run the
                   front rpcgate's INFO must count every request sent to the cluster and answered,
                   with no error, and the upstream rpcgate must count every request itself
  5. [memory]      bench/memory.py's figures (10,000 idle connections, then one request on each) for
                   rpcgate, redis-server and nutcracker
  6. [models]      every process model (single, threads, prefork, reuseport, fdpass, and fork when
                   `rpcgate -t` accepts it) at 1 and `auto` workers: PING at -c 50 -P 1 and -P 16
                   (rpcgate-loadgen), short-lived connections (connect, one PING, close, one after
                   another from one Python client), RSS of all its processes, and the spread of held
                   connections over the workers (bench/connection_spread.py's method)
  7. [grpc]        a unary gRPC call (the book's pi.PiCalculator/Calc) sent by h2load: rpcgate
                   answering in-process against a C++ gRPC server (bench/grpc_pi_server.cpp);
                   rpcgate in front of that server (translated through descriptors, and passed
                   through without them) against nginx grpc_pass; rpcgate translating a gRPC client
                   to the legacy JSON service, and a legacy client (rpcgate-loadgen --codec json)
                   to the gRPC server, against the legacy service direct. Each path's answer is
                   checked bit for bit once before measuring (bench/grpc_compare.py); h2load runs
                   are valid only when every call brought back one message of the expected size
  8. [tls]         RESP GET/SET over TLS on long-lived connections: rpcgate (`model: single`, a TLS
                   listener) and HAProxy (`nbthread 1`, TLS termination) in front of one plain
                   redis-server, against redis-server's own TLS port; redis-benchmark --tls -t
                   set,get, Redis's INFO commandstats counting every SET/GET that went through a
                   proxy. Then full handshakes per second on new connections (shape `new`):
                   `openssl s_time -new` for a fixed time against each, the rate over the wall time
                   of the run. Certificates (ECDSA P-256) are made by the run with openssl
  9. [cluster]     RESP GET/SET to a Redis Cluster of three masters (made by redis-cli --cluster
                   create): rpcgate (`model: single`, redis_cluster: true) with redis-benchmark -t
                   set,get -r 100000, against redis-benchmark --cluster straight to the cluster (the
                   cluster-aware client); every SET/GET counted by the masters' INFO commandstats.
                   Then MGET of 100 keys on all three masters, one call after another from redis-py
                   (bench/cluster_mget.py): a plain client through rpcgate against redis-py's
                   RedisCluster (mget_nonatomic) straight to the cluster (shape c1, tool redis-py)

Load shapes: -c 50 -P 1, -c 50 -P 16 and -c 1 (sections 1-4 and 7; for h2load, -P is -m, the
streams open on each connection). In each section every target runs once
per round, interleaved A B C D A B C D, for --rounds rounds. Reported per target: the median
requests/s with the min-max over the rounds, the median p50 and p99 (from the load generator),
server CPU in microseconds per request (utime+stime from /proc/PID/stat of every server process
involved: master, workers, the children it reaped, and the upstreams), the load generator's own CPU,
the CPU the rest of the machine used meanwhile ("other", in cores), and ratios to each peer.

--pin (the default except with --quick) runs every section twice: unpinned, then pinned (servers on
CPU 0, load generators on CPU 1, with taskset); the memory section runs once, unpinned.

Nothing passes or fails. A run whose answers were not all right (a load generator error, a
redis-benchmark error or time-out, a count that does not match) is INVALID in the tables and never
counted in a median. Every run is bounded in count and in time, and the whole run by --budget:
what would start after it is skipped and listed as skipped. Every process is started here on free
127.0.0.1 ports and stopped by its PID.

Writes OUT/benchmark-results.md (the tables, the machine, versions, commit, commands) and
OUT/benchmark-results.svg (gnuplot, when installed); --json prints the raw results on stdout.

    bench/run.py [--rpcgate build/rpcgate] [--rounds 3] [--only ping,proxy] [--quick] [--no-pin]
                 [--out docs] [--json] [--budget 960] [--scale 1.0]
"""
import argparse
import collections
import csv
import io
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, wait_port
import grpc_compare
from connection_spread import count_by_worker
from proxy_compare import (Server, first_line, machine_busy, probe, start_haproxy, start_nutcracker, start_rpcgate,
                           versions, write)
from upstream_cost import PYTHON, child_pids, children_cpu, redis_calls, resp_command
import memory

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")
SECTIONS = ("ping", "proxy", "json", "translation", "memory", "models", "grpc", "tls", "cluster")
TITLES = {"ping": "1. RESP PING answered in-process",
          "proxy": "2. RESP GET/SET proxied to one redis-server",
          "json": "3. JSON ping",
          "translation": "4. Translation: RESP client -> rpcgate -> JSON upstream",
          "memory": "5. Memory per connection",
          "models": "6. Process models",
          "grpc": "7. gRPC: in-process, proxied (against nginx grpc_pass) and translated",
          "tls": "8. TLS: RESP GET/SET and handshakes, against HAProxy's TLS termination and Redis's own TLS",
          "cluster": "9. Redis Cluster: GET/SET and MGET of 100 keys, against the cluster-aware client"}
SHAPES = {"c50-P1": (50, 1), "c50-P16": (50, 16), "c1": (1, 1)}
SHAPE_TEXT = {"c50-P1": "-c 50 -P 1", "c50-P16": "-c 50 -P 16", "c1": "-c 1",
              "new": "new connections"}  # tls: handshakes, not a load shape
# Requests per run, full run (--quick divides by QUICK_DIVISOR); --scale multiplies them. Each
# count is rounded to a multiple of the pipeline depth. Slow targets have their own counts, and
# rpcgate-loadgen runs are also bounded by --duration.
COUNTS = {
    "ping": {"c50-P1": 80_000, "c50-P16": 800_000, "c1": 20_000},
    "proxy": {"c50-P1": 50_000, "c50-P16": 320_000, "c1": 6_000},  # of SET, and as many GET
    "json": {"c50-P1": 80_000, "c50-P16": 480_000, "c1": 20_000},
    "json-legacy": {"c50-P1": 20_000, "c50-P16": 48_000, "c1": 4_000},
    "translation": {"c50-P1": 30_000, "c50-P16": 96_000, "c1": 5_000},
    "translation-legacy": {"c50-P1": 12_000, "c50-P16": 32_000, "c1": 2_000},
    "models": {"c50-P1": 60_000, "c50-P16": 480_000},
    "grpc": {"c50-P1": 16_000, "c50-P16": 64_000, "c1": 4_000},
    "grpc-legacy": {"c50-P1": 2_400, "c50-P16": 4_800, "c1": 800},  # paths through the legacy service
    "tls": {"c50-P1": 50_000, "c50-P16": 320_000, "c1": 6_000},  # of SET, and as many GET
    "cluster": {"c50-P1": 50_000, "c50-P16": 320_000, "c1": 6_000},  # of SET, and as many GET
    "cluster-mget": {"c1": 2_000},  # MGETs of 100 keys
}
HANDSHAKE_SECONDS = 5.0         # tls: the openssl s_time run per target and round (--quick: 2)
QUICK_DIVISOR = 5
LOADGEN_SECONDS = 10.0          # --duration of a loadgen run (--quick: 3)
LEGACY_SECONDS = 2.0            # --duration of a loadgen run against the Python server (--quick: 1)
BENCH_TIMEOUT = 60.0            # a redis-benchmark or h2load run is killed after this (--quick: 20), and INVALID
SHORT_CONNECTIONS = (5000, 2.0)  # models: short-lived connections per run, and the time bound (s)
SPREAD_CONNECTIONS = 50         # models: connections held open to see how they spread (as many as -c 50)
MEMORY_CONNECTIONS = 10_000     # memory: connections per target (--quick: a tenth, and --linger 1)
PING = b"*1\r\n$4\r\nPING\r\n"

PROGRESS = [sys.stdout]


def log(text):
    print(text, file=PROGRESS[0], flush=True)


def shown_path(path):
    """A path inside this checkout relative to it (build/rpcgate), any other text as it is."""
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + "/") else path


# ----------------------------------------------------------------------------- CPU, memory, processes

def proc_times(pid):
    """(utime+stime, cutime+cstime) of a process in seconds: its own CPU (all its threads), and that
    of the children it has reaped."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS


def settle(server, seconds=2.0):
    """Waits, at most `seconds`, until no child of the server is exiting: a zombie's /proc/PID/stat
    no longer shows all the CPU it used, while the parent's cutime has it all once it is reaped.
    For model fork (server.transient_children), until no child is left at all: each one serves one
    connection, and the load generator has closed them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = []
        for pid in child_pids(server.proc.pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if "Z" not in states and not (states and getattr(server, "transient_children", False)):
            return
        time.sleep(0.01)


def server_cpu(server):
    """CPU seconds a server has used: the process, its live children (prefork workers, the legacy
    server's workers, fork's per-connection children) and the children it has already reaped."""
    settle(server)
    try:
        own, reaped = proc_times(server.proc.pid)
    except OSError:
        return 0.0
    total = own + reaped
    for pid in child_pids(server.proc.pid):
        try:
            total += proc_times(pid)[0]
        except OSError:
            pass
    return total


def server_pids(server):
    return [server.proc.pid] + sorted(child_pids(server.proc.pid))


def memory_kib(servers):
    """(RSS, private) in KiB summed over every process of these servers. RSS counts a page shared
    by several processes (the code, a forked child's untouched pages) once in each of them; private
    (USS: Private_Clean + Private_Dirty) counts only the pages no other process maps."""
    rss = private = 0
    for server in servers:
        for pid in server_pids(server):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                            private += int(line.split()[1])
            except OSError:
                pass
    return rss, private


def own_cpu():
    t = os.times()
    return t.user + t.system


def stop_server(server):
    # Only the children this server has now are killed if they outlive it (fresh from /proc, never
    # a list kept from earlier: fork's per-connection children come and go, and PIDs are reused).
    server.children = set(child_pids(server.proc.pid))
    server.stop()


class Section:
    """The servers of one section in one layout; every one is stopped by PID at the end."""

    def __init__(self, ctx, name, layout):
        self.ctx, self.name, self.layout = ctx, name, layout
        self.pin = layout == "pinned"
        self.workdir = tempfile.mkdtemp(prefix=f"{name}-{layout}-", dir=ctx.workdir)
        self.servers = []

    def add(self, server):
        self.servers.append(server)
        cmd = server.cmd[3:] if server.cmd[:2] == ["taskset", "-c"] else server.cmd
        text = shlex.join(shown_path(c) for c in cmd)
        text = re.sub(r"\b\d{4,5}\b", "PORT", text.replace(self.workdir, "DIR"))
        servers = self.ctx.commands.setdefault((self.name, "servers"), [])
        if text not in servers:
            servers.append(text)
        return server

    def start(self, name, cmd):
        return self.add(Server(name, cmd, self.workdir, self.pin))

    def rpcgate(self, name, process, listeners, extra=""):
        """An rpcgate from a process line ("model: single"), listeners [(name, port, codec)] or
        [(name, port, codec, "more: keys")] and the rest of its configuration."""
        text = (f"process: {{{process}, drain_timeout: 1s}}\n" + "listeners:\n"
                + "".join(f"  - {{name: {n}, address: 127.0.0.1:{p}, codec: {', '.join(rest)}}}\n"
                          for n, p, *rest in listeners)
                + extra + "logging: {level: warn}\n")
        config = write(os.path.join(self.workdir, f"{name}.yaml"), text)
        server = self.start(name, [self.ctx.args.rpcgate, "-c", config])
        server.config_text = text
        for listener in listeners:
            wait_port(listener[1])
        if "single" not in process:
            time.sleep(0.3)  # every worker listening
        return server

    def redis(self, name="redis"):
        port = free_port()
        server = self.start(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", self.workdir])
        wait_port(port)
        return server, port

    def floor(self, name, codec):
        port = free_port()
        server = self.start(name, [self.ctx.floor, "--port", str(port), "--codec", codec])
        wait_port(port)
        return server, port

    def legacy(self, name, one_write):
        port = free_port()
        server = self.start(name, [PYTHON, os.path.join(HERE, "legacy_prefork_server.py"), "--port", str(port)]
                            + (["--one-write"] if one_write else []))
        return self.listening(server), port

    def listening(self, server, seconds=15):
        """The server, once its log says "listening on" (for the legacy prefork server, once every
        worker serves)."""
        deadline = time.monotonic() + seconds
        while "listening on" not in server.log_text() and time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"{server.name} exited: {server.log_text()[-300:]}")
            time.sleep(0.05)
        if "listening on" not in server.log_text():
            raise RuntimeError(f"{server.name}: not listening within {seconds} s")
        return server

    def stop(self):
        for server in reversed(self.servers):
            stop_server(server)
        self.servers = []
        shutil.rmtree(self.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- one measured run

class Context:
    def __init__(self, args):
        self.args = args
        bench_bin = args.bench_bin or os.path.join(os.path.dirname(os.path.abspath(args.rpcgate)), "bench")
        self.loadgen = os.path.join(bench_bin, "rpcgate-loadgen")
        self.floor = os.path.join(bench_bin, "rpcgate-floor")
        self.grpc_server = os.path.join(bench_bin, "rpcgate-grpc-pi-server")  # built only with libgrpc++
        self.started = time.monotonic()
        self.deadline = self.started + args.budget
        self.workdir = tempfile.mkdtemp(prefix="rpcgate-run-")
        self.samples = []
        self.skipped = []          # sections or targets not measured, and why
        self.commands = {}         # (section, tool) -> the command templates used
        self.configs = {}          # section -> {target: config text}

    def count(self, kind, shape):
        n = COUNTS[kind][shape] * self.args.scale / (QUICK_DIVISOR if self.args.quick else 1)
        pipeline = SHAPES[shape][1]
        return max(pipeline, int(round(n / pipeline)) * pipeline)

    def out_of_time(self):
        return time.monotonic() >= self.deadline

    def client_cmd(self, pin, cmd):
        return (["taskset", "-c", "1"] if pin else []) + cmd

    def remember(self, section, tool, cmd, port):
        text = shlex.join(shown_path(c) for c in cmd).replace(str(port), "PORT").replace(self.workdir, "DIR")
        self.commands.setdefault((section, tool), [])
        if text not in self.commands[(section, tool)]:
            self.commands[(section, tool)].append(text)


def new_sample(section, layout, rnd, target, shape, tool):
    return {"section": section, "layout": layout, "round": rnd, "target": target, "shape": shape, "tool": tool,
            "tests": {}, "requests": 0, "error": None, "notes": [], "cpu_us": {}, "server_cpu_us": None,
            "client_cpu_us": None, "other_cores": None, "wall_s": None}


def run_client(ctx, sample, cmd, timeout, cpu_fns):
    """Runs a load generator; fills the sample's CPU figures. Returns (returncode, stdout, stderr);
    returncode None when it was killed at `timeout`."""
    before = {k: f() for k, f in cpu_fns.items()}
    client0, busy0, wall = children_cpu(), machine_busy(), time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        rc, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        rc = None
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    sample["wall_s"] = time.perf_counter() - wall
    sample["cpu_s"] = {k: f() - before[k] for k, f in cpu_fns.items()}
    sample["client_cpu_s"] = children_cpu() - client0
    sample["other_cores"] = max(0.0, machine_busy() - busy0 - sum(sample["cpu_s"].values())
                                - sample["client_cpu_s"]) / max(sample["wall_s"], 1e-9)
    return rc, out, err


def per_request(sample):
    n = sample["requests"]
    if not n or "cpu_s" not in sample:
        return
    sample["cpu_us"] = {k: v * 1e6 / n for k, v in sample["cpu_s"].items()}
    sample["server_cpu_us"] = sum(sample["cpu_us"].values())
    sample["client_cpu_us"] = sample["client_cpu_s"] * 1e6 / n


def parse_csv(out):
    """redis-benchmark --csv: {test: {rps, p50_ms, p99_ms}}."""
    rows = {}
    lines = [line for line in out.splitlines() if line.startswith('"')]
    for row in csv.reader(io.StringIO("\n".join(lines))):
        if len(row) >= 8 and row[0] != "test":
            try:
                rows[row[0]] = {"rps": float(row[1]), "p50_ms": float(row[4]), "p99_ms": float(row[6])}
            except ValueError:
                pass
    return rows


def redis_benchmark(ctx, section, layout, rnd, target, shape, port, n, cpu_fns, tests=None, command=None,
                    requests_per_n=1, options=()):
    """One redis-benchmark --csv run: `-t tests`, or one custom `command`; `options`: more of its
    options (--tls --cacert CA, --cluster). Invalid on a non-zero exit (redis-benchmark 7 stops at the first error
    reply), a time-out, or a missing result line."""
    sample = new_sample(section, layout, rnd, target, shape, "redis-benchmark")
    clients, pipeline = SHAPES[shape]
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(n), "-c", str(clients),
           "-P", str(pipeline), "--csv", *options] + (["-t", tests] if tests else list(command))
    ctx.remember(section, "redis-benchmark", cmd, port)
    timeout = BENCH_TIMEOUT / (3 if ctx.args.quick else 1)
    rc, out, err = run_client(ctx, sample, ctx.client_cmd(layout == "pinned", cmd), timeout, cpu_fns)
    rows = parse_csv(out)
    sample["tests"] = {"ROUTED" if command else name: row for name, row in rows.items()}
    sample["requests"] = n * requests_per_n
    said = [line.strip() for line in (out + "\n" + err).splitlines()
            if line.strip() and not line.startswith('"') and "Could not fetch server CONFIG" not in line]
    if rc is None:
        sample["error"] = f"redis-benchmark killed after {timeout:g} s"
    elif rc != 0:
        sample["error"] = f"redis-benchmark exited {rc}: " + " | ".join(said[-2:])[:200]
    elif len(rows) != (len(tests.split(",")) if tests else 1):
        sample["error"] = "unexpected redis-benchmark output: " + (out + err)[-200:]
    per_request(sample)
    return sample


def counted_set_get(ctx, section, layout, rnd, target, shape, port, n, cpu_fns, counter=None, who="Redis",
                    options=()):
    """redis-benchmark -t set,get, INVALID unless `counter()` (the SET/GET calls its Redis servers
    have counted; None: not checked) grew by every request sent."""
    calls = counter() if counter else None
    s = redis_benchmark(ctx, section, layout, rnd, target, shape, port, n, cpu_fns, tests="set,get",
                        requests_per_n=2, options=options)
    if calls is not None:
        reached = counter() - calls
        if not s["error"] and reached != 2 * n:
            s["error"] = f"{who} counted {reached} SET/GET, expected {2 * n}"
    return s


def loadgen(ctx, section, layout, rnd, target, shape, port, n, cpu_fns, codec="resp", seconds=None, more=(),
            test="PING"):
    """One rpcgate-loadgen --json run (`more`: further options, such as --command pi). Invalid on
    any error it counts (a wrong or error answer, a closed connection), a non-zero exit, or no
    answer at all. A run stopped by --duration before n requests is valid and says so."""
    sample = new_sample(section, layout, rnd, target, shape, "loadgen")
    clients, pipeline = SHAPES[shape]
    seconds = seconds or (LOADGEN_SECONDS if not ctx.args.quick else 3.0)
    cmd = [ctx.loadgen, "--codec", codec, "--port", str(port), "--connections", str(clients),
           "--pipeline", str(pipeline), "--requests", str(n), "--duration", f"{seconds:g}", "--json", *more]
    ctx.remember(section, "loadgen", cmd, port)
    rc, out, err = run_client(ctx, sample, ctx.client_cmd(layout == "pinned", cmd), seconds + 20, cpu_fns)
    try:
        report = json.loads(out) if out.strip() else None
    except ValueError:
        report = None
    if report:
        sample["requests"] = report.get("requests", 0)
        sample["tests"] = {test: {"rps": report["rps"], "p50_ms": report["p50_us"] / 1000,
                                    "p99_ms": report["p99_us"] / 1000}}
        if sample["requests"] < n:
            sample["notes"].append(f"stopped by --duration {seconds:g} before --requests {n}")
    if rc is None:
        sample["error"] = "rpcgate-loadgen killed (time-out)"
    elif report is None:
        sample["error"] = f"rpcgate-loadgen exited {rc} without a report: {err.strip()[-200:]}"
    elif rc != 0 or report.get("errors") or report.get("first_error") or not sample["requests"]:
        sample["error"] = (f"rpcgate-loadgen exited {rc}: {report.get('errors')} errors, first: "
                           f"{str(report.get('first_error'))[:150]}")
    per_request(sample)
    return sample


def h2load(ctx, section, layout, rnd, target, shape, port, n, cpu_fns, request_file, answer_bytes):
    """One h2load run of the gRPC call in `request_file` (-P is h2load's -m, streams per connection).
    p50 and p99 come from its --log-file. Invalid on a time-out, a non-zero exit, a call that
    failed, or an answer that is not one message of `answer_bytes` (grpc_compare.check_h2load)."""
    sample = new_sample(section, layout, rnd, target, shape, "h2load")
    clients, streams = SHAPES[shape]
    log_file = os.path.join(ctx.workdir, "h2load.log")
    cmd = grpc_compare.h2load_command(port, n, clients, streams, request_file, log_file)
    ctx.remember(section, "h2load", cmd, port)
    timeout = BENCH_TIMEOUT / (3 if ctx.args.quick else 1)
    rc, out, err = run_client(ctx, sample, ctx.client_cmd(layout == "pinned", cmd), timeout, cpu_fns)
    summary = grpc_compare.parse_h2load(out)
    p50, p99, statuses = grpc_compare.latency_percentiles(log_file) if os.path.exists(log_file) else (None, None, {})
    if summary:
        sample["requests"] = summary["succeeded"]
        sample["tests"] = {"pi": {"rps": summary["rps"], "p50_ms": p50, "p99_ms": p99}}
    if rc is None:
        sample["error"] = f"h2load killed after {timeout:g} s"
    elif rc != 0:
        sample["error"] = f"h2load exited {rc}: " + (out + err).strip()[-200:]
    else:
        sample["error"] = grpc_compare.check_h2load(summary, statuses, n, answer_bytes)
    if os.path.exists(log_file):
        os.unlink(log_file)
    per_request(sample)
    return sample


def record(ctx, sample, extra=""):
    ctx.samples.append(sample)
    if sample["error"]:
        text = "INVALID " + sample["error"]
    else:
        text = "  ".join(f"{name} {t['rps']:>10,.0f}/s" + (f" p50 {t['p50_ms']:.3f} p99 {t['p99_ms']:.3f} ms"
                                                          if t["p99_ms"] is not None else "")
                         for name, t in sample["tests"].items())
        if sample["server_cpu_us"] is not None:
            text += f"  server {sample['server_cpu_us']:.2f} us/req"
        if sample["other_cores"] is not None:
            text += f"  other {sample['other_cores']:.2f}"
        text += "".join(f"  [{note}]" for note in sample["notes"])
    log(f"  {sample['layout'][:5]} r{sample['round']} {sample['shape']:<8} {sample['tool']:<15} "
        f"{sample['target']:<20}{text}{extra}")


def skip(ctx, what):
    what = " ".join(what.split())
    if what not in ctx.skipped:
        ctx.skipped.append(what)
    log(f"  skipped: {what}")


def rounds(ctx):
    return range(1, ctx.args.rounds + 1)


# ----------------------------------------------------------------------------- 1. RESP PING

def section_ping(ctx, layout):
    sec = Section(ctx, "ping", layout)
    try:
        redis, redis_port = sec.redis()
        floor, floor_port = sec.floor("floor", "resp")
        p1, pa = free_port(), free_port()
        g1 = sec.rpcgate("rpcgate-1", "model: single", [("resp", p1, "resp")])
        ga = sec.rpcgate("rpcgate-auto", "model: prefork, workers: auto", [("resp", pa, "resp")])
        targets = [("rpcgate-1", g1, p1), ("rpcgate-auto", ga, pa), ("redis", redis, redis_port),
                   ("floor", floor, floor_port)]
        ctx.configs["ping"] = {"rpcgate-1": g1.config_text, "rpcgate-auto": ga.config_text}
        targets = [t for t in targets if check_probe(ctx, "ping", t[0], resp_command(t[2], "PING"), b"+PONG\r\n")]
        for rnd in rounds(ctx):
            for shape in SHAPES:
                n = ctx.count("ping", shape)
                for tool in ("redis-benchmark", "loadgen"):
                    for name, server, port in targets:
                        if ctx.out_of_time():
                            return skip(ctx, f"ping {layout}: rounds from {rnd} on (--budget)")
                        fns = {name: lambda s=server: server_cpu(s)}
                        if tool == "redis-benchmark":
                            s = redis_benchmark(ctx, "ping", layout, rnd, name, shape, port, n, fns, tests="ping_mbulk")
                        else:
                            s = loadgen(ctx, "ping", layout, rnd, name, shape, port, n, fns)
                        record(ctx, s)
    finally:
        sec.stop()


def check_probe(ctx, section, target, got, expected):
    if got == expected:
        return True
    skip(ctx, f"{section}: {target} answered the probe {got[:80]!r}, expected {expected!r}; not measured")
    return False


# ----------------------------------------------------------------------------- 2. proxies

def section_proxy(ctx, layout):
    sec = Section(ctx, "proxy", layout)
    try:
        redis, redis_port = sec.redis()
        pc_args = argparse.Namespace(rpcgate=ctx.args.rpcgate, workers=0, pin=sec.pin)
        targets = [("direct", None, redis_port)]
        for name, starter in (("rpcgate", start_rpcgate), ("nutcracker", start_nutcracker),
                              ("haproxy", start_haproxy)):
            if name != "rpcgate" and not shutil.which(name):
                skip(ctx, f"proxy: {name} (not installed: scripts/install-deps.sh --with-bench)")
                continue
            server, port, _ = starter(pc_args, sec.workdir, redis_port)
            sec.add(server)
            targets.append((name, server, port))
        for _, _, port in targets:
            wait_port(port)
        time.sleep(0.2)  # nutcracker's preconnect done
        for name, server, port in list(targets):
            result = probe(name, port, redis_port)
            if result != "ok":
                skip(ctx, f"proxy: {name} does not forward to Redis ({result}); not measured")
                targets.remove((name, server, port))
        for rnd in rounds(ctx):
            for shape in SHAPES:
                n = ctx.count("proxy", shape)
                for name, server, port in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"proxy {layout}: rounds from {rnd} on (--budget)")
                    fns = {"redis": lambda: server_cpu(redis)}
                    if server:
                        fns["proxy"] = lambda s=server: server_cpu(s)
                    record(ctx, counted_set_get(ctx, "proxy", layout, rnd, name, shape, port, n, fns,
                                                lambda: redis_calls(redis_port)))
    finally:
        sec.stop()


# ----------------------------------------------------------------------------- 3. JSON ping

def json_frame(obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack("<I", len(body)) + body


def json_call(port, obj, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(json_frame(obj))
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack("<I", data[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data[4:]) if len(data) >= 4 else None


def section_json(ctx, layout):
    sec = Section(ctx, "json", layout)
    try:
        p1, pa = free_port(), free_port()
        g1 = sec.rpcgate("rpcgate-1", "model: single", [("json", p1, "json")])
        ga = sec.rpcgate("rpcgate-auto", "model: prefork, workers: auto", [("json", pa, "json")])
        ctx.configs["json"] = {"rpcgate-1": g1.config_text, "rpcgate-auto": ga.config_text}
        legacy, legacy_port = sec.legacy("legacy", one_write=False)
        legacy1, legacy1_port = sec.legacy("legacy-one-write", one_write=True)
        floor, floor_port = sec.floor("floor", "json")
        targets = [("rpcgate-1", g1, p1), ("rpcgate-auto", ga, pa), ("legacy", legacy, legacy_port),
                   ("legacy-one-write", legacy1, legacy1_port), ("floor", floor, floor_port)]
        expected = {"out": "pong", "result": None}
        targets = [t for t in targets
                   if check_probe(ctx, "json", t[0], repr(json_call(t[2], {"in": "ping", "params": None})).encode(),
                                  repr(expected).encode())]
        for rnd in rounds(ctx):
            for shape in SHAPES:
                for name, server, port in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"json {layout}: rounds from {rnd} on (--budget)")
                    slow = name.startswith("legacy")
                    n = ctx.count("json-legacy" if slow else "json", shape)
                    seconds = (LEGACY_SECONDS if not ctx.args.quick else 1.0) if slow else None
                    s = loadgen(ctx, "json", layout, rnd, name, shape, port, n,
                                {name: lambda sv=server: server_cpu(sv)}, codec="json", seconds=seconds)
                    record(ctx, s)
    finally:
        sec.stop()


# ----------------------------------------------------------------------------- 4. translation

def info_fields(port):
    """INFO of an rpcgate as {key: value}, with each `a=b,c=d` value split into a dict too."""
    text = resp_command(port, "INFO").decode(errors="replace")
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            if "=" in value:
                fields[key] = {k: v for k, _, v in (part.partition("=") for part in value.split(","))}
            else:
                fields[key] = value
    return fields


def front_counts(port, cluster):
    f = info_fields(port)
    c = f.get(f"cluster_{cluster}", {})
    errors = sum(int(v) for k, v in f.items() if k.startswith("errorstat_") and isinstance(v, str))
    return int(c.get("requests", 0)), int(c.get("answers", 0)), errors


def section_translation(ctx, layout):
    sec = Section(ctx, "translation", layout)
    try:
        legacy, legacy_port = sec.legacy("legacy", one_write=False)
        up_json, up_resp = free_port(), free_port()
        upstream = sec.rpcgate("upstream-rpcgate", "model: single",
                               [("json", up_json, "json"), ("stats", up_resp, "resp")])
        front_port = free_port()
        front = sec.rpcgate(
            "front", "model: single", [("resp", front_port, "resp")],
            "routes:\n"
            "  - {match: {method: up.legacy}, cluster: legacy, rename: ping}\n"
            "  - {match: {method: up.rpcgate}, cluster: gate, rename: ping}\n"
            "clusters:\n"
            f"  - {{name: legacy, codec: json, endpoints: [127.0.0.1:{legacy_port}], pipeline_depth: 256}}\n"
            f"  - {{name: gate, codec: json, endpoints: [127.0.0.1:{up_json}], pipeline_depth: 256}}\n")
        ctx.configs["translation"] = {"front rpcgate": front.config_text, "upstream rpcgate": upstream.config_text}
        expected = b"$4\r\nPONG\r\n"
        targets = []
        for name, method, cluster, up in (("legacy upstream", "up.legacy", "legacy", legacy),
                                          ("rpcgate upstream", "up.rpcgate", "gate", upstream)):
            if check_probe(ctx, "translation", name, resp_command(front_port, method, "PONG"), expected):
                targets.append((name, method, cluster, up))
        for rnd in rounds(ctx):
            for shape in SHAPES:
                for name, method, cluster, up in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"translation {layout}: rounds from {rnd} on (--budget)")
                    n = ctx.count("translation-legacy" if up is legacy else "translation", shape)
                    fns = {"front": lambda: server_cpu(front), "upstream": lambda u=up: server_cpu(u)}
                    before = front_counts(front_port, cluster)
                    up_before = upstream_requests(up_resp) if up is upstream else None
                    s = redis_benchmark(ctx, "translation", layout, rnd, name, shape, front_port, n, fns,
                                        command=[method, "PONG"])
                    after = front_counts(front_port, cluster)
                    sent, answered, errors = (a - b for a, b in zip(after, before))
                    if not s["error"] and (sent != n or answered != n or errors):
                        s["error"] = (f"front rpcgate counted {sent} sent to {cluster}, {answered} answered, "
                                      f"{errors} errors; expected {n}, {n}, 0")
                    if not s["error"] and up_before is not None:
                        got = upstream_requests(up_resp) - up_before
                        if got != n:
                            s["error"] = f"upstream rpcgate counted {got} requests, expected {n}"
                    record(ctx, s)
    finally:
        sec.stop()


def upstream_requests(stats_port):
    listener = info_fields(stats_port).get("listener_json", {})
    return int(listener.get("requests", 0))


# ----------------------------------------------------------------------------- 5. memory

def section_memory(ctx, layout):
    margs = memory.build_parser().parse_args(
        ["--rpcgate", ctx.args.rpcgate, "--rounds", str(ctx.args.rounds),
         "--connections", str(MEMORY_CONNECTIONS // 10 if ctx.args.quick else MEMORY_CONNECTIONS)]
        + (["--linger", "1"] if ctx.args.quick else []))
    margs.pin = False
    targets = ["rpcgate", "redis"] + (["nutcracker"] if shutil.which("nutcracker") else [])
    if "nutcracker" not in targets:
        skip(ctx, "memory: nutcracker (not installed: scripts/install-deps.sh --with-bench)")
    memory.raise_fd_limit(margs.connections + memory.FD_HEADROOM)
    workdir = tempfile.mkdtemp(prefix="memory-", dir=ctx.workdir)
    runs = []
    try:
        for rnd in rounds(ctx):
            for name in targets:
                if ctx.out_of_time():
                    skip(ctx, f"memory: rounds from {rnd} on (--budget)")
                    break
                run = memory.measure(name, margs, workdir)
                run["round"] = rnd
                runs.append(run)
                log(f"  memory r{rnd} {name:<11}{memory.describe(run)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ctx.memory = {"args": {k: v for k, v in vars(margs).items()}, "targets": targets, "runs": runs,
                  "summary": memory.summarize(runs, targets)}


# ----------------------------------------------------------------------------- 6. process models

def model_configs(ctx):
    """(name, process line) for every model this rpcgate accepts, at 1 and auto workers."""
    configs = [("single", "model: single")]
    for model in ("threads", "prefork", "reuseport", "fdpass"):
        for workers in ("1", "auto"):
            configs.append((f"{model}-{workers}", f"model: {model}, workers: {workers}"))
    probe_file = os.path.join(ctx.workdir, "fork-probe.yaml")
    write(probe_file, "process: {model: fork}\nlisteners:\n  - {name: resp, address: 127.0.0.1:1, codec: resp}\n")
    done = subprocess.run([ctx.args.rpcgate, "-t", "-c", probe_file], capture_output=True, text=True, timeout=10)
    ctx.fork_probe = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        configs.append(("fork", "model: fork"))
    else:
        skip(ctx, "models: fork (`rpcgate -t` does not accept `process: {model: fork}`: "
                  + ctx.fork_probe.splitlines()[-1][:160] + ")")
    return configs


def short_connections(port, count, seconds, pin):
    """Connect, one PING, check +PONG, close; one after another, at most `count` or `seconds`."""
    old = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {1})
    ok, errors = 0, collections.Counter()
    try:
        deadline = time.perf_counter() + seconds
        while ok + sum(errors.values()) < count and time.perf_counter() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(PING)
                    data = b""
                    while len(data) < 7:
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        data += chunk
                if data == b"+PONG\r\n":
                    ok += 1
                else:
                    errors[f"answer {data[:20]!r}"] += 1
            except OSError as e:
                errors[type(e).__name__] += 1
    finally:
        if pin:
            os.sched_setaffinity(0, old)
    return ok, dict(errors)


def section_models(ctx, layout):
    sec = Section(ctx, "models", layout)
    try:
        configs = model_configs(ctx)
        gates = []
        for name, process in configs:
            port = free_port()
            gate = sec.rpcgate(name, process, [("resp", port, "resp")])
            gate.transient_children = name == "fork"  # a child per connection, gone once it closes
            gates.append((name, gate, port))
        ctx.configs["models"] = {name: g.config_text for name, g, _ in gates}
        gates = [g for g in gates if check_probe(ctx, "models", g[0], resp_command(g[2], "PING"), b"+PONG\r\n")]
        count, seconds = SHORT_CONNECTIONS
        if ctx.args.quick:
            count, seconds = count // 5, 1.0
        for rnd in rounds(ctx):
            for kind in ("c50-P1", "c50-P16", "short", "spread"):
                for name, gate, port in gates:
                    if ctx.out_of_time():
                        return skip(ctx, f"models {layout}: rounds from {rnd} on (--budget)")
                    fns = {name: lambda g=gate: server_cpu(g)}
                    if kind in SHAPES:
                        s = loadgen(ctx, "models", layout, rnd, name, kind, port, ctx.count("models", kind), fns)
                        record(ctx, s)
                    elif kind == "short":
                        s = new_sample("models", layout, rnd, name, "short", "python")
                        before, own0, busy0 = server_cpu(gate), own_cpu(), machine_busy()
                        wall = time.perf_counter()
                        ok, errors = short_connections(port, count, seconds, sec.pin)
                        s["wall_s"] = time.perf_counter() - wall
                        s["cpu_s"] = {name: server_cpu(gate) - before}  # fork: once the children are reaped
                        s["client_cpu_s"] = own_cpu() - own0
                        s["other_cores"] = max(0.0, machine_busy() - busy0 - s["cpu_s"][name]
                                               - s["client_cpu_s"]) / (time.perf_counter() - wall)
                        s["requests"] = ok
                        s["tests"] = {"connections": {"rps": ok / s["wall_s"], "p50_ms": None, "p99_ms": None}}
                        if errors or not ok:
                            s["error"] = f"{sum(errors.values())} failed connections: {errors}"
                        per_request(s)
                        ctx.commands.setdefault(("models", "python"), [
                            f"short-lived connections: bench/run.py's short_connections(): connect, send PING, "
                            f"expect +PONG, close, one after another; at most {count} connections or {seconds:g} s",
                            f"spread: connection_spread.count_by_worker(): {SPREAD_CONNECTIONS} connections opened "
                            "one after another and held, each asked `INFO server` (process_id, worker)"])
                        record(ctx, s)
                    else:
                        s = new_sample("models", layout, rnd, name, "spread", "python")
                        socks = []
                        try:
                            counts = count_by_worker(port, SPREAD_CONNECTIONS, socks)
                            time.sleep(0.05)
                            s["rss_held_kib"], s["private_held_kib"] = memory_kib([gate])
                        except (OSError, RuntimeError) as e:
                            counts, s["error"] = {}, f"{type(e).__name__}: {e}"
                        finally:
                            for sock in socks:
                                sock.close()
                        settle(gate)
                        s["rss_kib"], s["private_kib"] = memory_kib([gate])
                        s["spread"] = sorted(counts.values(), reverse=True)
                        s["processes"] = len(server_pids(gate))
                        s["requests"] = sum(counts.values())
                        ctx.samples.append(s)
                        log(f"  {layout[:5]} r{rnd} spread   {name:<17}{spread_text(s['spread'])} RSS "
                            f"{s.get('rss_held_kib', 0) / 1024:.1f} MiB held, {s['rss_kib'] / 1024:.1f} MiB after"
                            + (f"  INVALID {s['error']}" if s["error"] else ""))
    finally:
        sec.stop()


# ----------------------------------------------------------------------------- 7. gRPC

def section_grpc(ctx, layout):
    sec = Section(ctx, "grpc", layout)
    n = grpc_compare.PI_TERMS
    try:
        request_file, answer = grpc_compare.write_request_file(ctx.workdir, n)
        descriptors = grpc_compare.descriptor_set(ctx.workdir)
        translate = f"descriptors: [{descriptors}], unwrap: true"
        server_port = free_port()
        server = sec.listening(sec.start("grpc-server", [ctx.grpc_server, "--port", str(server_port)]))
        # The legacy JSON service as deployed (two writes, Nagle on), as in the json and translation
        # sections: legacy_server.py's pi in prefork workers, with a listen backlog that takes 50
        # connections at once (legacy_server.py's own is 5: the rest would wait for a SYN retry).
        legacy, legacy_port = sec.legacy("legacy", one_write=False)

        def gate(name, listener, routes, clusters):
            port = free_port()
            g = sec.rpcgate(name, "model: single", [(listener[0], port, *listener[1:])],
                            "routes:\n" + "".join(f"  - {r}\n" for r in routes)
                            + "clusters:\n" + "".join(f"  - {c}\n" for c in clusters))
            return g, port

        def grpc_cluster(options):
            return f"{{name: pi_grpc, codec: grpc, endpoints: [127.0.0.1:{server_port}], pipeline_depth: 256{options}}}"
        to_server = "{match: {prefix: pi.PiCalculator/}, cluster: pi_grpc}"
        port = free_port()
        in_process = sec.rpcgate("rpcgate-pi", "model: single", [("grpc", port, "grpc", translate)],
                                 "routes:\n  - {match: {method: pi.PiCalculator/Calc}, handler: pi}\n")
        # role -> server whose CPU counts: "proxy" is what stands between the client and the server.
        targets = [("rpcgate-pi", "h2load", port, {"server": in_process}),
                   ("grpc-server", "h2load", server_port, {"server": server})]
        proxy, port = gate("rpcgate-proxy", ("grpc", "grpc", translate), [to_server], [grpc_cluster(", " + translate)])
        targets.append(("rpcgate-proxy", "h2load", port, {"proxy": proxy, "server": server}))
        passthrough, port = gate("rpcgate-passthrough", ("grpc", "grpc"), [to_server], [grpc_cluster("")])
        targets.append(("rpcgate-passthrough", "h2load", port, {"proxy": passthrough, "server": server}))
        if shutil.which("nginx"):
            port = free_port()
            config, nginx_text = grpc_compare.nginx_config(sec.workdir, port, server_port)
            nginx = sec.start("nginx-proxy", grpc_compare.nginx_command(config, sec.workdir))
            wait_port(port)
            targets.append(("nginx-proxy", "h2load", port, {"proxy": nginx, "server": server}))
        else:
            skip(ctx, "grpc: nginx-proxy (nginx is not installed: scripts/install-deps.sh --with-bench)")
        to_legacy, port = gate("rpcgate-to-legacy", ("grpc", "grpc", translate),
                               ["{match: {method: pi.PiCalculator/Calc}, cluster: legacy, rename: pi}"],
                               [f"{{name: legacy, codec: json, endpoints: [127.0.0.1:{legacy_port}], pipeline_depth: 256}}"])
        targets.append(("rpcgate-to-legacy", "h2load", port, {"proxy": to_legacy, "server": legacy}))
        targets.append(("legacy-direct", "loadgen", legacy_port, {"server": legacy}))
        from_legacy, port = gate("legacy-via-rpcgate", ("json", "json"),
                                 ["{match: {method: pi}, cluster: pi_grpc, rename: pi.PiCalculator/Calc}"],
                                 [grpc_cluster(", " + translate)])
        targets.append(("legacy-via-rpcgate", "loadgen", port, {"proxy": from_legacy, "server": server}))
        shown = lambda text: text.replace(ctx.workdir, "DIR")  # noqa: E731
        ctx.configs["grpc"] = {g.name: shown(g.config_text)
                               for g in (in_process, proxy, passthrough, to_legacy, from_legacy)}
        if shutil.which("nginx"):
            ctx.configs["grpc"]["nginx-proxy (nginx.conf; not YAML)"] = shown(nginx_text)

        # One answer each way, compared to the bit with the legacy service's value, before measuring.
        expected = repr(grpc_compare.compute_pi(n)).encode()
        targets = [t for t in targets if check_probe(
            ctx, "grpc", t[0],
            grpc_compare.grpc_probe(t[2], n).encode() if t[1] == "h2load"
            else repr(json_call(t[2], {"in": "pi", "params": n}).get("result")).encode(),
            b"ok" if t[1] == "h2load" else expected)]
        for rnd in rounds(ctx):
            for shape in SHAPES:
                for name, tool, port, servers in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"grpc {layout}: rounds from {rnd} on (--budget)")
                    slow = servers["server"] is legacy
                    count = ctx.count("grpc-legacy" if slow else "grpc", shape)
                    fns = {role: (lambda sv=srv: server_cpu(sv)) for role, srv in servers.items()}
                    if tool == "h2load":
                        s = h2load(ctx, "grpc", layout, rnd, name, shape, port, count, fns, request_file, len(answer))
                    else:
                        # rpcgate answers a legacy client's call to a gRPC service with out "result".
                        more = ["--command", "pi", "--params", str(n)] + ([] if slow else ["--out", "result"])
                        seconds = (LEGACY_SECONDS if not ctx.args.quick else 1.0) if slow else None
                        s = loadgen(ctx, "grpc", layout, rnd, name, shape, port, count, fns, codec="json",
                                    seconds=seconds, more=more, test="pi")
                    record(ctx, s)
    finally:
        sec.stop()


# ----------------------------------------------------------------------------- summaries

def summarize(samples):
    """Medians per (section, layout, shape, tool, target, test), over the valid rounds only."""
    groups = collections.OrderedDict()
    for s in samples:
        tests = s["tests"] or {"-": None}
        for test in tests:
            groups.setdefault((s["section"], s["layout"], s["shape"], s["tool"], s["target"], test), []).append(s)
    summary = collections.OrderedDict()
    for key, runs in groups.items():
        test = key[5]
        ok = [r for r in runs if not r["error"] and (test in r["tests"] or test == "-")]
        bad = [r for r in runs if r["error"]]
        row = {"rounds": len(runs), "valid": len(ok),
               "invalid": [f"round {r['round']}: {r['error']}" for r in bad],
               "notes": sorted({n for r in runs for n in r["notes"]})}
        if ok:
            med = lambda f: statistics.median(f(r) for r in ok)  # noqa: E731
        if ok and test != "-":
            rates = [r["tests"][test]["rps"] for r in ok]
            row.update(rps=statistics.median(rates), rps_min=min(rates), rps_max=max(rates))
            for p in ("p50_ms", "p99_ms"):
                values = [r["tests"][test][p] for r in ok if r["tests"][test][p] is not None]
                row[p] = statistics.median(values) if values else None
            if all(r["server_cpu_us"] is not None for r in ok):
                row["server_cpu_us"] = med(lambda r: r["server_cpu_us"])
                row["cpu_us"] = {k: statistics.median(r["cpu_us"][k] for r in ok) for k in ok[0]["cpu_us"]}
                row["client_cpu_us"] = med(lambda r: r["client_cpu_us"])
            row["other_cores"] = med(lambda r: r["other_cores"] or 0.0)
        if ok:
            for extra in ("rss_kib", "private_kib", "rss_held_kib", "private_held_kib", "processes"):
                if all(extra in r for r in ok):
                    row[extra] = med(lambda r, e=extra: r[e])
            if all("spread" in r for r in ok):
                row["spreads"] = [r["spread"] for r in ok]
                cvs = [statistics.pstdev(sp) / statistics.mean(sp) if len(sp) > 1 else 0.0 for sp in row["spreads"]]
                row["spread_cv"] = statistics.median(cvs)
        summary[key] = row
    return summary


# ----------------------------------------------------------------------------- 8. TLS

# A CA, and a server certificate for 127.0.0.1 with its key; HAProxy takes both in one file.
TLS_CERTIFICATES = r"""
set -e
exec >openssl.log 2>&1
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca
openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -copy_extensions copy
cat server.pem server.key >haproxy.pem
chmod 600 server.key haproxy.pem
"""


def handshakes(ctx, layout, rnd, target, port, ca, cpu_fns):
    """Full handshakes on new connections, one after another: openssl s_time -new. Its own rate is
    per user-CPU second of the client, so the rate here is its count over the run's wall time.
    Invalid on a non-zero exit or no connection counted."""
    sample = new_sample("tls", layout, rnd, target, "new", "s_time")
    seconds = 2.0 if ctx.args.quick else HANDSHAKE_SECONDS
    cmd = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", f"{seconds:g}", "-CAfile", ca,
           "-verify", "1"]
    ctx.remember("tls", "s_time", cmd, port)
    rc, out, err = run_client(ctx, sample, ctx.client_cmd(layout == "pinned", cmd), seconds + 20, cpu_fns)
    found = re.search(r"^(\d+) connections in [\d.]+s;", out, re.M)
    count = int(found.group(1)) if found else 0
    if count:
        sample["requests"] = count
        sample["tests"] = {"handshake": {"rps": count / sample["wall_s"], "p50_ms": None, "p99_ms": None}}
    if rc is None:
        sample["error"] = "openssl s_time killed (time-out)"
    elif rc != 0 or not count:
        sample["error"] = f"openssl s_time exited {rc}: " + (out + err).strip()[-200:]
    per_request(sample)
    return sample


def section_tls(ctx, layout):
    sec = Section(ctx, "tls", layout)
    try:
        done = subprocess.run(["sh", "-c", TLS_CERTIFICATES], cwd=sec.workdir, timeout=60)
        if done.returncode != 0:
            raise RuntimeError("openssl could not make the certificates (see openssl.log)")
        path = lambda name: os.path.join(sec.workdir, name)  # noqa: E731
        ca = path("ca.pem")
        redis, redis_port = sec.redis()
        tls_port = free_port()
        redis_tls = sec.start("redis-tls", ["redis-server", "--port", "0", "--tls-port", str(tls_port), "--bind",
                                            "127.0.0.1", "--tls-cert-file", path("server.pem"), "--tls-key-file",
                                            path("server.key"), "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
                                            "--save", "", "--appendonly", "no", "--dir", sec.workdir])
        rpcgate_port = free_port()
        gate = sec.rpcgate("rpcgate", "model: single",
                           [("resp", rpcgate_port, "resp", f"tls: {{cert: {path('server.pem')}, key: {path('server.key')}}}")],
                           "routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                           f"clusters:\n  - {{name: cache, codec: resp, endpoints: [127.0.0.1:{redis_port}], "
                           "pipeline_depth: 256}\n")
        ctx.configs["tls"] = {"rpcgate": gate.config_text}
        targets = [("rpcgate", gate, rpcgate_port, redis_port), ("redis-tls", redis_tls, tls_port, None)]
        if shutil.which("haproxy"):
            haproxy_port = free_port()
            config = write(path("haproxy.cfg"),
                           "global\n  nbthread 1\n  maxconn 4096\n"
                           "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n"
                           f"frontend resp\n  bind 127.0.0.1:{haproxy_port} ssl crt {path('haproxy.pem')}\n"
                           "  default_backend redis\n"
                           f"backend redis\n  server redis1 127.0.0.1:{redis_port}\n")
            haproxy = sec.start("haproxy", ["haproxy", "-db", "-f", config])
            targets.insert(1, ("haproxy", haproxy, haproxy_port, redis_port))
        else:
            skip(ctx, "tls: haproxy (not installed: scripts/install-deps.sh --with-bench)")
        for _, _, port, _ in targets:
            wait_port(port)
        tls_options = ("--tls", "--cacert", ca)
        for rnd in rounds(ctx):
            for shape in SHAPES:
                n = ctx.count("tls", shape)
                for name, server, port, behind in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"tls {layout}: rounds from {rnd} on (--budget)")
                    upstream = server if behind is None else redis
                    fns = {"redis": lambda s=upstream: server_cpu(s)}
                    if behind is not None:
                        fns["proxy"] = lambda s=server: server_cpu(s)
                    counter = (lambda: redis_calls(redis_port)) if behind is not None else None
                    record(ctx, counted_set_get(ctx, "tls", layout, rnd, name, shape, port, n, fns, counter,
                                                options=tls_options))
            for name, server, port, behind in targets:
                if ctx.out_of_time():
                    return skip(ctx, f"tls {layout}: handshakes from round {rnd} on (--budget)")
                record(ctx, handshakes(ctx, layout, rnd, name, port, ca, {"server": lambda s=server: server_cpu(s)}))
    finally:
        sec.stop()


# ----------------------------------------------------------------------------- 9. Redis Cluster

CLUSTER_MASTERS = 3
CLUSTER_MGET_KEYS = 100


def start_redis_cluster(sec):
    """Three cluster-enabled redis-servers joined by redis-cli --cluster create; their ports."""
    ports = []
    while len(ports) < CLUSTER_MASTERS:  # a node's bus is its port + 10000
        port = free_port()
        if port <= 55535 and port not in ports:
            ports.append(port)
    servers = []
    for port in ports:
        servers.append(sec.start(f"redis-{port}", [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", sec.workdir, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "5000"]))
        wait_port(port)
    subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas",
                    "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [subprocess.run(["redis-cli", "-p", str(p), "cluster", "info"], capture_output=True, text=True,
                                 timeout=10).stdout for p in ports]
        if all("cluster_state:ok" in state for state in states):
            return servers, ports
        time.sleep(0.1)
    raise RuntimeError("the cluster did not settle")


def cluster_calls(ports):
    return sum(redis_calls(port) for port in ports)


def cluster_mget(ctx, layout, rnd, target, port, cluster, cpu_fns):
    """One bench/cluster_mget.py run (shape c1, tool redis-py)."""
    sample = new_sample("cluster", layout, rnd, target, "c1", "redis-py")
    n = max(1, int(COUNTS["cluster-mget"]["c1"] * ctx.args.scale / (QUICK_DIVISOR if ctx.args.quick else 1)))
    seconds = LOADGEN_SECONDS if not ctx.args.quick else 3.0
    cmd = [PYTHON, os.path.join(HERE, "cluster_mget.py"), "--port", str(port), "--keys", str(CLUSTER_MGET_KEYS),
           "--calls", str(n), "--seconds", f"{seconds:g}"] + (["--cluster"] if cluster else [])
    ctx.remember("cluster", "redis-py", cmd, port)
    rc, out, err = run_client(ctx, sample, ctx.client_cmd(layout == "pinned", cmd), seconds + 30, cpu_fns)
    try:
        report = json.loads(out) if out.strip() else None
    except ValueError:
        report = None
    if report:
        sample["requests"] = report["requests"]
        sample["tests"] = {f"MGET{CLUSTER_MGET_KEYS}": {"rps": report["rps"], "p50_ms": report["p50_us"] / 1000,
                                                         "p99_ms": report["p99_us"] / 1000}}
        if sample["requests"] < n:
            sample["notes"].append(f"stopped after {seconds:g} s before {n} calls")
    if rc is None:
        sample["error"] = "cluster_mget.py killed (time-out)"
    elif report is None or rc != 0:
        sample["error"] = f"cluster_mget.py exited {rc}: {err.strip()[-200:]}"
    elif report["errors"]:
        sample["error"] = f"{report['errors']} errors, first: {str(report['first_error'])[:150]}"
    per_request(sample)
    return sample


def section_cluster(ctx, layout):
    sec = Section(ctx, "cluster", layout)
    try:
        nodes, ports = start_redis_cluster(sec)
        gate_port = free_port()
        gate = sec.rpcgate("rpcgate", "model: single", [("resp", gate_port, "resp")],
                           "routes:\n  - {match: {glob: \"*\"}, cluster: cache}\nclusters:\n"
                           f"  - {{name: cache, codec: resp, redis_cluster: true, pipeline_depth: 256, "
                           f"endpoints: [{', '.join(f'127.0.0.1:{p}' for p in ports)}]}}\n")
        ctx.configs["cluster"] = {"rpcgate": gate.config_text}
        time.sleep(0.3)  # the slot map asked for and read
        # Random keys (-r) over every slot, so that every master is asked: without -r every SET is of
        # the one key "key:__rand_int__"; redis-benchmark --cluster tags its keys per node itself.
        keys = ("-r", "100000")
        targets = [("rpcgate", gate, gate_port, keys), ("cluster-aware", None, ports[0], keys + ("--cluster",))]
        redis_fns = {f"redis-{i}": (lambda s=node: server_cpu(s)) for i, node in enumerate(nodes)}
        subprocess.run([PYTHON, os.path.join(HERE, "cluster_mget.py"), "--port", str(gate_port), "--keys",
                        str(CLUSTER_MGET_KEYS), "--setup"], check=True, capture_output=True, timeout=60)
        for rnd in rounds(ctx):
            for shape in SHAPES:
                n = ctx.count("cluster", shape)
                for name, server, port, more in targets:
                    if ctx.out_of_time():
                        return skip(ctx, f"cluster {layout}: rounds from {rnd} on (--budget)")
                    fns = dict(redis_fns)
                    if server:
                        fns["proxy"] = lambda s=server: server_cpu(s)
                    record(ctx, counted_set_get(ctx, "cluster", layout, rnd, name, shape, port, n, fns,
                                                lambda: cluster_calls(ports), "the masters", more))
            for name, server, port, more in targets:
                if ctx.out_of_time():
                    return skip(ctx, f"cluster {layout}: MGET from round {rnd} on (--budget)")
                fns = dict(redis_fns)
                if server:
                    fns["proxy"] = lambda s=server: server_cpu(s)
                record(ctx, cluster_mget(ctx, layout, rnd, name, port, "--cluster" in more, fns))
    finally:
        sec.stop()


# Who is compared with whom: subject -> peers, per section.
PEERS = {
    "ping": {"rpcgate-1": ["redis", "floor"], "rpcgate-auto": ["redis", "floor", "rpcgate-1"]},
    "proxy": {"rpcgate": ["nutcracker", "haproxy", "direct"]},
    "json": {"rpcgate-1": ["legacy", "legacy-one-write", "floor"],
             "rpcgate-auto": ["legacy", "legacy-one-write", "floor", "rpcgate-1"]},
    "translation": {"rpcgate upstream": ["legacy upstream"]},
    # A peer measured with another load generator (legacy-direct: rpcgate-loadgen, grpc-server:
    # h2load) is compared all the same: the ratios then include what the two clients do differently.
    "grpc": {"rpcgate-pi": ["grpc-server"],
             "rpcgate-proxy": ["nginx-proxy", "grpc-server"],
             "rpcgate-passthrough": ["nginx-proxy", "rpcgate-proxy"],
             "rpcgate-to-legacy": ["legacy-direct"],
             "legacy-via-rpcgate": ["legacy-direct", "grpc-server"]},
    "tls": {"rpcgate": ["haproxy", "redis-tls"]},
    "cluster": {"rpcgate": ["cluster-aware"]},
}


def ratios(summary, section, layout):
    out = []
    for (sec, lay, shape, tool, target, test), row in summary.items():
        if sec != section or lay != layout or target not in PEERS.get(section, {}) or "rps" not in row:
            continue
        for peer in PEERS[section][target]:
            peer_tool = tool if (sec, lay, shape, tool, peer, test) in summary else next(
                (k[3] for k in summary if k[:3] == (sec, lay, shape) and k[4:] == (peer, test)), tool)
            other = summary.get((sec, lay, shape, peer_tool, peer, test))
            if not other or "rps" not in other:
                continue
            shown_peer = peer if peer_tool == tool else f"{peer} ({peer_tool})"
            r = {"shape": shape, "tool": tool, "test": test, "subject": target, "peer": shown_peer,
                 "rps": row["rps"] / other["rps"],
                 "p99": row["p99_ms"] / other["p99_ms"] if row.get("p99_ms") and other.get("p99_ms") else None,
                 "server_cpu": (row["server_cpu_us"] / other["server_cpu_us"]
                                if row.get("server_cpu_us") and other.get("server_cpu_us") else None)}
            if "proxy" in row.get("cpu_us", {}) and "proxy" in other.get("cpu_us", {}):
                r["proxy_cpu"] = row["cpu_us"]["proxy"] / other["cpu_us"]["proxy"]
            out.append(r)
    return out


# ----------------------------------------------------------------------------- the report

def fmt(value, spec, dash="–"):
    if value is None or (isinstance(value, float) and value != value):
        return dash
    return format(value, spec)


def rate(v):
    return fmt(v, ",.0f")


def cpu_text(row, section):
    if row.get("server_cpu_us") is None:
        return "–", "–"
    parts = row.get("cpu_us", {})
    detail = ""
    if len(parts) > 1:
        detail = " (" + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + ")"
    return f"{row['server_cpu_us']:.2f}{detail}", fmt(row.get("client_cpu_us"), ".2f")


def validity(row):
    if row["invalid"]:
        return f"**INVALID** in {len(row['invalid'])} of {row['rounds']} rounds: " + "; ".join(row["invalid"])[:300]
    text = f"{row['valid']}/{row['rounds']}"
    if row["notes"]:
        text += " (" + "; ".join(row["notes"])[:160] + ")"
    return text


def section_table(lines, summary, section, layout):
    rows = [(k, v) for k, v in summary.items() if k[0] == section and k[1] == layout]
    if not rows:
        lines.append("_No measurement._\n")
        return
    lines.append("| shape | tool | target | test | req/s median (min–max) | p50 ms | p99 ms | server CPU µs/req "
                 "| client CPU µs/req | other cores | valid rounds |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    last = None
    for (sec, lay, shape, tool, target, test), row in rows:
        head = (SHAPE_TEXT.get(shape, shape), tool)
        shown = head if head != last else ("", "")
        last = head
        if "rps" in row:
            rps = f"{rate(row['rps'])} ({rate(row['rps_min'])}–{rate(row['rps_max'])})"
            cpu, client = cpu_text(row, section)
            cells = [rps, fmt(row.get("p50_ms"), ".3f"), fmt(row.get("p99_ms"), ".3f"), cpu, client,
                     fmt(row.get("other_cores"), ".2f")]
        else:
            cells = ["–"] * 6
        lines.append(f"| {shown[0]} | {shown[1]} | {target} | {test} | " + " | ".join(cells) + f" | {validity(row)} |")
    lines.append("")
    rs = ratios(summary, section, layout)
    if rs:
        proxy = section in ("proxy", "grpc", "tls", "cluster")
        lines.append("Ratios of the medians (subject / peer; for CPU and p99, lower is better for the subject):\n")
        lines.append("| shape | tool | test | subject / peer | req/s | p99 | server CPU/req |"
                     + (" proxy CPU/req |" if proxy else ""))
        lines.append("|---|---|---|---|---|---|---|" + ("---|" if proxy else ""))
        for r in rs:
            lines.append(f"| {SHAPE_TEXT[r['shape']]} | {r['tool']} | {r['test']} | {r['subject']} / {r['peer']} | "
                         f"{r['rps']:.2f} | {fmt(r['p99'], '.2f')} | {fmt(r['server_cpu'], '.2f')} |"
                         + (f" {fmt(r.get('proxy_cpu'), '.2f')} |" if proxy else ""))
        lines.append("")


def spread_text(counts):
    """Connections per worker, largest first; a run of equal counts as count×workers."""
    parts = []
    for value in counts:
        if parts and parts[-1][0] == value:
            parts[-1][1] += 1
        else:
            parts.append([value, 1])
    return ",".join(f"{v}×{n}" if n > 3 else ",".join([str(v)] * n) for v, n in parts)


def models_table(lines, summary, layout):
    names = []
    for k in summary:
        if k[0] == "models" and k[1] == layout and k[4] not in names:
            names.append(k[4])
    if not names:
        lines.append("_No measurement._\n")
        return
    get = lambda shape, tool, name, test: summary.get(("models", layout, shape, tool, name, test), {})  # noqa
    base = {shape: get(shape, "loadgen", "single", "PING").get("rps") for shape in ("c50-P1", "c50-P16")}
    lines.append("| model | workers | processes | -P 1 req/s (min–max) | p99 ms | CPU µs/req | vs single "
                 "| -P 16 req/s (min–max) | p99 ms | CPU µs/req | vs single "
                 "| short conns/s | CPU µs/conn | RSS (private) MiB at rest "
                 f"| RSS (private) MiB, {SPREAD_CONNECTIONS} held | spread of {SPREAD_CONNECTIONS} held (per round) "
                 "| CV | valid |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        cells, invalid = [], []
        for shape in ("c50-P1", "c50-P16"):
            row = get(shape, "loadgen", name, "PING")
            invalid += row.get("invalid", [])
            if "rps" in row:
                cells += [f"{rate(row['rps'])} ({rate(row['rps_min'])}–{rate(row['rps_max'])})",
                          fmt(row.get("p99_ms"), ".3f"), fmt(row.get("server_cpu_us"), ".2f"),
                          fmt(row["rps"] / base[shape] if base[shape] else None, ".2f")]
            else:
                cells += ["–"] * 4
        short = get("short", "python", name, "connections")
        invalid += short.get("invalid", [])
        cells += [rate(short.get("rps")), fmt(short.get("server_cpu_us"), ".1f")]
        spread = get("spread", "python", name, "-")
        invalid += spread.get("invalid", [])
        workers = "1" if name == "single" or name.endswith("-1") else (
            "per connection" if name == "fork" else f"auto = {os.cpu_count()}")
        processes = fmt(spread.get("processes"), ".0f")
        mib = lambda key: fmt(spread[key] / 1024 if key in spread else None, ".1f")  # noqa: E731
        cells += [f"{mib('rss_kib')} ({mib('private_kib')})", f"{mib('rss_held_kib')} ({mib('private_held_kib')})",
                  " / ".join(spread_text(sp) for sp in spread.get("spreads", [])) or "–",
                  fmt(spread.get("spread_cv"), ".2f")]
        valid = f"**INVALID**: {'; '.join(invalid)[:300]}" if invalid else "all"
        lines.append(f"| {name} | {workers} | {processes} | " + " | ".join(cells) + f" | {valid} |")
    lines.append("")


def memory_table(lines, mem):
    if not mem or not mem.get("runs"):
        lines.append("_No measurement._\n")
        return
    margs = mem["args"]
    rounds = margs["rounds"]
    lines.append(f"{margs['connections']:,} connections per target, one request on each as one burst (the "
                 f"target stopped with SIGSTOP while they are written), medians of {rounds} round(s) (min–max); "
                 f"KiB per connection = (RSS − RSS before) / connections open; 'later' is {margs['linger']:g} s "
                 "after 'after'. Only the target's own processes count, not the Redis behind nutcracker.\n")
    lines.append("| target | request | RSS before → idle → after | KiB/conn idle | KiB/conn after one request "
                 "| KiB/conn later | errors | valid rounds |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name in mem["targets"]:
        s = mem["summary"].get(name)
        runs = [r for r in mem["runs"] if r["target"] == name]
        bad = [f"round {r['round']}: {r['error'] or r['errors']}" for r in runs if r["error"] or r["errors"]]
        valid = f"**INVALID** in {len(bad)} of {len(runs)} rounds: {'; '.join(bad)[:300]}" if bad \
            else f"{len(runs)}/{len(runs)}"
        if not s:
            lines.append(f"| {name} | – | – | – | – | – | – | {valid} |")
            continue

        def cell(phase):
            if f"VmRSS_{phase}" not in s:
                return "–"
            lo, hi = s[f"VmRSS_{phase}_range"]
            return f"{s[f'VmRSS_{phase}']:.2f}" + (f" ({lo:.2f}–{hi:.2f})" if lo != hi else "")
        lines.append(f"| {name} | {s['request']} | {s['rss_before_mib']:.1f} → {s['rss_idle_mib']:.1f} → "
                     f"{s['rss_after_mib']:.1f} MiB | {cell('idle')} | {cell('after')} | {cell('later')} | "
                     f"{s['errors']} | {valid} |")
    lines.append("")


def headline(summary, mem, layouts):
    """The figures issue 7 sets targets for: (what, goal or reference, {layout: text})."""
    rows = []
    ping_test = {"redis-benchmark": "PING_MBULK", "loadgen": "PING"}

    def val(section, layout, tool, target, test, key, shape="c50-P16"):
        row = summary.get((section, layout, shape, tool, target, test), {})
        value = None if row.get("invalid") else row.get(key)
        return value.get("proxy") if isinstance(value, dict) else value

    def ratio(a, b):
        return fmt(a / b if a is not None and b else None, ".2f")

    def by_layout(parts_of):
        return {layout: "<br>".join(parts_of(layout)) or "–" for layout in layouts}

    for shape, ref in (("c50-P16", "redis ~1.0 µs/req (floor 0.5) at -P 16"),
                       ("c50-P1", "redis ~13.8 µs/req (floor 10.7) at -P 1")):
        def cpu_parts(layout, shape=shape):
            parts = []
            for tool, test in ping_test.items():
                g, r, f = (val("ping", layout, tool, t, test, "server_cpu_us", shape)
                           for t in ("rpcgate-1", "redis", "floor"))
                if g is not None:
                    parts.append(f"{tool}: rpcgate {g:.2f}, redis {fmt(r, '.2f')}, floor {fmt(f, '.2f')} µs; "
                                 f"rpcgate/redis **{ratio(g, r)}**")
            return parts
        rows.append((f"PING server CPU per request, {SHAPE_TEXT[shape]} (rpcgate single)",
                     "≤ 1.0 × redis; " + ref, by_layout(cpu_parts)))

    def rate_parts(layout):
        parts = []
        for tool, test in ping_test.items():
            for target in ("rpcgate-1", "rpcgate-auto"):
                g, r = val("ping", layout, tool, target, test, "rps"), val("ping", layout, tool, "redis", test, "rps")
                if g is not None:
                    parts.append(f"{tool} {target}: {rate(g)} vs redis {rate(r)}/s, **{ratio(g, r)}**")
        return parts
    rows.append(("PING throughput at -c 50 -P 16, rpcgate / redis", "≥ 1.0 × redis (redis ~800k/s)",
                 by_layout(rate_parts)))

    for peer, ref in (("nutcracker", "nutcracker ~220k/s at 4.1 µs/req"),
                      ("haproxy", "haproxy ~560k/s at 1.0 µs/req")):
        def proxy_parts(layout, peer=peer):
            parts = []
            g, p = (val("proxy", layout, "redis-benchmark", t, "GET", "cpu_us") for t in ("rpcgate", peer))
            if g is not None and p is not None:
                parts.append(f"proxy CPU {g:.2f} vs {p:.2f} µs/req: **{ratio(g, p)}**")
            for test in ("SET", "GET"):
                a, b = (val("proxy", layout, "redis-benchmark", t, test, "rps") for t in ("rpcgate", peer))
                if a is not None and b is not None:
                    parts.append(f"{test} {rate(a)} vs {rate(b)}/s: **{ratio(a, b)}**")
            return parts
        goal = "CPU ≤ 0.5, throughput ≥ 1.5" if peer == "nutcracker" else "(no goal; reference)"
        rows.append((f"GET/SET at -c 50 -P 16, rpcgate / {peer}", f"{goal}; {ref}", by_layout(proxy_parts)))

    if mem and mem.get("summary"):
        parts = []
        for name in mem["targets"]:
            s = mem["summary"].get(name)
            if s and "VmRSS_after" in s:
                parts.append(f"{name} {fmt(s.get('VmRSS_idle'), '.2f')} idle, **{s['VmRSS_after']:.2f}** after")
        rows.append((f"RSS per connection, KiB ({mem['args']['connections']:,} connections, one request each)",
                     "rpcgate < 2 KB after traffic; nutcracker ~0.3 / ~6.9, Redis ~1.4 / ~8.2",
                     {layouts[0]: "<br>".join(parts) or "–"}))
    return rows


def source_tree(binary):
    """The source tree the binary was built from: CMAKE_HOME_DIRECTORY in its build directory's
    CMakeCache.txt, or this checkout when there is none."""
    try:
        with open(os.path.join(os.path.dirname(binary), "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ROOT


def machine_info(ctx):
    first = first_line
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    v = versions(argparse.Namespace(rpcgate=ctx.args.rpcgate))
    v["python"] = platform.python_version() + f" ({PYTHON})"
    v["gnuplot"] = first(["gnuplot", "--version"]) if shutil.which("gnuplot") else "not installed"
    if "grpc" in ctx.args.sections:
        v["h2load"] = first(["h2load", "--version"]) if shutil.which("h2load") else "not installed"
        v["nginx"] = first(["nginx", "-v"]) if shutil.which("nginx") else "not installed"
        v["libgrpc++"] = first(["sh", "-c", "pkg-config --modversion grpc++ 2>/dev/null || echo not installed"])
    source = source_tree(ctx.args.rpcgate)
    commit = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", source, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.splitlines()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "os": first(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "versions": v, "source": source, "commit": commit.stdout.strip() if commit.returncode == 0 else None,
            "uncommitted_files": len(dirty),
            "rpcgate_binary": os.path.abspath(ctx.args.rpcgate),
            "loadavg_start": tuple(round(x, 2) for x in os.getloadavg())}


def write_markdown(ctx, report, path, chart_name):
    m = report["machine"]
    a = report["args"]
    lines = ["# Benchmark results", "",
             "**Generated file: do not edit.** `bench/run.sh` (or `bench/run.py`) wrote it on "
             f"{report['date']}; run it again to refresh it. docs/benchmarks.md says what each section "
             "measures and how to read it.", "",
             f"- command: `{report['command']}`",
             f"- total time: **{report['elapsed_s'] / 60:.1f} min** ({report['elapsed_s']:.0f} s)"
             f"{' — stopped early by --budget' if ctx.skipped and any('--budget' in s for s in ctx.skipped) else ''}",
             f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}; "
             f"load average {m['loadavg_start']} at the start, {m.get('loadavg_end')} at the end",
             f"- rpcgate: `{shown_path(m['rpcgate_binary'])}` ({m['versions'].get('rpcgate')}), "
             + (f"built from commit `{m['commit']}`" if m["commit"] else "source commit unknown")
             + (f" with {m['uncommitted_files']} files changed and not committed" if m["uncommitted_files"]
                else " (a clean tree)" if m["commit"] else ""),
             "- versions: " + "; ".join(f"{k} `{v}`" for k, v in m["versions"].items() if k != "rpcgate" and v),
             f"- layouts: {', '.join(report['layouts'])} (pinned: servers on CPU 0, load generators on CPU 1, "
             "with taskset); rounds: " f"{a['rounds']}, interleaved; counts × {a['scale']:g}"
             + (", --quick" if a["quick"] else ""), ""]
    lines += ["Every figure is the median over the valid rounds. Server CPU is utime+stime of every server "
              "process involved (master, workers, reaped children, upstreams), divided by the requests "
              "answered. \"other\" is the CPU the rest of the machine used meanwhile, in cores: well above 0 "
              "means the machine was shared. A run whose answers were not all checked right is **INVALID** "
              "and not in any median. Nothing here is pass or fail.", ""]
    if chart_name:
        lines += [f"![throughput and p99 per target]({chart_name})", ""]
    lines += ["## Headline: issue 7's targets", "",
              "| figure | goal / issue 7's reference (pinned, before rpcgate) | "
              + " | ".join(report["layouts"]) + " |",
              "|---|---|" + "---|" * len(report["layouts"])]
    for what, goal, cells in headline(report["summary_index"], report.get("memory"), report["layouts"]):
        lines.append(f"| {what} | {goal} | " + " | ".join(cells.get(lay, "–") for lay in report["layouts"]) + " |")
    lines.append("")
    for section in report["sections"]:
        lines += [f"## {TITLES[section]}", ""]
        if section == "memory":
            memory_table(lines, report.get("memory"))
            continue
        for layout in report["layouts"]:
            lines += [f"### {layout}", ""]
            if section == "models":
                models_table(lines, report["summary_index"], layout)
            else:
                section_table(lines, report["summary_index"], section, layout)
        configs = report["configs"].get(section)
        if configs:
            lines.append("<details><summary>configurations</summary>\n")
            for name, text in configs.items():
                lines += [f"{name}:", "```yaml", re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text).rstrip(), "```"]
            lines += ["</details>", ""]
    lines += ["## Commands", "", "Every command as it ran (PORT is a free loopback port, DIR a temporary directory "
              "holding the configurations shown above; pinned runs prefix the load generators with `taskset -c 1` "
              "and the servers with `taskset -c 0`):", ""]
    for (section, tool), cmds in report["commands"].items():
        lines.append(f"- {section}, {tool}:")
        lines += [f"  - {c}" if tool == "python" else f"  - `{c}`" for c in cmds]
    if report.get("memory"):
        lines.append("- memory: `bench/memory.py`'s `measure()` with its defaults: "
                     f"{report['memory']['args']['connections']:,} connections, "
                     f"{report['memory']['args']['rounds']} round(s), targets {', '.join(report['memory']['targets'])}")
    lines.append("")
    if report["skipped"]:
        lines += ["## Not measured", ""] + [f"- {s}" for s in report["skipped"]] + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ----------------------------------------------------------------------------- the chart

CHART_PANELS = [  # (section, tool, test, shapes, title)
    ("ping", "loadgen", "PING", ("c50-P1", "c50-P16", "c1"), "1. RESP PING in-process (rpcgate-loadgen)"),
    ("proxy", "redis-benchmark", "GET", ("c50-P1", "c50-P16", "c1"), "2. GET proxied to Redis (redis-benchmark)"),
    ("json", "loadgen", "PING", ("c50-P1", "c50-P16", "c1"), "3. JSON ping (rpcgate-loadgen)"),
    ("translation", "redis-benchmark", "ROUTED", ("c50-P1", "c50-P16", "c1"), "4. RESP -> rpcgate -> JSON upstream"),
    ("models", "loadgen", "PING", ("c50-P1", "c50-P16"), "6. Process models, RESP PING (rpcgate-loadgen)"),
    ("grpc", "h2load", "pi", ("c50-P1", "c50-P16", "c1"), "7. gRPC pi.PiCalculator/Calc (h2load)"),
]


def write_chart(report, layout, path, workdir, terminal="svg size 1100,{height} dynamic font 'Helvetica,11'"):
    """Throughput and p99 per target as an SVG (text: the repository never holds a binary)."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (scripts/install-deps.sh --with-bench): no chart"
    summary = report["summary_index"]
    panels = []
    for section, tool, test, shapes, title in CHART_PANELS:
        targets = []
        for (sec, lay, shape, tl, target, tst), row in summary.items():
            if sec == section and lay == layout and tl == tool and tst == test \
                    and target not in targets and shape in shapes:
                targets.append(target)
        if not targets:
            continue
        data = os.path.join(workdir, f"chart-{section}.dat")
        with open(data, "w") as f:
            f.write("# target " + " ".join(f"rps_{s} p99_{s}" for s in shapes) + "\n")
            for target in targets:
                cells = []
                for shape in shapes:
                    row = next((r for (sec, lay, sh, tl, tg, tst), r in summary.items()
                                if sec == section and lay == layout and sh == shape and tl == tool and tg == target
                                and tst == test), {})
                    ok = "rps" in row and not row["invalid"]
                    cells += [f"{row['rps']:.1f}" if ok else "NaN",
                              f"{row['p99_ms']:.4f}" if ok and row.get("p99_ms") else "NaN"]
                f.write(f"\"{target}\" " + " ".join(cells) + "\n")
        panels.append((data, title, shapes))
    if not panels:
        return "no data for a chart"
    script = [f"set terminal {terminal.format(height=330 * len(panels))} background rgb 'white'",
              f"set output '{path}'", "set datafile missing 'NaN'", "set style data histogram",
              "set style histogram cluster gap 1", "set style fill solid 0.85 border -1", "set boxwidth 0.9",
              "set key below horizontal font ',9'", "set grid ytics", "set logscale y",
              "set xtics rotate by -20 font ',9'",
              f"set multiplot layout {len(panels)},2 title 'rpcgate benchmark, {layout}, medians of "
              f"{report['args']['rounds']} rounds ({report['date']})'"]
    for data, title, shapes in panels:
        for kind, label, first_col in (("rps", "requests/s (log)", 2), ("p99", "p99 latency, ms (log)", 3)):
            plots = []
            for i, shape in enumerate(shapes):
                col = first_col + 2 * i
                plots.append(f"'{data}' using {col}:xtic(1) title '{SHAPE_TEXT[shape]}'" if i == 0
                             else f"'' using {col} title '{SHAPE_TEXT[shape]}'")
            script += [f"set title \"{title}: {label}\"", "set yrange [*:*]", "plot " + ", ".join(plots)]
    script.append("unset multiplot")
    script_path = os.path.join(workdir, "chart.gp")
    write(script_path, "\n".join(script) + "\n")
    done = subprocess.run(["gnuplot", script_path], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return "gnuplot failed: " + done.stderr.strip()[-300:]
    return None


# ----------------------------------------------------------------------------- main

RUNNERS = {"ping": section_ping, "proxy": section_proxy, "json": section_json,
           "translation": section_translation, "memory": section_memory, "models": section_models,
           "grpc": section_grpc, "tls": section_tls, "cluster": section_cluster}
NEEDS = {"ping": ("redis-server", "redis-benchmark", "loadgen", "floor"),
         "proxy": ("redis-server", "redis-benchmark"),
         "json": ("loadgen", "floor"),
         "translation": ("redis-benchmark",),
         "memory": ("redis-server",),
         "models": ("loadgen",),
         "grpc": ("h2load", "protoc", "loadgen", "rpcgate-grpc-pi-server", "python3-grpcio"),
         "tls": ("redis-server", "redis-benchmark", "openssl"),
         "cluster": ("redis-server", "redis-benchmark", "redis-cli")}


def python_has_grpc():
    """Whether this Python has gRPC (python3-grpcio), which the grpc section's probes call with."""
    try:
        import grpc  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpcgate", metavar="PATH", default=os.path.join(ROOT, "build", "rpcgate"),
                        help="the rpcgate binary (default build/rpcgate)")
    parser.add_argument("--bench-bin", metavar="DIR",
                        help="where rpcgate-loadgen and rpcgate-floor are (default: bench/ beside --rpcgate)")
    parser.add_argument("--rounds", metavar="R", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--only", metavar="SECTIONS", help="comma-separated subset of " + ",".join(SECTIONS))
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=None,
                        help="also run every section pinned: servers on CPU 0, load generators on CPU 1 "
                             "(default: on, off with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of a minute or two: unpinned, 1 round, counts / 5, 1,000 connections "
                             "for memory")
    parser.add_argument("--scale", metavar="X", type=float, default=1.0, help="multiply every request count by X")
    parser.add_argument("--budget", metavar="S", type=float, default=960,
                        help="start no run after S seconds; what is left is listed as skipped (default 960)")
    parser.add_argument("--out", metavar="DIR", default=os.path.join(ROOT, "docs"),
                        help="where benchmark-results.md and .svg go (default docs/)")
    parser.add_argument("--json", action="store_true", help="also print the raw results as JSON on stdout")
    args = parser.parse_args()
    sections = list(SECTIONS) if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    if [s for s in sections if s not in SECTIONS] or not sections or args.rounds < 1 or args.scale <= 0:
        parser.error(f"--only takes {','.join(SECTIONS)}; --rounds >= 1; --scale > 0")
    if args.quick and "--rounds" not in " ".join(sys.argv):
        args.rounds = 1
    if args.pin is None:
        args.pin = not args.quick
    if args.pin and not (shutil.which("taskset") and os.cpu_count() >= 2):
        log("--pin needs taskset and 2 CPUs: unpinned only")
        args.pin = False
    if args.json:
        PROGRESS[0] = sys.stderr
    if not os.access(args.rpcgate, os.X_OK):
        sys.exit(f"no rpcgate binary at {args.rpcgate} (bench/run.sh builds it)")
    args.rpcgate = os.path.abspath(args.rpcgate)
    os.makedirs(args.out, exist_ok=True)

    args.sections = sections
    ctx = Context(args)
    ctx.memory = None
    # rpcgate-grpc-pi-server is built only where libgrpc++ is installed (bench/CMakeLists.txt).
    have = {"loadgen": os.access(ctx.loadgen, os.X_OK), "floor": os.access(ctx.floor, os.X_OK),
            "rpcgate-grpc-pi-server": os.access(ctx.grpc_server, os.X_OK),
            "python3-grpcio": python_has_grpc()}
    layouts = ["unpinned"] + (["pinned"] if args.pin else [])
    report = {"args": vars(args), "sections": sections, "layouts": layouts,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "command": shlex.join(["bench/run.py"] + sys.argv[1:]), "machine": machine_info(ctx)}
    log(f"bench/run.py: sections {','.join(sections)}, layouts {','.join(layouts)}, {args.rounds} round(s), "
        f"budget {args.budget:g} s; load average {report['machine']['loadavg_start']}")
    try:
        for layout in layouts:
            for section in sections:
                if section == "memory" and layout != "unpinned":
                    continue
                missing = [t for t in NEEDS[section] if not (have[t] if t in have else shutil.which(t))]
                if missing:
                    skip(ctx, f"{section}: needs {', '.join(missing)}")
                    continue
                if ctx.out_of_time():
                    skip(ctx, f"{section} {layout}: not started (--budget)")
                    continue
                log(f"== {TITLES[section]} ({layout}), {time.monotonic() - ctx.started:.0f} s in")
                try:
                    RUNNERS[section](ctx, layout)
                except Exception as e:  # noqa: BLE001: reported; the section's servers were stopped
                    skip(ctx, f"{section} {layout}: failed: {type(e).__name__}: {e}")
    finally:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    report["machine"]["loadavg_end"] = tuple(round(x, 2) for x in os.getloadavg())
    report["elapsed_s"] = round(time.monotonic() - ctx.started, 1)
    report["skipped"] = ctx.skipped
    report["summary_index"] = summarize(ctx.samples)
    report["commands"] = ctx.commands
    report["configs"] = ctx.configs
    report["memory"] = ctx.memory
    report["fork_probe"] = getattr(ctx, "fork_probe", None)
    md = os.path.join(args.out, "benchmark-results.md")
    svg = os.path.join(args.out, "benchmark-results.svg")
    chart_dir = tempfile.mkdtemp(prefix="rpcgate-chart-")
    try:
        problem = write_chart(report, layouts[0], svg, chart_dir)
    finally:
        shutil.rmtree(chart_dir, ignore_errors=True)
    if problem:
        ctx.skipped.append(f"chart: {problem}")
    write_markdown(ctx, report, md, None if problem else os.path.basename(svg))
    invalid = sum(1 for s in ctx.samples if s["error"])
    log(f"\nwrote {md}" + ("" if problem else f" and {svg}") + f"; {len(ctx.samples)} runs, {invalid} invalid, "
        f"{len(ctx.skipped)} skipped; total {report['elapsed_s']:.0f} s ({report['elapsed_s'] / 60:.1f} min)")
    if args.json:
        raw = dict(report)
        raw["samples"] = ctx.samples
        raw["summary"] = [{"section": k[0], "layout": k[1], "shape": k[2], "tool": k[3], "target": k[4],
                           "test": k[5], **v} for k, v in report.pop("summary_index").items()]
        raw.pop("summary_index", None)
        raw["commands"] = {f"{k[0]} {k[1]}": v for k, v in ctx.commands.items()}
        json.dump(raw, sys.stdout, indent=1, default=str)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
