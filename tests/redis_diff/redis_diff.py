#!/usr/bin/env python3
"""Differential tester: the same client sessions against Redis directly and through rpcgate.

    redis_diff.py --bounded                 # the ctest run: reproductions + random, ~60 s in all
    redis_diff.py --minutes 3 --seed 7      # longer; failing sessions are shrunk before printing
    redis_diff.py --replay FILE.json        # one saved transcript again
    redis_diff.py --without hello,sync      # random sessions without some features

Exit status: 0 when no difference was found, 1 otherwise, 2 on a setup error.
The binary is RPCGATE_BIN (default build/rpcgate), copied first so that a rebuild during the run
does not change it under the tester.
"""

import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import executor  # noqa: E402
import generator  # noqa: E402
import reproductions  # noqa: E402
from executor import Stats, run_session  # noqa: E402
from report import findings_markdown, render, signature  # noqa: E402
from servers import Lane, harness  # noqa: E402
from shrink import shrink  # noqa: E402
from transcript import count_commands, load, save  # noqa: E402

STARTUP_RESERVE_S = 8     # the bounded run stops starting sessions this long before its end


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bounded", action="store_true", help="the ctest run: about 60 s in all")
    p.add_argument("--seconds", type=float, help="total wall time (default 60 for --bounded)")
    p.add_argument("--minutes", type=float, help="total wall time in minutes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replay", metavar="FILE", help="run one saved transcript and show every step")
    p.add_argument("--lanes", type=int, default=2, help="independent Redis/Redis/rpcgate triples run in parallel")
    p.add_argument("--workers", type=int, default=1, help="rpcgate prefork workers (1: all clients share connections)")
    p.add_argument("--without", default="", help="comma-separated generator features to leave out: %s" % " ".join(generator.FEATURES))
    p.add_argument("--self-check", action="store_true",
                   help="put a second Redis where rpcgate goes: every difference is then the tester's own noise")
    p.add_argument("--no-repro", action="store_true", help="random sessions only")
    p.add_argument("--repro-only", action="store_true", help="the fixed sessions of reproductions.py only")
    p.add_argument("--only", default="", help="with --repro-only: fixed sessions whose name contains this")
    p.add_argument("--shrink-seconds", type=float, help="time to shrink each new class of difference")
    p.add_argument("--out", default=None, help="directory for failing transcripts (default: a new temp dir)")
    p.add_argument("--findings", metavar="FILE", help="also write the findings as Markdown")
    p.add_argument("--max-classes", type=int, default=40, help="stop shrinking after this many classes")
    args = p.parse_args(argv)
    if args.minutes is not None:
        args.seconds = args.minutes * 60
    if args.seconds is None:
        args.seconds = 60.0 if args.bounded or not args.replay else 0
    if args.shrink_seconds is None:
        args.shrink_seconds = 4.0 if args.bounded else 40.0
    return args


def stable_binary():
    """A private copy of the binary under test: the other engineer may rebuild meanwhile."""
    source = harness.BIN
    harness.require_binary()
    fd, path = tempfile.mkstemp(prefix="rpcgate-under-test-")
    os.close(fd)
    shutil.copy2(source, path)
    os.chmod(path, 0o755)
    harness.BIN = path
    return source, path


class Run:
    """Shared state of the lanes: the work to do, the findings, the stats."""

    def __init__(self, args, out_dir):
        self.args = args
        self.out_dir = out_dir
        self.stats = Stats()
        self.lock = threading.Lock()
        self.work = queue.Queue()
        self.findings = {}          # signature -> (session, run, path)
        self.notes = []
        self.saved = 0
        self.next_random = 0
        self.started = time.monotonic()
        self.deadline = self.started + args.seconds

    def next_session(self):
        try:
            return self.work.get_nowait()
        except queue.Empty:
            pass
        if self.args.repro_only or time.monotonic() > self.deadline - (STARTUP_RESERVE_S if self.args.bounded else 2):
            return None
        with self.lock:
            index = self.next_random
            self.next_random += 1
        seed = self.args.seed * 1000003 + index
        return generator.generate(seed, [w for w in self.args.without.split(",") if w])

    def lane_loop(self, lane):
        while True:
            session = self.next_session()
            if session is None:
                return
            self.stats.add(commands=count_commands(session))
            try:
                result = run_session(lane, session, self.stats)
            except Exception:
                self.note("session %s: tester error\n%s" % (session["name"], traceback.format_exc()))
                lane.settle()
                continue
            note = lane.settle()
            if note:
                self.note("after session %s: %s" % (session["name"], note))
            if not lane.healthy():
                self.note("a server of the lane died; restarting rpcgate")
                lane.restart_gateway()
            if result.difference is not None:
                self.record(lane, session, result)

    def note(self, text):
        with self.lock:
            self.notes.append(text)
        print("note: " + text, flush=True)

    def record(self, lane, session, result):
        sig = signature(result.difference)
        self.stats.add(differences=1)
        with self.lock:
            if sig in self.findings or len(self.findings) >= self.args.max_classes:
                return
            self.findings[sig] = None    # claimed: shrink outside the lock
        if not session["name"].startswith(("repro_", "scenario_")):
            budget = min(self.args.shrink_seconds, max(0.0, self.deadline - time.monotonic() - 3))
            if budget > 0.5:
                session, result = shrink(lane, session, self.stats, sig, budget)
        with self.lock:
            self.saved += 1
            path = os.path.join(self.out_dir, "difference-%02d.json" % self.saved)
        save(session, path)
        with self.lock:
            self.findings[sig] = (session, result, path)
        print("\n=== DIFFERENCE [%s]\n%s\n" % (sig, render(session, result, path)), flush=True)


def start_lanes(count, workers, self_check=False):
    lanes, errors = [None] * count, []

    def start(i):
        try:
            lanes[i] = Lane(workers, self_check).start()
        except Exception as error:
            errors.append(error)
    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for lane in lanes:
            if lane:
                lane.stop()
        raise errors[0]
    return lanes


def replay(args, lane, stats):
    session = load(args.replay)
    result = run_session(lane, session, stats)
    lane.settle()
    if result.difference is None:
        print("replay %s: no difference in %d steps" % (args.replay, len(session["steps"])))
        return 0
    print(render(session, result, args.replay))
    return 1


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    source, copy_path = stable_binary()
    # a sanitizer build answers a few times slower (harness.SLOWDOWN): give rpcgate that much longer
    executor.BOUND *= harness.SLOWDOWN
    out_dir = args.out or tempfile.mkdtemp(prefix="redis-diff-")
    os.makedirs(out_dir, exist_ok=True)
    print("redis-diff: rpcgate %s (copied to %s), seed %d, %s, transcripts in %s" % (
        source, copy_path, args.seed, "replay" if args.replay else "%.0f s" % args.seconds, out_dir), flush=True)
    lanes = []
    try:
        lanes = start_lanes(1 if args.replay else args.lanes, args.workers, args.self_check)
        if args.replay:
            return replay(args, lanes[0], Stats())
        run = Run(args, out_dir)
        if not args.no_repro:
            for session in reproductions.sessions():
                if args.only in session["name"]:
                    run.work.put(session)
        threads = [threading.Thread(target=run.lane_loop, args=(lane,), daemon=True) for lane in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, run.deadline - time.monotonic() + 120))
        return summarize(run)
    finally:
        for lane in lanes:
            tail = lane.stop()
            if tail:
                print("rpcgate log at stop: " + tail)
        os.remove(copy_path)


def summarize(run):
    counts = run.stats.counts
    findings = [(sig, *value) for sig, value in run.findings.items() if value is not None]
    print("\nredis-diff: %d sessions, %d commands, %d bytes sent, %d bytes received, %d differing sessions, %d classes (%.0f s)"
          % (counts["sessions"], counts["commands"], counts["bytes_sent"], counts["bytes_received"],
             counts["differences"], len(findings), time.monotonic() - run.started))
    for sig, session, _, path in findings:
        print("  DIFFERENCE %-60s first in %s  (%s)" % (sig, session["name"], path))
    if run.args.findings:
        with open(run.args.findings, "w") as f:
            f.write(findings_markdown(findings, counts, ["seed %d" % run.args.seed]))
    if findings:
        print("FAILED: rpcgate answered differently from Redis (transcripts above; rerun one with --replay FILE)")
        return 1
    print("OK: no difference")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
