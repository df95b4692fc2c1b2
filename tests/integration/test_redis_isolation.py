#!/usr/bin/env python3
"""Blast radius of one: in front of a real Redis, ordinary commands of all clients share a few
pipelined upstream connections (docs/redis-compatibility.md), so one hostile, broken or merely
unusual client must never change what another client gets.

One redis-server, one rpcgate (prefork with ONE worker, so every client lands on the same worker,
and `max_connections: 2`, so the hostile client and the bystanders really share upstream
connections). Each scenario (a subTest) runs one hostile client WHILE four well-behaved
bystanders pipeline SET/GET/INCR on keys of their own. Every reply a bystander gets is checked
value for value against what that bystander alone can expect; a single error, a single reply of
someone else, a single missing reply fails the scenario. Afterwards the bystanders' keys are read
back straight from Redis, in database 0, the gateway must still be alive and a new client must get
PONG. What the hostile client itself gets is its own business: it is noted, never asserted, except
where it is about isolation (an HTTP request must not reach Redis, a SELECTed database must not
be database 0).

A failed scenario restarts the gateway, so that every scenario's verdict is its own."""

import itertools
import os
import random
import socket
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError, RespStatus, resp_command as command  # noqa: E402

BYSTANDERS = 4
MAX_DEPTH = 32                      # commands per pipelined write of a bystander: 1..32
WARMUP = 0.2                        # seconds of load before the hostile client starts
LOAD_SECONDS = 1.5                  # the least load per scenario, hostile client included
SETTLE = 0.3                        # seconds of load after the hostile client is done
MAX_LOAD_SECONDS = 20.0             # a bystander stops after this, whatever happens
MAX_REQUESTS = 200_000              # ... or after this many requests
BYSTANDER_TIMEOUT = 5.0 * harness.SLOWDOWN  # for one reply; the cluster's request_timeout is 2 s
HOSTILE_TIMEOUT = 1.0 * harness.SLOWDOWN  # for the hostile client's replies, noted only
QUICK = 0.1 * harness.SLOWDOWN     # ... for small replies, which come at once when they come
ROUND_GAP = 0.1                     # seconds between two rounds of a repeated hostile action
HOSTILE_BUDGET = 3.0 * harness.SLOWDOWN  # no new round after this long
BIG = 8_000_000                     # bytes of the huge value
OK = RespStatus("OK")
RUNS = itertools.count(1)           # each scenario run tags its bystanders' keys afresh


# ----------------------------------------------------------------------------------------------
# The bystanders


class Bystander(threading.Thread):
    """One well-behaved client on its own socket: writes of 1..32 pipelined commands, each a SET of
    a new key to a unique value, a GET of one of its keys (often SET earlier in the same write) or
    an INCR of its own counter; then reads every reply and checks it is exactly its own. Stops at
    the first wrong reply (after one, the rest are shifted anyway) and keeps a description of it."""

    def __init__(self, index, port, tag, stop):
        super().__init__(name="bystander-%d" % index, daemon=True)
        self.index, self.port, self.stop = index, port, stop
        self.tag = tag
        self.rng = random.Random(zlib.crc32(("%s/%d" % (tag, index)).encode()))
        self.counter_key = "bystander:%d:counter:%s" % (index, tag)
        self.counter = 0          # what INCR must answer next, minus one
        self.confirmed_counter = 0
        self.values = {}          # key -> the value this bystander last SET (believed)
        self.confirmed = {}       # key -> value, once Redis answered OK to that SET
        self.recent = []
        self.sequence = 0
        self.requests = 0
        self.failure = None

    def next_command(self):
        roll = self.rng.random()
        if roll < 0.4 or not self.recent:
            self.sequence += 1
            key = "bystander:%d:%s:%d" % (self.index, self.tag, self.sequence)
            # Unique, tagged with its owner, and of varying length, so a reply of another client,
            # or a reply cut or shifted by a few bytes, never passes for this one.
            value = b"v:%d:%d:" % (self.index, self.sequence) + self.rng.randbytes(self.rng.randint(0, 96)).hex().encode()
            self.values[key] = value
            self.recent = (self.recent + [key])[-64:]
            return ("SET", key, value), OK, key
        if roll < 0.8:
            key = self.rng.choice(self.recent)
            return ("GET", key), self.values[key], None
        self.counter += 1
        return ("INCR", self.counter_key), self.counter, None

    def run(self):
        deadline = time.monotonic() + MAX_LOAD_SECONDS
        try:
            client = harness.RespClient(self.port, timeout=BYSTANDER_TIMEOUT)
        except OSError as error:
            self.failure = "bystander %d could not connect: %r" % (self.index, error)
            return
        with client:
            while not self.stop.is_set() and time.monotonic() < deadline and self.requests < MAX_REQUESTS:
                batch = [self.next_command() for _ in range(self.rng.randint(1, MAX_DEPTH))]
                try:
                    client.send_raw(b"".join(command(*args) for args, _, _ in batch))
                except OSError as error:
                    self.failure = "bystander %d, sending request #%d: %r" % (self.index, self.requests + 1, error)
                    return
                for position, (args, expected, set_key) in enumerate(batch):
                    try:
                        got = client.read()
                    except (OSError, EOFError, ValueError) as error:  # timeout, close, garbage
                        got = error
                    self.requests += 1
                    # Types too: b"1" is not 1, True is not 1, an error is not "OK".
                    if type(got) is not type(expected) or got != expected:
                        self.failure = ("bystander %d, request #%d (%s, #%d of a pipeline of %d): expected %s, got %s"
                                        % (self.index, self.requests, show(args), position + 1, len(batch),
                                           show(expected), show(got)))
                        return
                    if set_key is not None:
                        self.confirmed[set_key] = args[2]
                    elif args[0] == "INCR":
                        self.confirmed_counter = expected


def show(value, limit=160):
    """A short readable form of a command, reply or exception, naming whose value it is."""
    if isinstance(value, tuple):
        text = " ".join(a.decode("latin-1") if isinstance(a, bytes) else str(a) for a in value)
    elif isinstance(value, BaseException) and not isinstance(value, RespError):
        text = "%s: %s" % (type(value).__name__, value)
    else:
        text = repr(value)
        if isinstance(value, bytes) and value.startswith(b"v:"):
            text += " (bystander %s's value)" % value.split(b":")[1].decode("latin-1")
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


class BystanderLoad:
    """Four bystanders pipelining at once, from start() to stop()."""

    def __init__(self, port, tag):
        self.stop_event = threading.Event()
        self.bystanders = [Bystander(i, port, tag, self.stop_event) for i in range(BYSTANDERS)]
        self.started = None

    def start(self):
        self.started = time.monotonic()
        for bystander in self.bystanders:
            bystander.start()
        return self

    def stop(self):
        self.stop_event.set()
        for bystander in self.bystanders:
            bystander.join(MAX_LOAD_SECONDS + 2 * BYSTANDER_TIMEOUT)
        self.seconds = time.monotonic() - self.started

    def failures(self):
        problems = [b.failure for b in self.bystanders if b.failure]
        problems += ["bystander %d is still running" % b.index for b in self.bystanders if b.is_alive()]
        problems += ["bystander %d made no request at all" % b.index for b in self.bystanders
                     if b.requests == 0 and not b.failure]
        return problems

    def requests(self):
        return [b.requests for b in self.bystanders]

    def check_database_0(self, redis_port):
        """Bystanders' keys and counters, read straight from Redis in database 0 (where a client
        that never SELECTed writes): a SELECT applied to a shared connection would move them."""
        problems = []
        with harness.RespClient(redis_port, timeout=BYSTANDER_TIMEOUT) as direct:
            for b in self.bystanders:
                if b.failure:
                    continue  # its last writes are uncertain, and it failed already
                keys = random.Random(b.index).sample(sorted(b.confirmed), min(100, len(b.confirmed)))
                expected = [b.confirmed[k] for k in keys]
                commands = [("GET", k) for k in keys]
                if b.confirmed_counter:
                    commands.append(("GET", b.counter_key))
                    expected.append(str(b.confirmed_counter).encode())
                direct.send_raw(b"".join(command(*c) for c in commands))
                replies = [direct.read() for _ in commands]
                for c, want, got in zip(commands, expected, replies):
                    if got != want:
                        problems.append("bystander %d's %s, read from Redis's database 0: expected %s, got %s"
                                        % (b.index, c[1], show(want), show(got)))
                        break
        return problems


# ----------------------------------------------------------------------------------------------
# Hostile, bad or unusual clients: one small function each. `h` is a Hostile (below).


def unsubscribe_from_nothing(h):
    # Redis answers once PER CHANNEL: three replies to one command. Forwarded on a shared
    # connection as one request, the two extra replies would answer the next bystanders.
    # Whether a bystander's request is queued behind the extra replies is a matter of timing: many rounds.
    for _ in h.rounds(15, gap=0.05):
        with h.client() as c:
            c.send_raw(command("UNSUBSCRIBE", "foo", "bar", "quux") + command("PUNSUBSCRIBE", "a", "b", "c")
                       + command("SUNSUBSCRIBE", "a", "b") + command("PING"))
            h.note(h.replies(c, 9, timeout=QUICK))


def subscribe_then_vanish(h):
    # Messages keep coming on the subscriber's connection whether or not it reads them.
    subscribe_publish_vanish(h, command("SUBSCRIBE", "a", "b", "c"))


def subscribe_publish_vanish(h, subscribe):
    for _ in h.rounds(8, gap=0.05):
        sock = h.raw()
        sock.sendall(subscribe)
        for _ in range(3):  # messages in bursts, so that some find bystanders' requests waiting
            time.sleep(0.02)
            h.publish(["a", "b", "c"], 50)
        sock.close()


def inline_unsubscribe(h):
    # The same commands as telnet sends them: plain text, one line each.
    for _ in h.rounds(15, gap=0.05):
        with h.client() as c:
            c.send_raw(b"UNSUBSCRIBE foo bar quux\r\nPUNSUBSCRIBE a b c\r\nSUNSUBSCRIBE a b\r\nPING\r\n")
            h.note(h.replies(c, 9, timeout=QUICK))


def inline_multi(h):
    # An inline MULTI must pin like an array one: on a shared connection, every bystander's
    # command after it would be answered QUEUED.
    for n in h.rounds(5):
        with h.client() as c:
            c.send_raw(b"MULTI\r\nSET hostile:inline %d\r\nINCR hostile:inline\r\nEXEC\r\n" % n)
            h.note(h.replies(c, 4, timeout=QUICK))
    # ... and a MULTI that is never executed: the client vanishes inside the transaction.
    sock = h.raw()
    sock.sendall(b"MULTI\r\nSET hostile:inline never\r\n")
    time.sleep(0.1)
    sock.close()


def inline_subscribe_then_vanish(h):
    subscribe_publish_vanish(h, b"SUBSCRIBE a b c\r\n")


def inline_select(h):
    # An inline SELECT must pin like an array one: applied to a shared connection, it would move
    # the bystanders' keys to database 5 (their own GETs would still agree; check_database_0 sees it).
    for _ in h.rounds(5):
        with h.client() as c:
            c.send_raw(b"SELECT 5\r\nSET hostile:inline-db5 five\r\nGET hostile:inline-db5\r\n")
            h.note(h.replies(c, 3, timeout=QUICK))
    h.assert_only_in_db5("hostile:inline-db5")


def client_reply_off_and_skip(h):
    # With CLIENT REPLY OFF/SKIP Redis answers nothing: on a shared connection, the bystanders'
    # replies would be swallowed or handed to the wrong request.
    for n in h.rounds(5):
        with h.client() as c:
            c.send_raw(command("CLIENT", "REPLY", "OFF") + command("SET", "hostile:reply", n)
                       + command("INCR", "hostile:reply") + command("CLIENT", "REPLY", "ON")
                       + command("GET", "hostile:reply") + command("CLIENT", "REPLY", "SKIP")
                       + command("SET", "hostile:reply", "skipped") + command("GET", "hostile:reply"))
            h.note(h.replies(c, 3, timeout=QUICK))  # Redis: OK, b"n+1", b"skipped"


def command_docs(h):
    # Redis's biggest, most deeply nested replies, on a shared connection: ten times each.
    with h.client(timeout=10 * harness.SLOWDOWN) as c:
        for _ in range(10):
            for args in (("COMMAND", "DOCS"), ("COMMAND",)):
                c.send(*args)
                reply = h.replies(c, 1, timeout=10 * harness.SLOWDOWN)[0]
                h.note("%s: %s" % (" ".join(args), "%d entries" % len(reply) if isinstance(reply, list) else show(reply)))


def http_request(h):
    # Redis closes a connection that sends POST or Host: (a cross-protocol attack). Through rpcgate
    # only this client may be closed: forwarded onto a shared connection, it would take every
    # bystander's pending request with it.
    for _ in h.rounds(5):
        sock = h.raw()
        harness.send_ignoring_reset(sock, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        closed, data = harness.wait_closed(sock, QUICK)
        sock.close()
        h.note("closed=%s %s" % (closed, show(data)))
    log = h.redis_log()
    assert "SECURITY ATTACK" not in log, "the HTTP request reached Redis: %s" % [
        line for line in log.splitlines() if "SECURITY ATTACK" in line][:1]


def malformed_frames(h):
    # Protocol errors close the client, as Redis does; none of it may reach a shared connection.
    for data in (b"*abc\r\n", b"*1\r\n$abc\r\n", b'SET "a b\r\n', b"x" * (70 * 1024)):
        sock = h.raw()
        harness.send_ignoring_reset(sock, data)
        closed, answer = harness.wait_closed(sock, HOSTILE_TIMEOUT)
        sock.close()
        h.note("%s -> closed=%s %s" % (show(data[:12]), closed, show(answer)))
        time.sleep(0.1)
    # A negative count is an empty command to Redis: ignored, and the next one answered.
    with h.client() as c:
        c.send_raw(b"*-10\r\n" + command("PING"))
        h.note("*-10 PING -> %s" % h.replies(c, 1))


def huge_value(h):
    # 8 MB through a shared connection, in and out three times: the bystanders' replies queued
    # behind it must come whole and in order.
    value = random.Random(8).randbytes(BIG // 2).hex().encode()
    with h.client(timeout=20 * harness.SLOWDOWN) as c:
        h.note("SET: %s" % show(c.call("SET", "hostile:big", value)))
        for _ in range(3):
            c.send("GET", "hostile:big")
            reply = h.replies(c, 1, timeout=20 * harness.SLOWDOWN)[0]
            h.note("GET: %s" % ("the 8 MB value" if reply == value else show(reply)))


def vanish_mid_huge_reply(h):
    # The rest of an 8 MB reply has nobody to go to; the shared connection must carry on.
    h.direct("SET", "hostile:big2", b"z" * BIG)
    for _ in h.rounds(5):
        sock = h.raw()
        sock.sendall(command("GET", "hostile:big2"))
        h.note("read %d bytes, then vanished" % len(sock.recv(16)))
        sock.close()


def debug_sleep(h):
    # DEBUG SLEEP blocks all of Redis: bystanders wait 0.2 s, but get no error and no wrong value.
    with h.client() as c:
        for _ in range(2):
            h.note(show(c.call("DEBUG", "SLEEP", "0.2")))
            time.sleep(0.2)


def sync_then_vanish(h):
    # SYNC makes a connection a replica: Redis then streams an RDB and the replication stream down
    # it, and answers nothing else. A shared connection must never become one.
    replica_then_vanish(h, command("SYNC"))


def psync_then_vanish(h):
    replica_then_vanish(h, command("PSYNC", "?", "-1"))


def replica_then_vanish(h, request):
    # Redis refuses SYNC on a connection with replies pending, so under load it takes a few tries.
    for _ in h.rounds(10):
        sock = h.raw()
        sock.sendall(request)
        sock.settimeout(0.1)
        try:
            h.note("got %s" % show(sock.recv(64)))
        except socket.timeout:
            h.note("nothing within 0.1 s")
        sock.close()


def monitor_then_vanish(h):
    for _ in h.rounds(5):
        sock = h.raw()
        sock.sendall(command("MONITOR"))
        time.sleep(0.1)  # some bystander commands are monitored meanwhile, and never read
        sock.close()


def quit_in_a_pipeline(h):
    # Redis answers QUIT and closes: the commands after it are never run.
    for n in h.rounds(5):
        with h.client() as c:
            c.send_raw(command("SET", "hostile:quit", "before") + command("QUIT")
                       + command("SET", "hostile:quit", "after %d" % n) + command("GET", "hostile:quit"))
            h.note(h.replies(c, 4, timeout=QUICK))
    h.note("hostile:quit in Redis: %s" % show(h.direct("GET", "hostile:quit")))


def reset(h):
    # RESET ends a transaction and a SELECT and leaves the connection as new.
    for _ in h.rounds(5):
        with h.client() as c:
            c.send_raw(command("SET", "hostile:reset", "1") + command("SELECT", "5") + command("MULTI")
                       + command("SET", "hostile:reset", "2") + command("RESET") + command("GET", "hostile:reset"))
            h.note(h.replies(c, 6, timeout=QUICK))  # Redis: OK OK OK QUEUED RESET b"1"


def hello_3_then_2(h):
    for _ in h.rounds(5):
        with h.client() as c:
            c.send_raw(command("HELLO", "3") + command("SET", "hostile:hello", "v") + command("GET", "hostile:hello")
                       + command("HELLO", "2") + command("GET", "hostile:hello"))
            replies = h.replies(c, 5, timeout=QUICK)
            h.note([r if not isinstance(r, dict) else "HELLO map" for r in replies])


def select_5(h):
    for n in h.rounds(5):
        with h.client() as c:
            c.send_raw(command("SELECT", "5") + command("SET", "hostile:db5", "five %d" % n)
                       + command("GET", "hostile:db5"))
            h.note(h.replies(c, 3, timeout=QUICK))
    h.assert_only_in_db5("hostile:db5")


def ten_thousand_gets_never_read(h):
    # 10,000 pipelined GETs of a 1 KiB value, never read: the gateway must stop reading this
    # client, not stop reading the shared connection that also carries the bystanders' replies.
    h.direct("SET", "hostile:unread", b"u" * 1024)
    sock = h.raw()
    sock.settimeout(HOSTILE_TIMEOUT)
    try:
        sock.sendall(command("GET", "hostile:unread") * 10_000)
        h.note("all 10,000 sent")
    except socket.timeout:
        h.note("the gateway stopped reading before all 10,000 were sent")
    time.sleep(1.0)  # bystanders go on meanwhile
    sock.close()


SCENARIOS = [
    unsubscribe_from_nothing, subscribe_then_vanish,
    inline_unsubscribe, inline_multi, inline_subscribe_then_vanish, inline_select,
    client_reply_off_and_skip, command_docs, http_request, malformed_frames,
    huge_value, vanish_mid_huge_reply, debug_sleep,
    sync_then_vanish, psync_then_vanish, monitor_then_vanish,
    quit_in_a_pipeline, reset, hello_3_then_2, select_5, ten_thousand_gets_never_read,
]


class Hostile:
    """What a scenario's client may use: connections to the gateway, a direct line to Redis for
    setting the scene and checking it, and notes (what the hostile client got, for the report)."""

    def __init__(self, port, redis):
        self.port, self.redis = port, redis
        self.notes = []
        self.started = time.monotonic()

    def rounds(self, count, gap=ROUND_GAP):
        """0..count-1, a pause between each: most failures are a matter of timing, so a hostile
        action is repeated across the load. No new round once HOSTILE_BUDGET is spent."""
        for n in range(count):
            if n and time.monotonic() - self.started > HOSTILE_BUDGET:
                return
            if n:
                time.sleep(gap)
            yield n

    def client(self, timeout=HOSTILE_TIMEOUT):
        return harness.RespClient(self.port, timeout=timeout)

    def raw(self):
        return harness.connect(self.port, HOSTILE_TIMEOUT)

    def note(self, what):
        self.notes.append(what if isinstance(what, str) else show(what, 300))

    @staticmethod
    def replies(client, count, timeout=HOSTILE_TIMEOUT):
        """Up to `count` replies, those that come within `timeout`; a timeout or close ends the list."""
        got, deadline = [], time.monotonic() + timeout
        for _ in range(count):
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise socket.timeout()
                got.append(client.read(timeout=left))
            except socket.timeout:
                got.append("<no reply within %.1f s>" % timeout)
                break
            except (OSError, EOFError, ValueError) as error:
                got.append("<%s>" % type(error).__name__)
                break
        return got

    def direct(self, *args, db=0):
        with harness.RespClient(self.redis.port) as c:
            if db:
                c.call("SELECT", db)
            return c.call(*args)

    def publish(self, channels, count):
        with harness.RespClient(self.redis.port) as c:
            payload = b"m" * 1024
            c.send_raw(b"".join(command("PUBLISH", channels[n % len(channels)], payload) for n in range(count)))
            for _ in range(count):
                c.read()

    def redis_log(self):
        with open(os.path.join(self.redis.dir.name, "redis.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def assert_only_in_db5(self, key):
        in_db0, in_db5 = self.direct("EXISTS", key), self.direct("EXISTS", key, db=5)
        assert (in_db0, in_db5) == (0, 1), "%s: EXISTS in database 0 = %s, in database 5 = %s" % (key, in_db0, in_db5)


# ----------------------------------------------------------------------------------------------


class RedisIsolationTest(harness.GatewayTestCase):
    report = []  # one line per scenario, printed at the end

    @classmethod
    def setUpClass(cls):
        # DEBUG is refused by Redis 7 unless enabled; the test wants Redis to actually sleep.
        cls.redis = harness.RedisServer("--enable-debug-command", "yes").start()
        cls.start()

    @classmethod
    def start(cls):
        cls.gw = harness.Gateway(
            [{"name": "resp", "codec": "resp"}], handlers=[], log_level="info",
            # One worker: every client on the same worker, so they share its upstream connections.
            process={"model": "prefork", "workers": 1},
            extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: cache, timeout: 2s}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d],"
                       " max_connections: 2, pipeline_depth: 256, request_timeout: 2s,"
                       " outlier: {consecutive_failures: 5, base_ejection: 1s, max_ejection: 30s}}\n"
                       % cls.redis.port).start()
        cls.gateways = (cls.gw,)

    @classmethod
    def restart(cls):
        try:
            cls.gw.__exit__(None, None, None)
        finally:
            cls.start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.redis.stop()
            print("\n  %-30s %9s  %-31s %6s  %s" % ("scenario", "requests", "per bystander", "load", "verdict"), file=sys.stderr)
            for line in cls.report:
                print("  " + line, file=sys.stderr)

    def run_scenario(self, hostile):
        """Runs `hostile` while the bystanders pipeline; returns the list of problems (empty: passed)."""
        port = self.gw.port("resp")
        log_start = len(self.gw.log_text())
        h = Hostile(port, self.redis)
        load = BystanderLoad(port, "%s.%d" % (hostile.__name__, next(RUNS))).start()
        problems = []
        try:
            time.sleep(WARMUP)
            try:
                hostile(h)
            except AssertionError as error:  # an isolation check of the scenario itself
                problems.append(str(error))
            except (OSError, EOFError, ValueError) as error:  # the hostile client's own trouble
                h.note("hostile client: %s" % show(error))
            time.sleep(max(SETTLE, LOAD_SECONDS - (time.monotonic() - load.started)))
        finally:
            load.stop()
        problems += load.failures()
        problems += load.check_database_0(self.redis.port)
        if self.redis.proc.poll() is not None:
            problems.append("redis-server exited with status %s" % self.redis.proc.returncode)
        if not self.gw.alive():
            problems.append("rpcgate exited with status %s" % self.gw.proc.poll())
        else:
            try:
                with harness.RespClient(port) as fresh:
                    pong = fresh.call("PING")
                if type(pong) is not RespStatus or pong != "PONG":
                    problems.append("a new client's PING got %s" % show(pong))
            except (OSError, EOFError, ValueError) as error:
                problems.append("a new client's PING: %s" % show(error))
        self.report.append("%-30s %9d  %-31s %5.1fs  %s" % (
            hostile.__name__, sum(load.requests()), "/".join(map(str, load.requests())), load.seconds,
            "ok" if not problems else "FAILED"))
        if problems:
            problems.append("hostile client got: %s" % " | ".join(h.notes)[:1500])
            log = self.gw.log_text()[log_start:].splitlines()
            problems.append("rpcgate log meanwhile (last 15 lines):\n" + "\n".join(log[-15:]))
        return problems

    def test_one_hostile_client_changes_nothing_for_the_others(self):
        for hostile in SCENARIOS:
            with self.subTest(hostile.__name__):
                problems = self.run_scenario(hostile)
                if problems:
                    self.restart()  # so that the next scenario's verdict is its own
                    self.fail("\n".join(problems))


if __name__ == "__main__":
    harness.main()
