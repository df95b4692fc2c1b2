#!/usr/bin/python3
"""An asyncio reproduction of the legacy JSON length-prefixed RPC services, used as an upstream by
the gateway's integration tests. It can reproduce the legacy services' known bugs and habits, one
flag each.

    legacy_upstream.py --port P [--host 127.0.0.1] [--name NAME] [--byte-order little|big]
                       [--backlog N] [--max-frame BYTES] [--close-on-1024] [--split-sensitive]
                       [--mode normal|garbage|stall] [--reply-split | --no-reply-split]
                       [--bind-retry SECONDS] [--log-requests]
                       [--zookeeper HOSTS [--zk-path PATH] [--zk-session-timeout SECONDS]]

Protocol (as bench/legacy_server.py): a 4-byte length (struct "<I", or ">I" with
--byte-order big), then that many bytes of UTF-8 JSON {"in": method, "params": ...}. The answer is
framed the same way: {"out": kind, "result": ...}. Keys other than "in" and "params" are ignored.

  ping    -> {"out": "pong", "result": params}
  pi      -> {"out": "pi_r", "result": compute_pi(n)}; n an int from 0 to 10_000_000. It is computed
             in a daemon thread, so other connections are still served meanwhile.
  whoami  -> {"out": "whoami_r", "result": NAME}, to show which instance answered
  sleep   -> waits params seconds (int or float, 0 to 30) with asyncio.sleep, then
             {"out": "slept", "result": params}
  hang    -> never answered. The connection stays open, and its input is still read and thrown
             away, so nothing after the hang is answered either. It is closed when the peer closes.

Each connection's frames are handled one at a time, in order, so the answers to pipelined requests
come back in request order. The legacy services have no error frame. On bad input (a body that is
not UTF-8 JSON, not an object, no "in", an unknown method, bad params, or a length prefix over
--max-frame) they close the connection. Every request received before the bad one is answered
first. The same goes for the read faults below (--close-on-1024, --split-sensitive): the answers
owed for frames completed in earlier reads are written, nothing more is read, then the connection
closes. A connection that is half-closed by the peer is closed after its owed answers.

Reads: the server uses asyncio.Protocol through loop.create_server (asyncio.start_server is the
same call with a StreamReader protocol, which merges reads). Python 3.11's selector transport calls
data_received with exactly the bytes of one recv(256 KiB), so a "read" below means one recv. A read
that fills the whole 256 KiB buffer is a multiple of 1024, so --close-on-1024 counts it too.

Flags for the legacy behaviours:
  --backlog N        listen backlog (default 1, as the legacy services)
  --close-on-1024    close when a single read returns a multiple of 1024 bytes (a real legacy bug)
  --split-sensitive  the blocking services do one recv(4) and one recv(length). So a read must not
                     end inside a length prefix, and a frame's body must be complete by the end of
                     the read after the one that completed its prefix. Otherwise the connection
                     closes.
  --mode garbage     answer each frame with a framed body that is not JSON (`not json at all`)
  --mode stall       read everything and answer nothing. The connection closes when the peer
                     closes it, or at once on a read fault or an oversized prefix.
  --reply-split      (default) the prefix and the body go out as two writes, as the legacy servers
                     do. --no-reply-split sends them in one write.
  --log-requests     log the method of each request received, so tests can count what arrived
Nagle stays on. asyncio sets TCP_NODELAY on every TCP transport, so this server clears it again.

ZooKeeper self-registration, as the legacy services do it (python3-kazoo, imported only when used):
  --zookeeper HOSTS  once listening, connect to ZooKeeper (a kazoo hosts string: 127.0.0.1:2181,...)
                     and create one EPHEMERAL SEQUENTIAL node PATH/rpc (/demo/rpc0000000000 and so on)
                     whose data is the JSON {"host": "127.0.0.1", "port": PORT}. The parent path is
                     created if missing. The node's path is logged. If ZooKeeper cannot be reached
                     within 5 s, the server exits with status 1 and no READY line. Nothing is
                     registered again if the session expires later (a ZooKeeper outage longer than
                     the session timeout, counting kazoo's growing reconnect delays).
  --zk-path PATH     the parent node (default /demo)
  --zk-session-timeout SECONDS
                     the session timeout asked for (default 4). ZooKeeper bounds it to 2 to 20 ticks.
                     After a SIGKILL the node goes when the session expires.

Once it listens it prints one line, `READY <port>`, to stdout. It logs each connection's open and
close, with the reason, to stderr. SIGTERM (or SIGINT) exits with status 0 at once, dropping open
connections. With --zookeeper it first closes the ZooKeeper session, so the node goes at once
(waiting at most 1 s for that, so a ZooKeeper that is down does not hold the exit). If the port is
still taken (a restart), the bind is retried for --bind-retry seconds (default 5). SO_REUSEADDR is
set, as asyncio always does on Unix.
"""

import argparse
import asyncio
import collections
import errno
import itertools
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

# The one legacy pi estimate, shared with the reference server, so both agree bit for bit.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from legacy_server import compute_pi  # noqa: E402

LOOPBACK = "127.0.0.1"
PI_MAX_N = 10_000_000
SLEEP_MAX = 30.0
QUEUE_HIGH, QUEUE_LOW = 1024, 256   # frames waiting on one connection: pause / resume reading
GARBAGE = b"not json at all"
ZK_CONNECT_TIMEOUT = 5.0    # seconds to reach ZooKeeper at start
ZK_STOP_TIMEOUT = 1.0       # seconds to close the session at exit


def log(text):
    print("%s legacy_upstream[%s]: %s" % (time.strftime("%H:%M:%S"), ARGS.name, text), file=sys.stderr, flush=True)


class BadInput(Exception):
    pass


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_in_daemon_thread(function, *args):
    """A future for function(*args) run in a daemon thread (it never delays the exit on SIGTERM)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error):
        if not future.done():
            future.set_exception(error) if error else future.set_result(result)

    def work():
        try:
            result, error = function(*args), None
        except Exception as exc:  # noqa: BLE001 - handed back to the loop
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is gone: we are exiting
            pass

    threading.Thread(target=work, daemon=True).start()
    return future


class Hang(Exception):
    pass


async def answer(request):
    """The reply object for one parsed request; raises BadInput or Hang."""
    if not isinstance(request, dict) or "in" not in request:
        raise BadInput("request is not an object with \"in\"")
    method, params = request["in"], request.get("params")
    if ARGS.log_requests:
        log("request %.60r" % (method,))
    if method == "ping":
        return {"out": "pong", "result": params}
    if method == "pi":
        if not isinstance(params, int) or isinstance(params, bool) or not 0 <= params <= PI_MAX_N:
            raise BadInput("pi params %.40r: not an int from 0 to %d" % (params, PI_MAX_N))
        return {"out": "pi_r", "result": await run_in_daemon_thread(compute_pi, params)}
    if method == "whoami":
        return {"out": "whoami_r", "result": ARGS.name}
    if method == "sleep":
        if not _number(params) or not 0 <= params <= SLEEP_MAX:
            raise BadInput("sleep params %.40r: not a number from 0 to %g" % (params, SLEEP_MAX))
        await asyncio.sleep(params)
        return {"out": "slept", "result": params}
    if method == "hang":
        raise Hang()
    raise BadInput("unknown method %.40r" % (method,))


class Close:
    """Queued after the frames already received: close once they are answered."""

    def __init__(self, reason):
        self.reason = reason


class LegacyConnection(asyncio.Protocol):
    ids = itertools.count(1)
    live = set()

    def __init__(self):
        self.id = next(self.ids)
        self.transport = None
        self.buffer = bytearray()
        self.body_reads = 0        # --split-sensitive: reads since the current frame's prefix was whole
        self.queue = collections.deque()
        self.wakeup = asyncio.Event()
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.reading_paused = False
        self.closing = False       # a Close is queued: read and drop everything else
        self.hung = False
        self.reason = None         # why we closed, logged once
        self.task = None

    # -- transport callbacks

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # undo asyncio: Nagle stays on
        self.live.add(self)
        peer = transport.get_extra_info("peername")
        log("conn %d open from %s:%d" % (self.id, peer[0], peer[1]))
        self.task = asyncio.get_running_loop().create_task(self.process())

    def data_received(self, data):
        if self.closing or self.hung:
            return
        if ARGS.close_on_1024 and len(data) % 1024 == 0:
            return self.fault("a single read returned %d bytes, a multiple of 1024 (--close-on-1024)" % len(data))
        self.buffer += data
        while len(self.buffer) >= 4:
            (length,) = struct.unpack(PREFIX, self.buffer[:4])
            if length > ARGS.max_frame:
                return self.fault("length prefix %d > --max-frame %d" % (length, ARGS.max_frame))
            if len(self.buffer) < 4 + length:
                break
            body = bytes(self.buffer[4:4 + length])
            del self.buffer[:4 + length]
            self.body_reads = 0
            if ARGS.mode != "stall":
                self.push(body)
        if ARGS.split_sensitive and self.buffer:
            if len(self.buffer) < 4:
                return self.fault("a read ended inside a length prefix (%d of 4 bytes) (--split-sensitive)"
                                  % len(self.buffer))
            self.body_reads += 1
            if self.body_reads > 1:
                return self.fault("a body was not complete in the one read after its prefix (--split-sensitive)")
        if len(self.queue) >= QUEUE_HIGH and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self):
        if self.hung:
            self.finish("peer closed (after a hang)")
            return False
        if self.closing:
            return True  # a Close is queued already: the owed answers still go out first
        partial = " (%d bytes of an incomplete frame dropped)" % len(self.buffer) if self.buffer else ""
        self.fault("peer closed" + partial)
        return True  # keep our side open to write the answers still owed

    def connection_lost(self, exc):
        self.live.discard(self)
        if self.reason is None:
            self.reason = "connection lost: %s" % (exc or "peer closed")
            log("conn %d closed: %s" % (self.id, self.reason))
        self.can_write.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def pause_writing(self):
        self.can_write.clear()

    def resume_writing(self):
        self.can_write.set()

    # -- our side

    def push(self, item):
        self.queue.append(item)
        self.wakeup.set()

    def fault(self, reason):
        """Stop taking frames; close after the answers owed for the frames already taken."""
        if self.closing:
            return
        self.closing = True
        self.buffer.clear()
        self.push(Close(reason))

    def finish(self, reason):
        if self.reason is None:
            self.reason = reason
            log("conn %d closed: %s" % (self.id, reason))
        if not self.transport.is_closing():
            self.transport.close()  # flushes what is written, then closes

    def abort(self, reason):
        if self.reason is None:
            self.reason = reason
            log("conn %d closed: %s" % (self.id, reason))
        self.transport.abort()

    async def write_frame(self, body):
        prefix = struct.pack(PREFIX, len(body))
        if ARGS.reply_split:
            self.transport.write(prefix)  # two send() calls, as the legacy sendall(prefix); sendall(body)
            self.transport.write(body)
        else:
            self.transport.write(prefix + body)
        await self.can_write.wait()

    async def process(self):
        while True:
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            item = self.queue.popleft()
            if self.reading_paused and len(self.queue) <= QUEUE_LOW and not self.closing:
                self.reading_paused = False
                self.transport.resume_reading()
            if isinstance(item, Close):
                return self.finish(item.reason)
            if self.transport.is_closing():
                return
            if ARGS.mode == "garbage":
                await self.write_frame(GARBAGE)
                continue
            try:
                request = json.loads(item.decode("utf-8"))
                reply = await answer(request)
            except Hang:
                self.hung = True
                self.queue.clear()
                self.buffer.clear()
                if self.reading_paused:
                    self.reading_paused = False
                    self.transport.resume_reading()
                log("conn %d hangs (\"hang\"): no more answers, input is read and dropped" % self.id)
                return
            except (UnicodeDecodeError, ValueError) as error:
                return self.finish("bad input: not UTF-8 JSON (%s)" % str(error)[:80])
            except BadInput as error:
                return self.finish("bad input: %s" % error)
            except (TypeError, RecursionError) as error:  # e.g. an unhashable "in"
                return self.finish("bad input: %s" % str(error)[:80])
            await self.write_frame(json.dumps(reply).encode())


async def listen():
    """The server, retrying a bind that fails with EADDRINUSE for --bind-retry seconds."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + ARGS.bind_retry
    while True:
        try:
            return await loop.create_server(LegacyConnection, ARGS.host, ARGS.port, backlog=ARGS.backlog,
                                            reuse_address=True)
        except OSError as error:
            if error.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.05)


def zk_register(port):
    """Blocking (kazoo is): connects, creates the node; returns (client, node path)."""
    import logging
    from kazoo.client import KazooClient
    # kazoo's own warnings (connection lost, reconnecting) go to stderr as our lines do
    logging.basicConfig(format="%%(asctime)s legacy_upstream[%s] kazoo: %%(message)s" % ARGS.name,
                        datefmt="%H:%M:%S", level=logging.WARNING)
    client = KazooClient(hosts=ARGS.zookeeper, timeout=ARGS.zk_session_timeout)
    client.start(timeout=ZK_CONNECT_TIMEOUT)
    client.ensure_path(ARGS.zk_path)
    data = json.dumps({"host": ARGS.host, "port": port}).encode()
    path = client.create(ARGS.zk_path.rstrip("/") + "/rpc", data, ephemeral=True, sequence=True)
    return client, path


async def zk_unregister(client):
    """Closes the session, so the node goes now rather than a session timeout later."""
    try:
        # In a daemon thread: with ZooKeeper down, kazoo's stop() waits out its reconnect delay.
        await asyncio.wait_for(run_in_daemon_thread(client.stop), ZK_STOP_TIMEOUT)
        log("ZooKeeper session closed")
    except asyncio.TimeoutError:
        log("ZooKeeper session not closed within %g s; its node goes when it expires" % ZK_STOP_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - we are exiting anyway
        log("ZooKeeper session not closed: %r" % error)


async def serve():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await listen()
    except OSError as error:
        log("cannot listen on %s:%d: %s" % (ARGS.host, ARGS.port, error))
        return 1
    port = server.sockets[0].getsockname()[1]
    log("listening on %s:%d (mode %s, %s-endian, backlog %d%s%s%s)"
        % (ARGS.host, port, ARGS.mode, ARGS.byte_order, ARGS.backlog,
           ", close-on-1024" if ARGS.close_on_1024 else "", ", split-sensitive" if ARGS.split_sensitive else "",
           "" if ARGS.reply_split else ", one-write replies"))
    zk = None
    if ARGS.zookeeper:
        try:
            # bounded here too: kazoo's start() can take 10 s more to give up after its timeout
            zk, path = await asyncio.wait_for(run_in_daemon_thread(zk_register, port), ZK_CONNECT_TIMEOUT + 1)
        except Exception as error:  # noqa: BLE001 - any failure means no registration
            log("cannot register in ZooKeeper %s: %r" % (ARGS.zookeeper, error))
            return 1
        log("registered in ZooKeeper as %s (session 0x%x, timeout %g s)"
            % (path, zk.client_id[0], ARGS.zk_session_timeout))
    print("READY %d" % port, flush=True)
    await stop.wait()
    log("stopping on a signal")
    if zk is not None:
        await zk_unregister(zk)
    server.close()
    for conn in list(LegacyConnection.live):
        conn.abort("server stopping")
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free one, see READY)")
    parser.add_argument("--host", default=LOOPBACK, help="must be 127.0.0.1")
    parser.add_argument("--name", default="legacy", help="answered by whoami")
    parser.add_argument("--byte-order", choices=("little", "big"), default="little")
    parser.add_argument("--backlog", type=int, default=1)
    parser.add_argument("--max-frame", type=int, default=16 * 1024 * 1024, help="largest body in bytes")
    parser.add_argument("--close-on-1024", action="store_true")
    parser.add_argument("--split-sensitive", action="store_true")
    parser.add_argument("--mode", choices=("normal", "garbage", "stall"), default="normal")
    parser.add_argument("--reply-split", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--bind-retry", type=float, default=5.0, help="seconds to retry a busy port")
    parser.add_argument("--log-requests", action="store_true",
                        help="log each request's method to stderr, so tests can count what arrived")
    parser.add_argument("--zookeeper", metavar="HOSTS", help="register in this ZooKeeper (kazoo hosts string)")
    parser.add_argument("--zk-path", default="/demo", help="parent of the registration node")
    parser.add_argument("--zk-session-timeout", type=float, default=4.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    if args.host != LOOPBACK:
        parser.error("--host: only %s is allowed" % LOOPBACK)
    if not 0 <= args.port <= 65535:
        parser.error("--port: out of range")
    if args.backlog < 0 or args.max_frame < 0:
        parser.error("--backlog and --max-frame must not be negative")
    if not args.zk_path.startswith("/") or args.zk_session_timeout <= 0:
        parser.error("--zk-path must be absolute and --zk-session-timeout positive")
    return args


def main(argv=None):
    global ARGS, PREFIX
    ARGS = parse_args(argv)
    PREFIX = "<I" if ARGS.byte_order == "little" else ">I"
    return asyncio.run(serve())


ARGS = None
PREFIX = "<I"

if __name__ == "__main__":
    sys.exit(main())
