"""Runs one session on both sides of a lane, step by step, and compares what each client got.

Per step: the reference side (Redis A, direct) goes first. Its replies are read from every client
until all have been quiet for QUIET seconds, which tells how many whole frames each client got
and whether the server closed it. Then the same step runs through rpcgate: each client is read
until it has as many frames (or the same close), bounded by BOUND seconds, then for one more quiet
period in which nothing else may arrive. Frames are compared byte for byte, then normalised
(normalize.py). The first difference ends the session.
"""

import select
import threading
import time

from normalize import drop_local_monitor_lines, normalize_frames, same_frames
from transcript import clients_of, command_names, parts_of, payload
from wire import Conn

QUIET = 0.025          # the reference side has answered when it has been silent this long
REFERENCE_CAP = 3.0    # ...but a reference step never reads longer than this (+ min_wait)
BOUND = 2.0            # seconds rpcgate gets to match the reference's frame counts
EXTRA_QUIET = 0.03     # after that, rpcgate must stay silent this long
BLOCKED_WAIT = 1.0     # seconds to wait for blocked_clients on the reference side


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = dict(sessions=0, commands=0, bytes_sent=0, bytes_received=0, differences=0)

    def add(self, **deltas):
        with self.lock:
            for key, value in deltas.items():
                self.counts[key] += value


class Side:
    """The connections of one side (reference or gateway) for one session."""

    def __init__(self, name, port, admin, stats):
        self.name, self.port, self.admin, self.stats = name, port, admin, stats
        self.conns = {}
        self.variables = {}   # "id:N" -> client N's id on this side (see transcript.payload)
        self.last_command = {}  # client -> the last command it sent (names a bystander's difference)

    def conn(self, client):
        """The client's connection, opened (again) when it has none or the server closed it."""
        conn = self.conns.get(client)
        if conn is None:
            conn = self.conns[client] = Conn(self.port, self.stats)
        elif conn.closed:
            conn.reopen()
        return conn

    def open_conns(self):
        return [c for c in self.conns.values() if not c.closed]

    def pump_once(self, timeout):
        socks = self.open_conns()
        if not socks:
            time.sleep(timeout)
            return False
        readable, _, _ = select.select(socks, [], [], timeout)
        got = False
        for conn in readable:
            got = conn.pump() or got
        return got

    def close_all(self):
        for conn in self.conns.values():
            conn.close()


class Observation:
    """What each client of one side got during one step."""

    def __init__(self):
        self.frames = {}      # client -> [frame bytes]
        self.closed = {}      # client -> bool, at the end of the step
        self.reset = {}       # client -> bool: closed by a reset, which may swallow the last reply
        self.desync = {}      # client -> str
        self.blocked = None   # for wait_blocked
        self.reference_overran = False

    def take(self, side):
        for client, conn in side.conns.items():
            self.frames.setdefault(client, []).extend(conn.take_frames())
            self.closed[client] = conn.closed
            self.reset[client] = getattr(conn, "reset", False)
            if conn.frames_buf.desync is not None:
                self.desync[client] = "%s (unparsed: %r)" % (conn.frames_buf.desync, conn.frames_buf.rest[:120])


def _send_step(side, step):
    parts = parts_of(step)
    conns = []
    for part in parts:
        conn = side.conn(part["client"])
        names = command_names(part)
        side.last_command[part["client"]] = names[-1] if names != ["RAW"] else "raw input"
        if "rdb" in part.get("mask", ()):
            conn.frames_buf.expect_rdb = True
            conn.is_replica = True
        conns.append(conn)
    if len(parts) == 1:
        conns[0].send(payload(parts[0], side.variables), parts[0].get("cuts", ()))
        return
    # Several clients "at the same moment": their bytes go out interleaved, in small pieces.
    datas = [payload(p, side.variables) for p in parts]
    offsets = [0] * len(parts)
    piece = 7
    while any(offsets[i] < len(datas[i]) for i in range(len(parts))):
        for i, conn in enumerate(conns):
            if offsets[i] < len(datas[i]):
                conn.send(datas[i][offsets[i]:offsets[i] + piece])
                offsets[i] += piece


def _read_reference(side, min_wait):
    """Reads until every client has been quiet for QUIET seconds. A quiet spell alone does not
    prove Redis is done (a fork for SYNC can stall it longer), so a round trip on the admin
    connection follows, which Redis answers only after the loop iteration that read our bytes;
    then one more quiet spell. CONFIG GET is an admin command: MONITOR does not show it."""
    obs = Observation()
    start = time.monotonic()
    for quiet in (QUIET, QUIET / 2):
        last = time.monotonic()
        while True:
            if side.pump_once(0.004):
                last = time.monotonic()
                obs.take(side)   # whole frames out of the buffers: what stays is a partial frame
            now = time.monotonic()
            partial = any(c.has_partial() for c in side.open_conns())
            if now - start >= min_wait and now - last >= quiet and not partial:
                break
            if now - start > REFERENCE_CAP + min_wait:
                obs.reference_overran = True
                break
        if quiet == QUIET:
            side.admin.call("CONFIG", "GET", "maxclients")
    obs.take(side)
    return obs


def _read_gateway(side, expected, min_wait):
    obs = Observation()
    start = time.monotonic()
    deadline = start + min_wait + BOUND

    def satisfied():
        for client, conn in side.conns.items():
            if len(obs.frames.get(client, ())) < len(expected.frames.get(client, ())):
                return False
            if expected.closed.get(client) and not conn.closed:
                return False
        return True

    while time.monotonic() < deadline:
        side.pump_once(0.004)
        obs.take(side)      # frames are moved into obs as they come
        if obs.desync:
            break
        if satisfied() and time.monotonic() - start >= min_wait:
            break
    end = time.monotonic() + EXTRA_QUIET
    while time.monotonic() < end:
        side.pump_once(0.004)
    obs.take(side)
    return obs


def _wait_blocked(admin, count, timeout):
    deadline = time.monotonic() + timeout
    while True:
        blocked = admin.blocked_count()
        if blocked == count or time.monotonic() > deadline:
            return blocked
        time.sleep(0.005)


def _close_step(side, step):
    conn = side.conns.get(step["client"])
    if conn is not None:
        conn.close()


# Commands that answer with one frame per channel named (or one when none is named).
_PER_CHANNEL = ("SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE")
_CONTAINERS = ("CLIENT", "COMMAND", "CONFIG", "OBJECT", "XGROUP", "XINFO", "SCRIPT", "ACL", "PUBSUB",
               "FUNCTION", "MEMORY")


def _command_guess(step, client, index):
    """The command a differing frame most likely answers, found by counting the frames each
    command of the batch owes (one, or one per channel for (UN)SUBSCRIBE): names a difference's
    class. Pushes and CLIENT REPLY OFF make it a guess."""
    for part in parts_of(step):
        if part["client"] != client:
            continue
        names = command_names(part)
        if names == ["RAW"]:
            text = part["raw"].encode("latin-1")
            return "RAW " + repr(text.split(b"\n")[0][:12])
        owed = 0
        chosen = part["cmds"][-1]
        for args in part["cmds"]:
            name = args[0].upper() if args else ""
            owed += max(1, len(args) - 1) if name in _PER_CHANNEL else 1
            if index < owed:
                chosen = args
                break
        name = chosen[0].upper() if chosen else ""
        if name in _CONTAINERS and len(chosen) > 1:
            name += " " + chosen[1].upper()
        return name
    return "(bystander)"


def compare(step, ref, gw, last_command=None, earlier_masks=None):
    """The first difference of one step, as a dict, or None. A bystander's frames are late
    replies to its earlier steps (after a blocked call) or pushes: they are relaxed as those
    steps were (`earlier_masks`, client -> masks)."""
    stepping = set(clients_of(step))
    earlier_masks = earlier_masks or {}
    masks = {c: tuple(earlier_masks.get(c, ())) for c in set(ref.frames) | set(gw.frames)}
    for part in parts_of(step):
        masks[part["client"]] = tuple(part.get("mask", ()))
    if step["kind"] == "wait_blocked":
        if ref.blocked != gw.blocked:
            return dict(kind="blocked", client=None, cmd="(blocked_clients)",
                        redis=["blocked_clients:%s" % ref.blocked], rpcgate=["blocked_clients:%s" % gw.blocked])
        return None
    if step["kind"] == "close":
        return None
    for client in sorted(masks):
        a = drop_local_monitor_lines(ref.frames.get(client, []))
        b = drop_local_monitor_lines(gw.frames.get(client, []))
        role = "" if client in stepping else "bystander "
        if client in gw.desync or client in ref.desync:
            return dict(kind=role + "desync", client=client, cmd=_command_guess(step, client, len(b)),
                        redis=a, rpcgate=b, detail="redis: %s; rpcgate: %s" % (ref.desync.get(client), gw.desync.get(client)))
        if step.get("check") == "count" and len(a) == len(b):
            pass
        elif ref.reset.get(client) and gw.closed.get(client) and a == b[:len(a)] and \
                all(f.startswith(b"-ERR Protocol error") for f in b[len(a):]):
            # Redis closed with the client's input unread, so the kernel reset the connection and
            # may have dropped its protocol error; rpcgate reads that input out first, and its
            # error arrives (docs/redis-compatibility.md, "What still differs").
            pass
        elif not same_frames(a, b, masks[client]):
            na, nb = normalize_frames(a, masks[client]), normalize_frames(b, masks[client])
            index = next((i for i, (x, y) in enumerate(zip(na, nb)) if x != y), min(len(a), len(b)))
            kind = "reply" if len(a) == len(b) else ("missing reply" if len(b) < len(a) else "extra reply")
            cmd = _command_guess(step, client, index)
            if role and last_command:
                cmd = "after its %s" % last_command.get(client, "connect")
            return dict(kind=role + kind, client=client, cmd=cmd, redis=a, rpcgate=b, index=index)
        if ref.closed.get(client, False) != gw.closed.get(client, False):
            kind = "closed" if gw.closed.get(client) else "not closed"
            return dict(kind=role + kind, client=client, cmd=_command_guess(step, client, len(a)),
                        redis=a, rpcgate=b, detail="redis closed: %s, rpcgate closed: %s"
                        % (ref.closed.get(client, False), gw.closed.get(client, False)))
    return None


class SessionRun:
    """The result: `difference` (dict or None), the step it happened at, and per step the
    reference and gateway observations (for the printed transcript)."""

    def __init__(self):
        self.difference = None
        self.log = []          # (step index, step, ref Observation, gw Observation)


def run_session(lane, session, stats):
    ref = Side("redis", lane.reference_port, lane.admin_a, stats)
    gw = Side("rpcgate", lane.gateway_port, lane.admin_b, stats)
    result = SessionRun()
    earlier_masks = {}
    try:
        for side in (ref, gw):
            for client in range(session["clients"]):
                side.conn(client)
        for index, step in enumerate(session["steps"]):
            ref_obs, gw_obs = _run_step(ref, step, None), None
            gw_obs = _run_step(gw, step, ref_obs)
            result.log.append((index, step, ref_obs, gw_obs))
            difference = compare(step, ref_obs, gw_obs, ref.last_command, earlier_masks)
            for part in parts_of(step):
                earlier_masks.setdefault(part["client"], set()).update(part.get("mask", ()))
            if difference is None and not lane.gateway.alive():
                difference = dict(kind="rpcgate exited", client=None, cmd="(process)",
                                  redis=[], rpcgate=[], detail=lane.gateway.log_tail(15))
            if difference is not None:
                difference["step"] = index
                result.difference = difference
                break
    finally:
        ref.close_all()
        gw.close_all()
    stats.add(sessions=1)
    return result


def _run_step(side, step, reference):
    kind = step["kind"]
    if kind in ("send", "parallel"):
        _send_step(side, step)
        min_wait = max([p.get("min_wait", 0) for p in parts_of(step)] + [0])
        if reference is None:
            obs = _read_reference(side, min_wait)
        else:
            obs = _read_gateway(side, reference, min_wait)
        if "capture_id" in step:
            ints = [f for f in obs.frames.get(step["client"], []) if f.startswith(b":")]
            if ints:
                side.variables["id:%d" % step["capture_id"]] = ints[0][1:-2].decode()
        return obs
    obs = Observation()
    if kind == "wait_blocked":
        want = step["count"] if reference is None else reference.blocked
        # Replies that arrive meanwhile stay buffered: the next step reads them.
        obs.blocked = _wait_blocked(side.admin, want, BLOCKED_WAIT if reference is None else BOUND)
    elif kind == "close":
        _close_step(side, step)
    return obs
