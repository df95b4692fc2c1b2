#!/usr/bin/env python3
"""rpcgate, twemproxy (nutcracker) and HAProxy in front of one real Redis, side by side in one run.

One redis-server (no persistence) on a free 127.0.0.1 port, and four targets in front of it:

  direct      redis-server itself
  rpcgate     model single (or prefork with --workers N), a RESP listener and the catch-all route
              {match: {glob: "*"}, cluster: cache} to a resp cluster with pipeline_depth 256
  nutcracker  twemproxy, one pool: redis: true, preconnect, server_connections: 1,
              auto_eject_hosts: false; run in the foreground (no -d), stats on a free port
  haproxy     mode tcp, one frontend and one backend server, nbthread 1, in the foreground (-db)

Before measuring, each target is probed: a SET sent through it must be readable directly from
Redis. Then the same `redis-benchmark -t get,set` command runs against each target in turn, for
three load shapes (-c 50 -P 1, -c 50 -P 16, -c 1), interleaved A B C D A B C D for --rounds
rounds; medians are reported. Rates and p50 are redis-benchmark's (-q output). CPU is utime+stime
from /proc/PID/stat before and after each run, summed over every server process involved:
redis-server alone for direct, the proxy + redis-server for the others ("proxy CPU" is the total
minus Redis's own share). It is divided by the 2n SET/GET of the run. After every run Redis's INFO
commandstats must have counted exactly 2n more SET/GET. "other" is the CPU that the rest of the
machine (not the servers, not redis-benchmark) used during the run, in cores: it shows a shared
machine. Nothing here passes or fails.

Every process is started here, on free loopback ports, and stopped by PID; each redis-benchmark
run is killed after --bench-timeout seconds. redis-benchmark runs on the same machine and competes
with the servers for CPU (--pin puts the servers on CPU 0 and redis-benchmark on CPU 1).

    bench/proxy_compare.py [--rpcgate build/rpcgate] [--workers N] [--rounds 3] [--pin]
                           [--only rpcgate,nutcracker] [--quick] [--json]

nutcracker and haproxy come from Debian: scripts/install-deps.sh --with-bench.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import add_rpcgate_arguments, finish_report, free_port, wait_port
from resp_ping_cpu import cpu_seconds
from upstream_cost import child_pids, set_get_rates, children_cpu, total_cpu, process_model, redis_calls, resp_command, stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("direct", "rpcgate", "nutcracker", "haproxy")
PROXIES = TARGETS[1:]
# name -> (redis-benchmark -c, -P, -n of a full run, -n of --quick); every n is a multiple of the
# pipeline, so that redis-benchmark sends exactly n of each command.
SHAPES = {
    "c50-P1": (50, 1, 200_000, 20_000),
    "c50-P16": (50, 16, 800_000, 160_000),
    "c1": (1, 1, 40_000, 4_000),
}

PROGRESS = [sys.stdout]  # stderr with --json, so that stdout is the JSON alone


def log(text):
    print(text, file=PROGRESS[0], flush=True)


# ----------------------------------------------------------------------------- processes

class Server:
    """One server process started here (and, for prefork rpcgate, the workers it forks)."""

    def __init__(self, name, cmd, workdir, pin):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.out")
        self.log = open(self.log_path, "w")
        self.cmd = (["taskset", "-c", "0"] if pin else []) + cmd  # taskset execs: same PID
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.children = set()

    def pids(self):
        self.children |= set(child_pids(self.proc.pid))
        return [self.proc.pid] + sorted(self.children)

    def cpu(self):
        return total_cpu(self.pids())

    def alive(self):
        return self.proc.poll() is None

    def log_text(self, path=None):
        self.log.flush()
        try:
            with open(path or self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        for pid in sorted(self.children):  # only children of our own process, by PID
            try:
                os.kill(pid, 0)
                os.kill(pid, 9)
            except OSError:
                pass
        self.log.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def start_rpcgate(args, workdir, redis_port):
    port = free_port()
    config = write(os.path.join(workdir, "rpcgate.yaml"),
                   process_model(args.workers)
                   + f"listeners:\n  - {{name: resp, address: 127.0.0.1:{port}, codec: resp}}\n"
                   "routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                   "clusters:\n"
                   f"  - {{name: cache, codec: resp, endpoints: [127.0.0.1:{redis_port}], pipeline_depth: 256}}\n"
                   "logging: {level: warn}\n")
    return Server("rpcgate", [args.rpcgate, "-c", config], workdir, args.pin), port, None


def start_nutcracker(args, workdir, redis_port):
    port, stats_port = free_port(), free_port()
    config = write(os.path.join(workdir, "nutcracker.yml"),
                   "cache:\n"
                   f"  listen: 127.0.0.1:{port}\n"
                   "  hash: fnv1a_64\n"
                   "  distribution: ketama\n"
                   "  redis: true\n"
                   "  preconnect: true\n"
                   "  server_connections: 1\n"
                   "  auto_eject_hosts: false\n"
                   "  servers:\n"
                   f"   - 127.0.0.1:{redis_port}:1\n")
    log_file = os.path.join(workdir, "nutcracker.log")
    # Foreground (no -d); the stats port must not be the default 22222, which a system instance
    # would hold, and the pid file is not written (no -p).
    cmd = ["nutcracker", "-c", config, "-o", log_file, "-s", str(stats_port), "-a", "127.0.0.1"]
    return Server("nutcracker", cmd, workdir, args.pin), port, log_file


def start_haproxy(args, workdir, redis_port):
    port = free_port()
    config = write(os.path.join(workdir, "haproxy.cfg"),
                   "global\n"
                   "  nbthread 1\n"
                   "  maxconn 4096\n"
                   "defaults\n"
                   "  mode tcp\n"
                   "  timeout connect 5s\n"
                   "  timeout client 120s\n"
                   "  timeout server 120s\n"
                   "frontend resp\n"
                   f"  bind 127.0.0.1:{port}\n"
                   "  default_backend redis\n"
                   "backend redis\n"
                   f"  server redis1 127.0.0.1:{redis_port}\n")
    return Server("haproxy", ["haproxy", "-db", "-f", config], workdir, args.pin), port, None


STARTERS = {"rpcgate": start_rpcgate, "nutcracker": start_nutcracker, "haproxy": start_haproxy}
BINARIES = {"nutcracker": "nutcracker", "haproxy": "haproxy"}


def first_line(cmd):
    """The first line a command prints (stdout, then stderr), e.g. a version."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        text = (done.stdout + done.stderr).strip().splitlines()
        return text[0] if text else ""
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def versions(args):
    v = {"redis-server": first_line(["redis-server", "--version"]),
         "redis-benchmark": first_line(["redis-benchmark", "--version"]),
         "rpcgate": first_line([args.rpcgate, "--version"]),
         "nutcracker": first_line(["nutcracker", "--version"]),
         "haproxy": first_line(["haproxy", "-v"])}
    for pkg in ("redis-server", "nutcracker", "haproxy"):
        try:
            done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True,
                                  timeout=10)
            v[f"deb:{pkg}"] = done.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            v[f"deb:{pkg}"] = None
    return v


# ----------------------------------------------------------------------------- measuring

def probe(target, port, redis_port):
    """A SET sent through `port` must be readable directly from Redis: "ok", or what went wrong."""
    key = f"proxy_compare:{os.getpid()}:{target}"
    try:
        set_reply = resp_command(port, "SET", key, f"via-{target}")
        get_reply = resp_command(redis_port, "GET", key)
        resp_command(redis_port, "DEL", key)
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    ok = set_reply == b"+OK\r\n" and f"via-{target}".encode() in get_reply
    return "ok" if ok else f"SET -> {set_reply!r}, GET -> {get_reply!r}"


def machine_busy():
    """CPU seconds that the whole machine has spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    ticks = sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait
    return ticks / os.sysconf("SC_CLK_TCK")


def run_benchmark(args, target, port, shape, n, cpu_fns, redis_port):
    clients, pipeline = SHAPES[shape][0], SHAPES[shape][1]
    cmd = (["taskset", "-c", "1"] if args.pin else []) + [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "get,set", "-n", str(n),
        "-c", str(clients), "-P", str(pipeline), "-q"]
    calls_before = redis_calls(redis_port)
    cpu_before = {k: f() for k, f in cpu_fns.items()}
    client_before, busy_before = children_cpu(), machine_busy()
    wall = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.bench_timeout,
                              stdin=subprocess.DEVNULL)
        out, err = done.stdout, done.stderr
        error = None if done.returncode == 0 else f"redis-benchmark exited {done.returncode}"
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        error = f"redis-benchmark timed out after {args.bench_timeout:g} s (killed): a stall?"
    wall = time.perf_counter() - wall
    cpu = {k: f() - cpu_before[k] for k, f in cpu_fns.items()}
    client = children_cpu() - client_before
    busy = machine_busy() - busy_before
    reached = redis_calls(redis_port) - calls_before  # INFO itself is not a SET/GET
    rates, p50 = set_get_rates(out)
    if error is None and set(rates) != {"SET", "GET"}:
        error = "unexpected redis-benchmark output: " + (out + err)[-300:].replace("\r", " ")
    requests = 2 * n
    per_req = {k: v * 1e6 / requests for k, v in cpu.items()}
    server_s = sum(cpu.values())
    warnings = sorted({line.strip() for line in err.splitlines() if line.strip()})
    return {"target": target, "shape": shape, "clients": clients, "pipeline": pipeline, "n": n,
            "rps": rates, "p50_ms": p50, "wall_s": wall,
            "cpu_s": cpu, "cpu_us_per_req": per_req,
            "server_cpu_us": sum(per_req.values()),
            "proxy_cpu_us": sum(v for k, v in per_req.items() if k != "redis") if target != "direct" else None,
            "client_cpu_us": client * 1e6 / requests,
            "other_cores": max(0.0, busy - server_s - client) / wall if wall > 0 else None,
            "reached_redis": reached, "expected": requests,
            "benchmark_stderr": warnings[:5], "error": error}


def describe(r):
    if r["error"]:
        return f"ERROR {r['error']}"
    text = (f"SET {r['rps']['SET']:>9.0f}/s GET {r['rps']['GET']:>9.0f}/s "
            f"p50 {r['p50_ms'].get('SET', float('nan')):.3f}/{r['p50_ms'].get('GET', float('nan')):.3f} ms "
            f"CPU {r['server_cpu_us']:6.2f} us/req")
    if r["proxy_cpu_us"] is not None:
        text += f" (proxy {r['proxy_cpu_us']:.2f})"
    text += f" client {r['client_cpu_us']:.2f} other {r['other_cores']:.2f} cores wall {r['wall_s']:.1f} s"
    if r["reached_redis"] != r["expected"]:
        text += f"  [Redis counted {r['reached_redis']} of {r['expected']} SET/GET]"
    return text


def summarize(runs, targets, shapes):
    summary = {}
    for shape in shapes:
        row = {}
        for target in targets:
            ok = [r for r in runs if r["shape"] == shape and r["target"] == target and not r["error"]]
            if not ok:
                row[target] = None
                continue
            med = lambda f: statistics.median(f(r) for r in ok)  # noqa: E731
            s = {"runs": len(ok), "n": ok[0]["n"]}
            for cmd in ("SET", "GET"):
                values = [r["rps"][cmd] for r in ok]
                s[f"{cmd.lower()}_rps"] = statistics.median(values)
                s[f"{cmd.lower()}_rps_range"] = [min(values), max(values)]
                s[f"{cmd.lower()}_p50_ms"] = med(lambda r: r["p50_ms"].get(cmd, float("nan")))
            s["server_cpu_us"] = med(lambda r: r["server_cpu_us"])
            s["redis_cpu_us"] = med(lambda r: r["cpu_us_per_req"]["redis"])
            s["proxy_cpu_us"] = med(lambda r: r["proxy_cpu_us"]) if target != "direct" else None
            s["client_cpu_us"] = med(lambda r: r["client_cpu_us"])
            s["other_cores"] = med(lambda r: r["other_cores"])
            s["all_reached_redis"] = all(r["reached_redis"] == r["expected"] for r in ok)
            row[target] = s
        ratios = {}
        g = row.get("rpcgate")
        for peer in ("nutcracker", "haproxy", "direct"):
            p = row.get(peer)
            if not g or not p:
                continue
            ratios[f"rpcgate/{peer}"] = {
                "set_rps": g["set_rps"] / p["set_rps"], "get_rps": g["get_rps"] / p["get_rps"],
                "proxy_cpu": (g["proxy_cpu_us"] / p["proxy_cpu_us"]
                              if p["proxy_cpu_us"] else None),
                "server_cpu": g["server_cpu_us"] / p["server_cpu_us"] if p["server_cpu_us"] else None}
        row["ratios"] = ratios
        summary[shape] = row
    return summary


# ----------------------------------------------------------------------------- output

def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def print_tables(report):
    m = report["machine"]
    print(f"\n== GET/SET in front of Redis: {m['cpus']} CPUs, rpcgate {report['model']}"
          f"{', pinned (servers CPU 0, redis-benchmark CPU 1)' if report['args']['pin'] else ''}, "
          f"load average {m['loadavg_start']} -> {m['loadavg_end']}")
    for name, v in report["versions"].items():
        print(f"   {name}: {v}")
    if report.get("probe"):
        print("probe (SET through, GET directly):",
              ", ".join(f"{k} {v}" for k, v in report["probe"].items()))
    for shape, row in report.get("summary", {}).items():
        c, p = SHAPES[shape][0], SHAPES[shape][1]
        n = next((s["n"] for t, s in row.items() if t in TARGETS and s), "?")
        print(f"\nredis-benchmark -t get,set -c {c} -P {p} -n {n}: medians of {report['args']['rounds']} rounds "
              f"(min-max); CPU in us per request")
        print(f"{'target':<11}{'SET/s (min-max)':>33}{'GET/s (min-max)':>33}{'p50 SET/GET ms':>16}"
              f"{'server':>8}{'redis':>7}{'proxy':>7}{'client':>8}{'other':>7}")
        for target in report["targets"]:
            s = row.get(target)
            if not s:
                print(f"{target:<11}  (no successful run)")
                continue
            rng = lambda k: f"{s[k + '_rps']:,.0f} ({s[k + '_rps_range'][0]:,.0f}-{s[k + '_rps_range'][1]:,.0f})"  # noqa
            print(f"{target:<11}{rng('set'):>33}{rng('get'):>33}"
                  f"{s['set_p50_ms']:>8.3f}/{s['get_p50_ms']:<7.3f}{s['server_cpu_us']:>8.2f}{s['redis_cpu_us']:>7.2f}"
                  f"{fmt(s['proxy_cpu_us'], '>7.2f'):>7}{s['client_cpu_us']:>8.2f}{s['other_cores']:>7.2f}"
                  + ("" if s["all_reached_redis"] else "  [Redis count mismatch]"))
        for name, r in row.get("ratios", {}).items():
            print(f"  {name:<21} SET/s {r['set_rps']:.2f}  GET/s {r['get_rps']:.2f}  "
                  f"proxy CPU/req {fmt(r['proxy_cpu'], '.2f')}  server CPU/req {fmt(r['server_cpu'], '.2f')}")
    if report.get("errors"):
        print("\nerrors:", *report["errors"], sep="\n  ")
    if report.get("benchmark_stderr"):
        print("\nredis-benchmark said on stderr (per target):")
        for target, lines in report["benchmark_stderr"].items():
            print(f"  {target}: " + " | ".join(lines))
    for name, text in report.get("logs", {}).items():
        if text.strip():
            print(f"\n{name} log (last lines):\n{text.strip()}")


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rpcgate_arguments(parser, "interleaved rounds (every target, every shape)")
    parser.add_argument("--only", metavar="TARGETS",
                        help="comma-separated subset of " + ",".join(TARGETS) + " (default: all four)")
    parser.add_argument("--shapes", metavar="SHAPES", default=",".join(SHAPES),
                        help="comma-separated subset of " + ",".join(
                            f"{k} (-c {c} -P {p}, -n {n})" for k, (c, p, n, _) in SHAPES.items()))
    parser.add_argument("--scale", metavar="X", type=float, default=1.0,
                        help="multiply every -n by X (rounded to a multiple of the pipeline)")
    parser.add_argument("--bench-timeout", metavar="S", type=float, default=90,
                        help="kill a redis-benchmark run after S seconds (default 90)")
    parser.add_argument("--pin", action="store_true",
                        help="servers on CPU 0 (taskset -c 0), redis-benchmark on CPU 1 (taskset -c 1)")
    parser.add_argument("--quick", action="store_true",
                        help="one round, small counts: a smoke run of about 10 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the tables")
    args = parser.parse_args()

    targets = list(TARGETS) if not args.only else [t.strip() for t in args.only.split(",") if t.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    bad = [t for t in targets if t not in TARGETS] + [s for s in shapes if s not in SHAPES]
    if bad or not targets or not shapes or args.rounds < 1:
        parser.error(f"unknown or empty --only/--shapes, or --rounds < 1: {bad}")
    if args.quick:
        args.rounds, args.bench_timeout = 1, min(args.bench_timeout, 20)
    if args.json:
        PROGRESS[0] = sys.stderr
    for tool in ("redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool} (scripts/install-deps.sh --with-bench)")
    if args.pin and not shutil.which("taskset"):
        log("--pin: no taskset here, running unpinned")
        args.pin = False
    if "rpcgate" in targets and not os.access(args.rpcgate, os.X_OK):
        sys.exit(f"no rpcgate binary at {args.rpcgate} (cmake --build build)")
    for target, binary in BINARIES.items():
        if target in targets and not shutil.which(binary):
            log(f"{target}: skipped, no {binary} binary (scripts/install-deps.sh --with-bench)")
            targets.remove(target)

    def count(shape):
        pipeline, full, quick = SHAPES[shape][1], SHAPES[shape][2], SHAPES[shape][3]
        n = quick if args.quick else full
        return max(pipeline, int(round(n * args.scale / pipeline)) * pipeline)

    report = {"args": vars(args), "targets": targets,
              "model": f"prefork, {args.workers} workers" if args.workers else "single",
              "machine": {"cpus": os.cpu_count(), "loadavg_start": tuple(round(x, 2) for x in os.getloadavg())},
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions(args)}
    workdir = tempfile.mkdtemp(prefix="rpcgate-proxy-compare-")
    started = time.perf_counter()
    servers = {}
    try:
        redis_port = free_port()
        redis = Server("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--dir", workdir], workdir, args.pin)
        servers["redis"] = redis
        wait_port(redis_port)
        ports, logs = {"direct": redis_port}, {}
        for target in targets:
            if target == "direct":
                continue
            server, port, extra_log = STARTERS[target](args, workdir, redis_port)
            servers[target], ports[target] = server, port
            if extra_log:
                logs[target] = extra_log
        for target in targets:
            if target != "direct":
                wait_port(ports[target])
        time.sleep(0.5 if args.workers else 0.2)  # every prefork worker listening; preconnects done

        # Each target really reaches this Redis: a SET through it is read back directly.
        probe_results, failed = {}, []
        for target in targets:
            probe_results[target] = probe(target, ports[target], redis_port)
            if probe_results[target] != "ok":
                failed.append(target)
                log(f"{target}: does not forward to Redis ({probe_results[target]}); not measured")
        report["probe"] = probe_results
        targets = [t for t in targets if t not in failed]
        report["measured"] = targets

        redis_cpu = lambda: cpu_seconds(redis.proc.pid)  # noqa: E731
        cpu_fns = {t: ({"redis": redis_cpu} if t == "direct" else {"redis": redis_cpu, t: servers[t].cpu})
                   for t in targets}
        log(f"{len(targets)} targets ({', '.join(targets)}), shapes "
            + ", ".join(f"{s} (-n {count(s)})" for s in shapes)
            + f", {args.rounds} rounds, interleaved; load average {report['machine']['loadavg_start']}"
            + (", pinned" if args.pin else ""))
        runs, dead = [], set()
        for rnd in range(args.rounds):  # A B C D A B C D: drift in machine load hits all alike
            for shape in shapes:
                for target in targets:
                    if target in dead:
                        continue
                    if target != "direct" and not servers[target].alive():
                        dead.add(target)
                        log(f"  {target} exited with {servers[target].proc.returncode}; not measured further")
                        continue
                    r = run_benchmark(args, target, ports[target], shape, count(shape), cpu_fns[target], redis_port)
                    r["round"] = rnd + 1
                    runs.append(r)
                    log(f"  round {rnd + 1} {shape:<8} {target:<11}{describe(r)}")
        report["runs"] = runs
        report["summary"] = summarize(runs, targets, shapes)
        report["errors"] = [f"round {r['round']} {r['shape']} {r['target']}: {r['error']}"
                            for r in runs if r["error"]]
        report["errors"] += [f"round {r['round']} {r['shape']} {r['target']}: Redis counted "
                             f"{r['reached_redis']} SET/GET, expected {r['expected']}"
                             for r in runs if not r["error"] and r["reached_redis"] != r["expected"]]
        stderr_lines = {}
        for r in runs:
            for line in r["benchmark_stderr"]:
                stderr_lines.setdefault(r["target"], set()).add(line)
        report["benchmark_stderr"] = {k: sorted(v)[:5] for k, v in stderr_lines.items()}
        report["logs"] = {}
        for name, server in servers.items():
            if name == "redis":
                continue
            text = server.log_text(logs.get(name))
            report["logs"][name] = "\n".join(text.strip().splitlines()[-15:])
    except Exception as e:
        report["error"] = f"{type(e).__name__}: {e}"
        log(f"ERROR {report['error']}")
    finally:
        for server in reversed(list(servers.values())):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    finish_report(report, args.json, started, print_tables)
    return 1 if report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
