#!/usr/bin/env python3
"""What a request costs through the gateway, compared with calling the upstream directly.

Side by side in one run, on free 127.0.0.1 ports; every process is started here and stopped by PID.
Results are ratios, percentiles and server CPU per request, never pass/fail.

1. Redis. A redis-server (no persistence) and rpcgate (model single, or prefork with --workers N)
   whose RESP listener routes {glob: "*"} to it (cluster codec resp, pipeline_depth 256). The same
   `redis-benchmark -t set,get -c C -q` command, with and without -P, runs alternately against
   Redis directly and through rpcgate for several rounds; the medians are reported: requests/s,
   the p50 that redis-benchmark prints, and CPU (utime+stime from /proc/PID/stat, before and
   after) per request of redis-server alone (direct) and of rpcgate + redis-server (through).
   Redis's INFO commandstats confirms that every SET/GET of a through run reached Redis.
2. Legacy JSON-LP. bench/legacy_server.py (a ThreadingTCPServer: one thread per connection, one
   GIL, so one core at most) and rpcgate with a JSON listener routing {glob: "*"} to it (cluster
   codec json). A modern client (one write per frame, TCP_NODELAY) makes sequential pings for the
   latency percentiles, then K threads with one connection each make sequential pings for the
   throughput and CPU per request. Direct calls are made twice: with the plain modern client, and
   with a client that also re-arms TCP_QUICKACK before each read, because the legacy server
   writes each answer in two pieces with Nagle on, and a client that delays its ACK waits ~40 ms
   for the second piece. The second is the baseline for what the gateway itself adds.

The load generator (redis-benchmark, or this script's threads) runs on the same machine and
competes with the servers for CPU: on a 2-core machine, read ratios rather than absolute rates.

    bench/upstream_cost.py [--rpcgate build/rpcgate] [--workers N] [--rounds 3] [--quick] [--json]
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import add_rpcgate_arguments, finish_report, free_port, wait_port
from legacy_client import percentile
from resp_ping_cpu import cpu_seconds

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


# ----------------------------------------------------------------------------- processes

def child_pids(pid):
    """Direct children of pid (prefork workers of a master), from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


class Gate:
    """One rpcgate process (single) or master + workers (prefork), started from a config text."""

    def __init__(self, binary, workdir, name, config_text):
        self.config = os.path.join(workdir, f"{name}.yaml")
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "-c", self.config], stdout=self.log, stderr=subprocess.STDOUT)
        self.workers = []

    def pids(self):
        kids = child_pids(self.proc.pid)
        self.workers = sorted(set(self.workers) | set(kids))
        return [self.proc.pid] + kids

    def cpu(self):
        return total_cpu(self.pids())

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        stop_process(self.proc)
        for pid in self.workers:  # only workers of our own master, by PID, if any outlived it
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            os.kill(pid, signal.SIGKILL)
        self.log.close()


def stop_process(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def total_cpu(pids):
    """utime+stime of these processes, in seconds. A worker that just exited is skipped: the
    run's figure is then off, and the server's log says why."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def process_model(workers):
    if workers:
        return f"process: {{model: prefork, workers: {workers}, drain_timeout: 1s}}\n"
    return "process: {model: single, drain_timeout: 1s}\n"


# ----------------------------------------------------------------------------- 1. Redis

def resp_command(port, *args):
    """One command on a fresh connection; the raw reply (enough for +OK, bulks and INFO)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data[:1] in (b"+", b"-", b":") and data.endswith(b"\r\n"):
                break
            if data[:1] == b"$":
                head, _, rest = data.partition(b"\r\n")
                if int(head[1:]) < 0 or len(rest) >= int(head[1:]) + 2:
                    break
    return data


def redis_calls(port):
    """SET and GET calls redis-server has counted so far (INFO commandstats)."""
    info = resp_command(port, "INFO", "commandstats").decode(errors="replace")
    total = 0
    for cmd in ("set", "get"):
        m = re.search(rf"cmdstat_{cmd}:calls=(\d+)", info)
        total += int(m.group(1)) if m else 0
    return total


BENCH_LINE = re.compile(r"(SET|GET): ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?")


def set_get_rates(out):
    """requests/s and p50 (ms) per command from redis-benchmark -q -t set,get output."""
    rates, p50 = {}, {}
    for line in re.split(r"[\r\n]+", out):  # -q redraws a progress line with \r
        m = BENCH_LINE.search(line)
        if m and "rps=" not in line:
            rates[m.group(1)] = float(m.group(2))
            if m.group(3):
                p50[m.group(1)] = float(m.group(3))
    return rates, p50


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def redis_run(side, port, n, pipeline, clients, server_cpu, timeout, redis_port):
    """One redis-benchmark -t set,get run; requests/s and p50 per command, CPU per request."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set,get", "-n", str(n),
           "-c", str(clients), "-q"]
    if pipeline > 1:
        cmd += ["-P", str(pipeline)]
    calls_before = redis_calls(redis_port)
    cpu_before = {k: f() for k, f in server_cpu.items()}
    client_before = children_cpu()
    wall = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out, err = done.stdout, done.stderr
        error = None if done.returncode == 0 else f"redis-benchmark exited {done.returncode}"
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = ""
        error = f"redis-benchmark timed out after {timeout:.0f} s (killed)"
    wall = time.perf_counter() - wall
    cpu = {k: f() - cpu_before[k] for k, f in server_cpu.items()}
    client = children_cpu() - client_before
    reached = redis_calls(redis_port) - calls_before  # INFO itself is not a SET/GET
    rates, p50 = set_get_rates(out)
    if error is None and set(rates) != {"SET", "GET"}:
        error = "unexpected redis-benchmark output: " + (out + err)[-300:].replace("\r", " ")
    requests = 2 * n
    return {"side": side, "pipeline": pipeline, "rps": rates, "p50_ms": p50, "wall_s": wall,
            "cpu_s": cpu, "cpu_us_per_req": {k: v * 1e6 / requests for k, v in cpu.items()},
            "client_cpu_us_per_req": client * 1e6 / requests,
            "reached_redis": reached, "expected": requests, "error": error}


def redis_part(args, workdir, report):
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        report["redis"] = {"skipped": "needs redis-server and redis-benchmark"}
        log("redis: skipped (needs redis-server and redis-benchmark)")
        return
    redis_port, gate_port = free_port(), free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    gate = None
    try:
        wait_port(redis_port)
        gate = Gate(args.rpcgate, workdir, "gate-resp",
                    process_model(args.workers)
                    + f"listeners:\n  - {{name: resp, address: 127.0.0.1:{gate_port}, codec: resp}}\n"
                    "routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                    "clusters:\n"
                    f"  - {{name: cache, codec: resp, endpoints: [127.0.0.1:{redis_port}], pipeline_depth: 256}}\n"
                    "logging: {level: warn}\n")
        wait_port(gate_port)
        time.sleep(0.2 if not args.workers else 0.5)  # every worker listening
        # The route really goes to Redis: a key set through rpcgate is read back directly.
        probe = f"upstream_cost:{os.getpid()}"
        set_reply = resp_command(gate_port, "SET", probe, "through")
        get_reply = resp_command(redis_port, "GET", probe)
        if set_reply != b"+OK\r\n" or b"through" not in get_reply:
            raise RuntimeError(f"rpcgate does not forward to Redis: SET -> {set_reply!r}, GET -> {get_reply!r}")
        resp_command(redis_port, "DEL", probe)

        redis_cpu = lambda: cpu_seconds(redis.pid)  # noqa: E731
        sides = {
            "direct": (redis_port, {"redis": redis_cpu}),
            "through": (gate_port, {"redis": redis_cpu, "rpcgate": gate.cpu}),
        }
        modes = [(1, args.n), (args.pipeline, args.n_pipelined)]
        runs = []
        log(f"redis: redis-benchmark -t set,get -c {args.clients}, -n {args.n} (P1) / {args.n_pipelined} "
            f"(P{args.pipeline}), {args.rounds} rounds, alternating direct/through")
        for rnd in range(args.rounds):  # alternate, so drift in machine load hits both alike
            for pipeline, n in modes:
                for side, (port, cpu_fns) in sides.items():
                    r = redis_run(side, port, n, pipeline, args.clients, cpu_fns, args.bench_timeout, redis_port)
                    r["round"] = rnd + 1
                    runs.append(r)
                    log(f"  round {rnd + 1} P{pipeline:<3} {side:<8} "
                        + (f"ERROR {r['error']}" if r["error"] else
                           f"SET {r['rps']['SET']:>10.0f}/s GET {r['rps']['GET']:>10.0f}/s "
                           f"p50 {r['p50_ms'].get('SET', float('nan')):.3f}/{r['p50_ms'].get('GET', float('nan')):.3f} ms "
                           f"CPU {sum(r['cpu_us_per_req'].values()):.2f} us/req "
                           f"(client {r['client_cpu_us_per_req']:.2f}) wall {r['wall_s']:.1f} s")
                        + ("" if r["reached_redis"] == r["expected"] else
                           f"  [Redis counted {r['reached_redis']} of {r['expected']} SET/GET]"))
        summary = {}
        for pipeline, n in modes:
            row = {"n": n}
            for side in sides:
                ok = [r for r in runs if r["pipeline"] == pipeline and r["side"] == side and not r["error"]]
                if not ok:
                    row[side] = None
                    continue
                med = lambda f: statistics.median(f(r) for r in ok)  # noqa: E731
                row[side] = {
                    "runs": len(ok),
                    "set_rps": med(lambda r: r["rps"]["SET"]), "get_rps": med(lambda r: r["rps"]["GET"]),
                    "set_rps_range": [min(r["rps"]["SET"] for r in ok), max(r["rps"]["SET"] for r in ok)],
                    "get_rps_range": [min(r["rps"]["GET"] for r in ok), max(r["rps"]["GET"] for r in ok)],
                    "set_p50_ms": med(lambda r: r["p50_ms"].get("SET", float("nan"))),
                    "get_p50_ms": med(lambda r: r["p50_ms"].get("GET", float("nan"))),
                    "redis_cpu_us": med(lambda r: r["cpu_us_per_req"]["redis"]),
                    "rpcgate_cpu_us": med(lambda r: r["cpu_us_per_req"].get("rpcgate", 0.0)),
                    "server_cpu_us": med(lambda r: sum(r["cpu_us_per_req"].values())),
                    "client_cpu_us": med(lambda r: r["client_cpu_us_per_req"]),
                    "all_reached_redis": all(r["reached_redis"] == r["expected"] for r in ok),
                }
            d, t = row["direct"], row["through"]
            if d and t:
                row["ratio"] = {"set_rps": t["set_rps"] / d["set_rps"], "get_rps": t["get_rps"] / d["get_rps"],
                                "server_cpu": t["server_cpu_us"] / d["server_cpu_us"] if d["server_cpu_us"] else None}
            summary[f"P{pipeline}"] = row
        report["redis"] = {"summary": summary, "runs": runs, "errors": [r["error"] for r in runs if r["error"]],
                           "rpcgate_log": gate.log_text()[-2000:]}
    except Exception as e:  # report what broke; the legacy part still runs
        report["redis"] = {"error": f"{type(e).__name__}: {e}",
                           "rpcgate_log": gate.log_text()[-2000:] if gate else ""}
        log(f"redis: ERROR {e}")
    finally:
        if gate:
            gate.stop()
        stop_process(redis)


# ----------------------------------------------------------------------------- 2. legacy JSON-LP

class ModernClient:
    """One write per frame, TCP_NODELAY; optionally re-arms TCP_QUICKACK before every read."""

    def __init__(self, port, quickack=False, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.quickack = quickack
        self.buf = b""

    def _read(self):
        if self.quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def call(self, method, params=None):
        body = json.dumps({"in": method, "params": params}).encode()
        self.sock.sendall(struct.pack("<I", len(body)) + body)
        while len(self.buf) < 4:
            self._read()
        (length,) = struct.unpack("<I", self.buf[:4])
        while len(self.buf) < 4 + length:
            self._read()
        answer, self.buf = self.buf[4:4 + length], self.buf[4 + length:]
        return json.loads(answer)

    def close(self):
        self.sock.close()


def legacy_latency(port, quickack, count, seconds):
    """Sequential pings on one connection: latencies (s) and errors, bounded by count and time."""
    latencies, errors = [], []
    client = ModernClient(port, quickack)
    try:
        for _ in range(3):  # warm-up, not counted
            client.call("ping", "warm")
        end = time.perf_counter() + seconds
        while len(latencies) < count and time.perf_counter() < end:
            start = time.perf_counter()
            answer = client.call("ping", "x")
            latencies.append(time.perf_counter() - start)
            if answer.get("out") != "pong":
                errors.append(f"unexpected answer {answer!r}")
                break
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        client.close()
    return latencies, errors


def legacy_throughput(port, quickack, conns, per_conn, seconds, server_cpu):
    """conns threads, one connection each, sequential pings; bounded by count and time."""
    clients, errors = [], []
    for _ in range(conns):  # one after another: the legacy listen backlog is small
        clients.append(ModernClient(port, quickack))
    counts = [0] * conns
    barrier = threading.Barrier(conns + 1)
    stop_at = [0.0]

    def work(i):
        client = clients[i]
        barrier.wait()
        try:
            while counts[i] < per_conn and time.perf_counter() < stop_at[0]:
                answer = client.call("ping", i)
                if answer.get("out") != "pong":
                    errors.append(f"unexpected answer {answer!r}")
                    return
                counts[i] += 1
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    cpu_before = {k: f() for k, f in server_cpu.items()}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    stop_at[0] = start + seconds
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 10)
    elapsed = time.perf_counter() - start
    cpu = {k: f() - cpu_before[k] for k, f in server_cpu.items()}
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    for c in clients:
        c.close()
    done = sum(counts)
    return {"calls": done, "elapsed_s": elapsed, "rps": done / elapsed if elapsed else 0.0,
            "hit_time_bound": done < conns * per_conn,
            "cpu_us_per_req": {k: v * 1e6 / done if done else float("nan") for k, v in cpu.items()},
            "server_cpu_us": sum(cpu.values()) * 1e6 / done if done else float("nan"),
            "client_cpu_us": client_cpu * 1e6 / done if done else float("nan"),
            "errors": errors}


def legacy_part(args, workdir, report):
    legacy_port, gate_port = free_port(), free_port()
    legacy = subprocess.Popen([PYTHON, os.path.join(HERE, "legacy_server.py"), "--port", str(legacy_port)],
                              stderr=subprocess.DEVNULL)
    gate = None
    try:
        wait_port(legacy_port)
        gate = Gate(args.rpcgate, workdir, "gate-json",
                    process_model(args.workers)
                    + f"listeners:\n  - {{name: json, address: 127.0.0.1:{gate_port}, codec: json}}\n"
                    "routes:\n  - {match: {glob: \"*\"}, cluster: legacy}\n"
                    "clusters:\n"
                    f"  - {{name: legacy, codec: json, length_byte_order: little, "
                    f"endpoints: [127.0.0.1:{legacy_port}]}}\n"
                    "logging: {level: warn}\n")
        wait_port(gate_port)
        time.sleep(0.2 if not args.workers else 0.5)
        probe = ModernClient(gate_port)
        answer = probe.call("ping", "probe")
        probe.close()
        if answer != {"out": "pong", "result": "probe"}:
            raise RuntimeError(f"rpcgate does not forward to the legacy server: {answer!r}")

        legacy_cpu = lambda: cpu_seconds(legacy.pid)  # noqa: E731
        sides = [  # name, port, client re-arms TCP_QUICKACK, servers whose CPU counts
            ("direct", legacy_port, False, {"legacy": legacy_cpu}),
            ("direct+quickack", legacy_port, True, {"legacy": legacy_cpu}),
            ("through", gate_port, False, {"legacy": legacy_cpu, "rpcgate": gate.cpu}),
        ]
        lat = {}
        log(f"legacy latency: up to {args.latency_calls} sequential pings or {args.latency_seconds:g} s per side")
        for name, port, quickack, _ in sides:
            values, errors = legacy_latency(port, quickack, args.latency_calls, args.latency_seconds)
            ordered = sorted(values)
            lat[name] = {"calls": len(values), "errors": errors,
                         "p50_ms": percentile(ordered, 0.50) * 1e3, "p90_ms": percentile(ordered, 0.90) * 1e3,
                         "p99_ms": percentile(ordered, 0.99) * 1e3,
                         "max_ms": ordered[-1] * 1e3 if ordered else float("nan")}
            s = lat[name]
            log(f"  {name:<16} calls {s['calls']:>5}  p50 {s['p50_ms']:8.3f}  p90 {s['p90_ms']:8.3f}  "
                f"p99 {s['p99_ms']:8.3f}  max {s['max_ms']:8.3f} ms" + (f"  ERRORS {errors}" if errors else ""))
        for base in ("direct", "direct+quickack"):
            lat[f"added_vs_{base}"] = {
                "p50_ms": lat["through"]["p50_ms"] - lat[base]["p50_ms"],
                "p99_ms": lat["through"]["p99_ms"] - lat[base]["p99_ms"]}

        thr = {}
        log(f"legacy throughput: {args.conns} connections x up to {args.per_conn} sequential pings, "
            f"at most {args.throughput_seconds:g} s per side")
        for name, port, quickack, cpu_fns in sides:
            r = legacy_throughput(port, quickack, args.conns, args.per_conn, args.throughput_seconds, cpu_fns)
            thr[name] = r
            log(f"  {name:<16} {r['calls']:>6} calls in {r['elapsed_s']:5.2f} s = {r['rps']:9.0f}/s  "
                f"server CPU {r['server_cpu_us']:7.1f} us/req "
                + " ".join(f"({k} {v:.1f})" for k, v in r["cpu_us_per_req"].items())
                + f"  client CPU {r['client_cpu_us']:.1f} us/req"
                + ("  [time bound hit]" if r["hit_time_bound"] else "")
                + (f"  ERRORS {r['errors'][:3]}" if r["errors"] else ""))
        for base in ("direct", "direct+quickack"):
            if thr[base]["rps"]:
                thr[f"ratio_vs_{base}"] = {
                    "rps": thr["through"]["rps"] / thr[base]["rps"],
                    "server_cpu": thr["through"]["server_cpu_us"] / thr[base]["server_cpu_us"]}
        report["legacy"] = {"latency": lat, "throughput": thr, "rpcgate_log": gate.log_text()[-2000:]}
    except Exception as e:
        report["legacy"] = {"error": f"{type(e).__name__}: {e}",
                            "rpcgate_log": gate.log_text()[-2000:] if gate else ""}
        log(f"legacy: ERROR {e}")
    finally:
        if gate:
            gate.stop()
        stop_process(legacy)


# ----------------------------------------------------------------------------- output

PROGRESS = [sys.stdout]  # stderr with --json, so that stdout is the JSON alone


def log(text):
    print(text, file=PROGRESS[0], flush=True)


def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def print_table(report):
    print()
    print(f"== Through rpcgate vs direct: {report['machine']['cpus']} CPUs, rpcgate {report['model']}, "
          f"load average {report['machine']['loadavg_start']} -> {report['machine']['loadavg_end']}")
    redis = report.get("redis", {})
    if "summary" in redis:
        print("\nRedis (redis-benchmark -t set,get -c %d; medians of %d rounds; CPU = server utime+stime per request)"
              % (report["args"]["clients"], report["args"]["rounds"]))
        print(f"{'mode':<5}{'side':<9}{'SET/s':>11}{'GET/s':>11}{'p50 SET':>9}{'p50 GET':>9}"
              f"{'redis us':>10}{'rpcgate us':>11}{'server us':>10}{'client us':>10}")
        for mode, row in redis["summary"].items():
            for side in ("direct", "through"):
                s = row.get(side)
                if not s:
                    print(f"{mode:<5}{side:<9}  (no successful run)")
                    continue
                print(f"{mode:<5}{side:<9}{s['set_rps']:>11,.0f}{s['get_rps']:>11,.0f}{s['set_p50_ms']:>9.3f}"
                      f"{s['get_p50_ms']:>9.3f}{s['redis_cpu_us']:>10.2f}"
                      f"{fmt(s['rpcgate_cpu_us'] if side == 'through' else None, '>11.2f'):>11}"
                      f"{s['server_cpu_us']:>10.2f}{s['client_cpu_us']:>10.2f}")
            if "ratio" in row:
                r = row["ratio"]
                print(f"{mode:<5}{'ratio':<9}{r['set_rps']:>11.2f}{r['get_rps']:>11.2f}{'':>18}{'':>10}{'':>11}"
                      f"{fmt(r['server_cpu'], '>10.2f')}   (through/direct)")
        if redis.get("errors"):
            print("errors:", *redis["errors"], sep="\n  ")
    elif redis:
        print("\nRedis:", redis.get("error") or redis.get("skipped"))
    legacy = report.get("legacy", {})
    if "latency" in legacy:
        lat = legacy["latency"]
        print("\nLegacy JSON-LP latency (sequential pings, one connection, ms)")
        print(f"{'side':<17}{'calls':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
        for side in ("direct", "direct+quickack", "through"):
            s = lat[side]
            print(f"{side:<17}{s['calls']:>7}{s['p50_ms']:>9.3f}{s['p90_ms']:>9.3f}{s['p99_ms']:>9.3f}{s['max_ms']:>9.3f}")
        for base in ("direct", "direct+quickack"):
            a = lat[f"added_vs_{base}"]
            print(f"through minus {base}: p50 {a['p50_ms']:+.3f} ms, p99 {a['p99_ms']:+.3f} ms")
        thr = legacy["throughput"]
        print("\nLegacy JSON-LP throughput (%d connections, sequential pings each; CPU us per request)"
              % report["args"]["conns"])
        print(f"{'side':<17}{'calls':>7}{'req/s':>9}{'legacy us':>11}{'rpcgate us':>11}{'server us':>11}{'client us':>11}")
        for side in ("direct", "direct+quickack", "through"):
            s = thr[side]
            print(f"{side:<17}{s['calls']:>7}{s['rps']:>9,.0f}{s['cpu_us_per_req']['legacy']:>11.1f}"
                  f"{fmt(s['cpu_us_per_req'].get('rpcgate'), '>11.1f'):>11}{s['server_cpu_us']:>11.1f}{s['client_cpu_us']:>11.1f}"
                  + ("  time bound" if s["hit_time_bound"] else "")
                  + (f"  {len(s['errors'])} errors" if s["errors"] else ""))
        for base in ("direct", "direct+quickack"):
            if f"ratio_vs_{base}" in thr:
                r = thr[f"ratio_vs_{base}"]
                print(f"through/{base}: req/s {r['rps']:.2f}, server CPU per request {r['server_cpu']:.2f}")
    elif legacy:
        print("\nLegacy:", legacy.get("error"))
    for part in ("redis", "legacy"):
        text = report.get(part, {}).get("rpcgate_log", "").strip()
        if text:
            print(f"\nrpcgate log ({part}, last lines):\n{text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rpcgate_arguments(parser, "redis-benchmark rounds per side and mode")
    parser.add_argument("-n", metavar="N", type=int, default=200_000,
                        help="redis-benchmark -n without pipelining (default 200000)")
    parser.add_argument("--n-pipelined", metavar="N", type=int, default=1_000_000,
                        help="redis-benchmark -n with -P (default 1000000)")
    parser.add_argument("-P", dest="pipeline", metavar="P", type=int, default=16,
                        help="redis-benchmark -P of the pipelined mode (default 16)")
    parser.add_argument("-c", dest="clients", metavar="C", type=int, default=50,
                        help="redis-benchmark -c (default 50)")
    parser.add_argument("--bench-timeout", metavar="S", type=float, default=120,
                        help="kill a redis-benchmark run after S seconds (default 120)")
    parser.add_argument("--latency-calls", metavar="N", type=int, default=2000,
                        help="sequential legacy pings per side (default 2000)")
    parser.add_argument("--latency-seconds", metavar="S", type=float, default=10,
                        help="time bound of those, per side (default 10)")
    parser.add_argument("--conns", metavar="K", type=int, default=16,
                        help="concurrent legacy connections, one thread each (default 16)")
    parser.add_argument("--per-conn", metavar="N", type=int, default=2000,
                        help="pings per connection in the throughput test, at most (default 2000)")
    parser.add_argument("--throughput-seconds", metavar="S", type=float, default=10,
                        help="time bound of the throughput test, per side (default 10)")
    parser.add_argument("--only", choices=["redis", "legacy"], help="run one part only")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run in well under 20 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.n, args.n_pipelined, args.bench_timeout = 1, 50_000, 300_000, 15
        args.latency_calls, args.latency_seconds = 500, 1.5
        args.conns, args.per_conn, args.throughput_seconds = 8, 500, 1.5
    if not os.access(args.rpcgate, os.X_OK):
        sys.exit(f"no rpcgate binary at {args.rpcgate} (cmake --build build)")
    if args.json:
        PROGRESS[0] = sys.stderr

    report = {"args": vars(args), "model": f"prefork, {args.workers} workers" if args.workers else "single",
              "machine": {"cpus": os.cpu_count(), "loadavg_start": tuple(round(x, 2) for x in os.getloadavg())},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    workdir = tempfile.mkdtemp(prefix="rpcgate-upstream-cost-")
    started = time.perf_counter()
    try:
        if args.only in (None, "redis"):
            redis_part(args, workdir, report)
        if args.only in (None, "legacy"):
            legacy_part(args, workdir, report)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    finish_report(report, args.json, started, print_table)


if __name__ == "__main__":
    main()
