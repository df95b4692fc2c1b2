#!/usr/bin/env python3
"""Resident memory per connection: rpcgate, redis-server and twemproxy (nutcracker), side by side.

For each target, fresh server processes are started on free 127.0.0.1 ports, and:

  1. one request on a fresh connection checks the answer (and pays for one-time allocations
     before the baseline); then the RSS "before" is read;
  2. --connections connections are opened, non-blocking, in batches of --batch; each batch
     waits until the server has accepted it (its open descriptors grew by as much), so no
     listen backlog overflows; then every connection is checked to be idle (nothing received,
     not closed) and the RSS "idle" is read;
  3. one request is sent on each connection and each answer is checked byte for byte; the RSS
     "after" is read --settle seconds later, and again --linger seconds after that ("later"),
     which shows whether the server gives the memory back. By default the requests come as one
     burst: the target's processes are stopped (SIGSTOP), a request is written on every
     connection, and they are resumed (SIGCONT), so every request is waiting when the target
     wakes up: the worst case, and the same for every target however fast this client is.
     --request-batch B sends B at a time instead, each batch answered before the next;
     --request-batch 1 leaves only what a server keeps per connection once it has served it.

RSS is VmRSS from /proc/PID/status (RssAnon too, in the JSON), summed over the target's processes
(a prefork rpcgate: master + workers). KiB per connection = (RSS - RSS before) / connections
still open. Sockets' kernel buffers are not in any process's RSS and are not counted.

Targets (--only picks a subset; the default is all of them, nutcracker ones when it is installed):

  rpcgate         build/rpcgate (--rpcgate), model single (prefork with --workers N), one resp
                  listener with max_connections above --connections, the default handlers; PING
  redis           redis-server --save '' --appendonly no, maxclients above --connections; PING
  nutcracker      twemproxy in front of its own redis-server (configured as in
                  bench/proxy_compare.py); GET of a key set beforehand, forwarded to Redis
  nutcracker-ping the same, but PING, which nutcracker 0.5 answers itself (not forwarded)
  rpcgate-proxy   rpcgate with the route {glob: "*"} to a resp cluster on its own redis-server
                  (as bench/proxy_compare.py configures it); GET, forwarded to Redis

Only the target's own processes are counted: for the proxies, not the redis-server behind them.
Errors (a refused or timed-out connect, a connection closed or answered while idle, a wrong or
missing answer) are counted and reported, never counted as success; a target's phase that runs
past --timeout stops there with an error.

RLIMIT_NOFILE: this script raises its own soft and hard limits (the hard one needs root when it is
too low) to --connections + 1024 before it starts anything, and every server inherits them, as
after `ulimit -n` in a shell. Every process is started here and stopped by PID.

    bench/memory.py [--rpcgate build/rpcgate] [--workers N] [--connections 10000] [--rounds 3]
                    [--request-batch B] [--only rpcgate,redis,nutcracker] [--quick] [--json]
"""
import argparse
import collections
import errno
import os
import re
import resource
import selectors
import signal
import shutil
import socket
import statistics
import sys
import tempfile
import time

from benchlib import add_rpcgate_arguments, finish_report, free_port, wait_port
from proxy_compare import Server, start_nutcracker, versions, write
from upstream_cost import process_model, resp_command

TARGETS = ("rpcgate", "redis", "nutcracker", "nutcracker-ping", "rpcgate-proxy")
NEEDS = {"nutcracker": "nutcracker", "nutcracker-ping": "nutcracker"}
PING = (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n")
KEY, VALUE = "memory:key", "value-of-memory-key"
GET = (f"*2\r\n$3\r\nGET\r\n${len(KEY)}\r\n{KEY}\r\n".encode(), f"${len(VALUE)}\r\n{VALUE}\r\n".encode())
FD_HEADROOM = 1024

PROGRESS = [sys.stdout]  # stderr with --json, so that stdout is the JSON alone


def log(text):
    print(text, file=PROGRESS[0], flush=True)


# ----------------------------------------------------------------------------- processes

def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError) as e:
        sys.exit(f"needs RLIMIT_NOFILE >= {needed} (soft {soft}, hard {hard}): {e}; run as root, "
                 "or lower --connections")
    return needed


class Target:
    """The processes of one target; `counted` are the ones whose memory is measured."""

    def __init__(self, name):
        self.name = name
        self.servers = {}
        self.counted = []
        self.port = None
        self.request, self.expected = PING
        self.backend_port = None  # the redis-server behind a proxy
        self.logs = {}            # name -> a log file of its own (nutcracker's -o)

    def add(self, name, cmd, workdir, counted=True):
        self.servers[name] = Server(name, cmd, workdir, False)
        if counted:
            self.counted.append(self.servers[name])
        return self.servers[name]

    def pids(self):
        return [pid for server in self.counted for pid in server.pids() if os.path.exists(f"/proc/{pid}")]

    def memory(self):
        """VmRSS and RssAnon in KiB, summed over the counted processes."""
        total = {"VmRSS": 0, "RssAnon": 0}
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        key = line.split(":", 1)[0]
                        if key in total:
                            total[key] += int(line.split()[1])
            except OSError:
                pass
        return total

    def descriptors(self):
        count = 0
        for pid in self.pids():
            try:
                count += len(os.listdir(f"/proc/{pid}/fd"))
            except OSError:
                pass
        return count

    def alive(self):
        return all(server.alive() for server in self.servers.values())

    def signal(self, sig):
        """SIGSTOP or SIGCONT to the counted processes (started here, or forked by those), by PID."""
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def log_tail(self, lines=10):
        texts = {name: server.log_text(self.logs.get(name)).strip() for name, server in self.servers.items()}
        return {name: "\n".join(text.splitlines()[-lines:]) for name, text in texts.items() if text}

    def backend_calls(self):
        """GET and PING calls the redis-server behind a proxy has counted (INFO commandstats)."""
        if self.backend_port is None:
            return None
        info = resp_command(self.backend_port, "INFO", "commandstats").decode(errors="replace")
        return {cmd: int(m.group(1)) if (m := re.search(rf"cmdstat_{cmd}:calls=(\d+)", info)) else 0
                for cmd in ("get", "ping")}

    def stop(self):
        for server in reversed(list(self.servers.values())):
            server.stop()


def start_redis(target, workdir, name, args, counted):
    port = free_port()
    target.add(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", workdir, "--maxclients", str(args.connections + 128)],
               workdir, counted)
    wait_port(port)
    return port


def backend_redis(target, workdir, args):
    """A redis-server behind a proxy, not counted, holding the key that GET reads."""
    port = start_redis(target, workdir, "redis-backend", args, counted=False)
    if resp_command(port, "SET", KEY, VALUE) != b"+OK\r\n":
        raise RuntimeError("SET on the backend redis-server failed")
    target.request, target.expected = GET
    target.backend_port = port
    return port


def start_rpcgate(target, workdir, args, upstream_port=None):
    port = free_port()
    text = (process_model(args.workers)
            + f"listeners:\n  - {{name: resp, address: 127.0.0.1:{port}, codec: resp, "
            f"max_connections: {args.connections + 128}}}\n"
            + "logging: {level: warn}\n")
    if upstream_port:
        text += ("routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                 "clusters:\n"
                 f"  - {{name: cache, codec: resp, endpoints: [127.0.0.1:{upstream_port}], pipeline_depth: 256}}\n")
    config = write(os.path.join(workdir, f"{target.name}.yaml"), text)
    target.add("rpcgate", [args.rpcgate, "-c", config], workdir)
    wait_port(port)
    time.sleep(0.5 if args.workers else 0.1)  # every prefork worker listening
    return port


def start_target(name, args, workdir):
    target = Target(name)
    try:
        if name == "rpcgate":
            target.port = start_rpcgate(target, workdir, args)
        elif name == "redis":
            target.port = start_redis(target, workdir, "redis", args, counted=True)
        elif name == "rpcgate-proxy":
            target.port = start_rpcgate(target, workdir, args, backend_redis(target, workdir, args))
        else:  # nutcracker, nutcracker-ping
            redis_port = backend_redis(target, workdir, args)
            if name == "nutcracker-ping":
                target.request, target.expected = PING
            args.pin = False
            server, target.port, target.logs["nutcracker"] = start_nutcracker(args, workdir, redis_port)
            target.servers["nutcracker"] = server
            target.counted.append(server)
            wait_port(target.port)
            time.sleep(0.2)  # its preconnect to Redis done
    except BaseException:
        target.stop()
        raise
    return target


# ----------------------------------------------------------------------------- connections

def finish(sel, s, failure, errors, kept):
    """Done waiting on `s`: counted as `failure` and closed, or kept."""
    sel.unregister(s)
    if failure:
        errors[failure] += 1
        s.close()
    else:
        kept.append(s)


def open_connections(target, count, batch, deadline, errors):
    """Opens up to `count` connections, a batch at a time; each batch is accepted by the server
    (its descriptors grew as much) before the next one starts. Returns the connected sockets."""
    conns, attempted = [], 0
    base_fds = target.descriptors()
    sel = selectors.DefaultSelector()
    try:
        while attempted < count and time.monotonic() < deadline:
            pending = set()
            for _ in range(min(batch, count - attempted)):
                attempted += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", target.port))
                if rc in (0, errno.EINPROGRESS):
                    pending.add(s)
                    sel.register(s, selectors.EVENT_WRITE)
                else:
                    errors[f"connect: {errno.errorcode.get(rc, rc)}"] += 1
                    s.close()
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
                    s = key.fileobj
                    pending.discard(s)
                    rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    finish(sel, s, rc and f"connect: {errno.errorcode.get(rc, rc)}", errors, conns)
            for s in pending:
                finish(sel, s, "connect: timed out", errors, conns)
            while target.descriptors() < base_fds + len(conns) and time.monotonic() < deadline:
                time.sleep(0.01)
        if attempted < count:
            errors["connect: not attempted, --timeout reached"] += count - attempted
        missing = base_fds + len(conns) - target.descriptors()
        if missing > 0:
            errors["not accepted by the server within --timeout"] += missing
    finally:
        sel.close()
    return conns


def drop_unidle(conns, errors):
    """Connections that received anything or were closed while idle are errors; returns the rest."""
    sel = selectors.DefaultSelector()
    for s in conns:
        sel.register(s, selectors.EVENT_READ)
    bad = set()
    for key, _ in sel.select(timeout=0):
        s = key.fileobj
        try:
            data = s.recv(256)
            errors["closed while idle" if not data else f"received while idle: {data[:40]!r}"] += 1
        except OSError as e:
            errors[f"while idle: {type(e).__name__}"] += 1
        bad.add(s)
    sel.close()
    for s in bad:
        s.close()
    return [s for s in conns if s not in bad]


def one_request_each(conns, request, expected, batch, deadline, errors, on_sent=None):
    """Sends `request` once on each connection, a batch at a time, and checks each answer against
    `expected`; returns the connections answered correctly (the others are closed). `on_sent` is
    called once a batch is sent, before its answers are read."""
    good = []
    sel = selectors.DefaultSelector()
    try:
        for start in range(0, len(conns), batch):
            waiting = {}
            for s in conns[start:start + batch]:
                if time.monotonic() >= deadline:
                    errors["request: not sent, --timeout reached"] += 1
                    s.close()
                    continue
                try:
                    sent = s.send(request)
                except OSError as e:
                    sent, failure = 0, type(e).__name__
                else:
                    failure = None if sent == len(request) else f"partial send ({sent} bytes)"
                if failure:
                    errors[f"request: {failure}"] += 1
                    s.close()
                    continue
                waiting[s] = b""
                sel.register(s, selectors.EVENT_READ)
            if on_sent:
                on_sent()
            while waiting and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
                    s = key.fileobj
                    try:
                        chunk = s.recv(4096)
                    except OSError as e:
                        chunk, failure = b"", type(e).__name__
                    else:
                        failure = None if chunk else "closed before answering"
                    data = waiting[s] + chunk
                    if not failure and len(data) < len(expected):
                        waiting[s] = data
                        continue
                    if not failure and data != expected:
                        failure = f"wrong answer {data[:60]!r}"
                    del waiting[s]
                    finish(sel, s, failure and f"answer: {failure}", errors, good)
            for s in waiting:
                finish(sel, s, "answer: none within --timeout", errors, good)
    finally:
        sel.close()
    return good


# ----------------------------------------------------------------------------- measuring

def per_connection(rss, before, count):
    return (rss - before) / count if count else None


def measure(name, args, workdir):
    started = time.monotonic()
    run = {"target": name, "connections": args.connections, "error": None, "errors": {}}
    errors = collections.Counter()
    target, conns = None, []
    try:
        target = start_target(name, args, workdir)
        run["request"] = target.request.split(b"\r\n")[2].decode()
        run["pids"] = target.pids()
        probe = one_request_each([socket.create_connection(("127.0.0.1", target.port), timeout=5)],
                                 target.request, target.expected, 1, time.monotonic() + 5, errors)
        for s in probe:
            s.close()
        if errors:
            raise RuntimeError(f"the probe request failed: {dict(errors)}")
        time.sleep(args.settle)
        memory = {"before": target.memory()}
        deadline = time.monotonic() + args.timeout
        conns = open_connections(target, args.connections, args.batch, deadline, errors)
        time.sleep(args.settle)
        conns = drop_unidle(conns, errors)
        memory["idle"] = target.memory()
        run["open"] = len(conns)
        run["connect_s"] = round(time.monotonic() - started, 2)
        calls_before = target.backend_calls()
        if args.request_batch:
            conns = one_request_each(conns, target.request, target.expected, args.request_batch, deadline, errors)
        else:  # every request waits in its socket when the target wakes up: all of them in flight at once
            target.signal(signal.SIGSTOP)
            try:
                conns = one_request_each(conns, target.request, target.expected, len(conns) or 1, deadline, errors,
                                         on_sent=lambda: target.signal(signal.SIGCONT))
            finally:
                target.signal(signal.SIGCONT)
        run["answered"] = len(conns)
        if calls_before is not None:  # whether the proxy forwarded the requests or answered them itself
            run["backend_calls"] = {k: v - calls_before[k] for k, v in target.backend_calls().items()}
        time.sleep(args.settle)
        memory["after"] = target.memory()
        time.sleep(args.linger)
        conns = drop_unidle(conns, errors)
        memory["later"] = target.memory()
        run["open_later"] = len(conns)
        run["memory_kib"] = memory
        for kind in ("VmRSS", "RssAnon"):
            before = memory["before"][kind]
            run[f"{kind}_kib_per_conn"] = {
                "idle": per_connection(memory["idle"][kind], before, run["open"]),
                "after": per_connection(memory["after"][kind], before, run["answered"]),
                "later": per_connection(memory["later"][kind], before, run["open_later"])}
        if not target.alive():
            run["error"] = "a server process exited during the run"
    except Exception as e:
        run["error"] = f"{type(e).__name__}: {e}"
    finally:
        for s in conns:
            s.close()
        if target is not None:
            run["logs"] = target.log_tail()
            target.stop()
    run["errors"] = dict(errors)
    run["elapsed_s"] = round(time.monotonic() - started, 1)
    return run


def fmt(value, spec=".2f"):
    return "-" if value is None else format(value, spec)


def describe(run):
    if run["error"]:
        return f"ERROR {run['error']}"
    m, k = run["memory_kib"], run["VmRSS_kib_per_conn"]
    text = (f"{run['request']:<4} RSS {m['before']['VmRSS'] / 1024:.1f} -> idle {m['idle']['VmRSS'] / 1024:.1f} -> "
            f"after {m['after']['VmRSS'] / 1024:.1f} -> later {m['later']['VmRSS'] / 1024:.1f} MiB; per connection "
            f"idle {fmt(k['idle'])}, after {fmt(k['after'])}, later {fmt(k['later'])} KiB "
            f"({run['open']} open, {run['answered']} answered)")
    if "backend_calls" in run:
        text += f"; Redis behind it counted {run['backend_calls']}"
    if run["errors"]:
        text += f"  ERRORS {run['errors']}"
    return text


def summarize(runs, targets):
    summary = {}
    for name in targets:
        ok = [r for r in runs if r["target"] == name and not r["error"]]
        if not ok:
            summary[name] = None
            continue
        s = {"runs": len(ok), "request": ok[0]["request"],
             "errors": sum(sum(r["errors"].values()) for r in ok),
             "open": min(r["open"] for r in ok), "answered": min(r["answered"] for r in ok)}
        for phase in ("before", "idle", "after", "later"):
            s[f"rss_{phase}_mib"] = statistics.median(r["memory_kib"][phase]["VmRSS"] for r in ok) / 1024
        for kind in ("VmRSS", "RssAnon"):
            for phase in ("idle", "after", "later"):
                values = [r[f"{kind}_kib_per_conn"][phase] for r in ok]
                if None in values:
                    continue
                s[f"{kind}_{phase}"] = statistics.median(values)
                s[f"{kind}_{phase}_range"] = [min(values), max(values)]
        summary[name] = s
    return summary


def print_tables(report):
    m = report["machine"]
    print(f"\n== RSS per connection, {report['args']['connections']} connections, rpcgate {report['model']}; "
          f"{m['cpus']} CPUs, load average {m['loadavg_start']} -> {m['loadavg_end']}")
    for name, v in report["versions"].items():
        if v and name in ("rpcgate", "redis-server", "nutcracker"):
            print(f"   {name}: {v}")
    rounds = report["args"]["rounds"]
    batch = report["args"]["request_batch"]
    mode = (f"in batches of {batch}, each answered before the next" if batch
            else "as one burst (all written while the target was stopped)")
    print(f"\none request per connection {mode}; medians of {rounds} round(s) (min-max); KiB per connection = "
          f"(RSS - RSS before) / connections open; 'later' is {report['args']['linger']:g} s after 'after'\n")
    print("| target | request | RSS before | idle | after one request | KiB/conn idle | KiB/conn after "
          "| KiB/conn later | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in report["targets"]:
        s = report["summary"].get(name)
        if not s:
            print(f"| {name} | (no successful run) | | | | | | | |")
            continue

        def cell(phase):
            if f"VmRSS_{phase}" not in s:  # no connection left open in some round
                return "-"
            lo, hi = s[f"VmRSS_{phase}_range"]
            return f"{s[f'VmRSS_{phase}']:.2f}" + (f" ({lo:.2f}–{hi:.2f})" if rounds > 1 else "")
        print(f"| {name} | {s['request']} | {s['rss_before_mib']:.1f} MiB | {s['rss_idle_mib']:.1f} MiB "
              f"| {s['rss_after_mib']:.1f} MiB | {cell('idle')} | {cell('after')} | {cell('later')} "
              f"| {s['errors']} |")
    bad = [r for r in report.get("runs", []) if r["error"] or r["errors"]]
    for r in bad:
        print(f"\nround {r['round']} {r['target']}: {r['error'] or ''} {r['errors'] or ''}")
        for name, text in r.get("logs", {}).items():
            print(f"  {name} log (last lines):\n    " + text.replace("\n", "\n    "))


# ----------------------------------------------------------------------------- main

def build_parser():
    """The command line; bench/run.py parses its own memory options with it too."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rpcgate_arguments(parser, "rounds (every target, fresh processes each time)")
    parser.add_argument("--connections", metavar="N", type=int, default=10000,
                        help="connections opened to each target (default 10000)")
    parser.add_argument("--batch", metavar="B", type=int, default=500,
                        help="connections opened at a time (default 500, below every server's listen "
                             "backlog of 511)")
    parser.add_argument("--request-batch", metavar="B", type=int, default=0,
                        help="requests sent at a time, each batch answered before the next (default 0: "
                             "all at once, while the target is stopped with SIGSTOP, so that every request "
                             "is waiting when it resumes: the worst case for a server whose buffers follow "
                             "concurrency)")
    parser.add_argument("--only", metavar="TARGETS",
                        help="comma-separated subset of " + ",".join(TARGETS) + " (default: all)")
    parser.add_argument("--timeout", metavar="S", type=float, default=120,
                        help="bound on each target's connects and requests together (default 120 s)")
    parser.add_argument("--settle", metavar="S", type=float, default=0.5,
                        help="wait before each RSS reading (default 0.5 s)")
    parser.add_argument("--linger", metavar="S", type=float, default=5,
                        help="read the RSS again this long after 'after' (default 5 s)")
    parser.add_argument("--quick", action="store_true",
                        help="one round of 1000 connections, --linger 1: a smoke run of about 15 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    return parser


def main():
    parser = build_parser()
    args = parser.parse_args()

    targets = list(TARGETS) if not args.only else [t.strip() for t in args.only.split(",") if t.strip()]
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets or args.rounds < 1 or args.connections < 1 or args.batch < 1 or args.request_batch < 0:
        parser.error(f"unknown or empty --only {bad}, or --rounds/--connections/--batch < 1, --request-batch < 0")
    if args.quick:
        args.rounds, args.connections, args.linger = 1, min(args.connections, 1000), min(args.linger, 1)
    if args.json:
        PROGRESS[0] = sys.stderr
    if not shutil.which("redis-server"):
        sys.exit("needs redis-server (scripts/install-deps.sh --with-tests)")
    if any(t.startswith("rpcgate") for t in targets) and not os.access(args.rpcgate, os.X_OK):
        sys.exit(f"no rpcgate binary at {args.rpcgate} (cmake --build build)")
    for target in list(targets):
        if target in NEEDS and not shutil.which(NEEDS[target]):
            log(f"{target}: skipped, no {NEEDS[target]} binary (scripts/install-deps.sh --with-bench)")
            targets.remove(target)
    args.pin = False
    fd_limit = raise_fd_limit(args.connections + FD_HEADROOM)

    report = {"args": vars(args), "targets": targets, "fd_limit": fd_limit,
              "model": f"prefork, {args.workers} workers" if args.workers else "single",
              "machine": {"cpus": os.cpu_count(), "loadavg_start": tuple(round(x, 2) for x in os.getloadavg())},
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions(args)}
    started = time.perf_counter()
    runs = []
    workdir = tempfile.mkdtemp(prefix="rpcgate-memory-")
    try:
        log(f"{len(targets)} targets ({', '.join(targets)}), {args.connections} connections, {args.rounds} "
            f"round(s), RLIMIT_NOFILE {fd_limit}")
        for rnd in range(args.rounds):
            for name in targets:
                run = measure(name, args, workdir)
                run["round"] = rnd + 1
                runs.append(run)
                log(f"  round {rnd + 1} {name:<16}{describe(run)}")
    except Exception as e:
        report["error"] = f"{type(e).__name__}: {e}"
        log(f"ERROR {report['error']}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["runs"] = runs
    report["summary"] = summarize(runs, targets)
    errors = [f"round {r['round']} {r['target']}: {r['error'] or r['errors']}" for r in runs if r["error"] or r["errors"]]
    if errors and not report.get("error"):
        report["error"] = "; ".join(errors)
    finish_report(report, args.json, started, print_tables)
    return 1 if report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
