#!/usr/bin/env python3
"""The legacy Python RPC service as our users deploy it: prefork, with an asyncio event loop in
each worker.

A master binds one listening socket on 127.0.0.1 and forks --workers children. Each child runs
an asyncio event loop that accepts on the shared socket and serves the legacy JSON protocol
exactly as bench/legacy_server.py does. The methods are that file's own ping and pi (the same
functions, imported, not copied):

  frame    a 4-byte length packed with struct.pack("I", n) (native order, little-endian on x86),
           then n bytes of JSON {"in": method, "params": ...}; answers {"out": kind, "result": ...}
           framed the same way, in request order (a client may pipeline)
  ping     {"out": "pong", "result": params}
  pi       {"out": "pi_r", "result": legacy_server.compute_pi(params)}, computed in the event
           loop, as the legacy services do: a long pi blocks its worker, the others keep serving
  errors   an unknown method, bad JSON, bad params, or a length prefix over --max-frame closes the
           connection (the legacy services have no error frame); answers owed for the frames
           before the bad one are written first

The legacy habits are kept by default: each reply goes out as TWO writes (the 4-byte prefix, then
the body) with Nagle on (asyncio sets TCP_NODELAY on every connection; each worker clears it
again). A client that delays its ACKs then waits ~40 ms for the body. --one-write sends each
reply in one write with TCP_NODELAY set instead (the modern habit), for benchmarks that want both.

Once every worker serves, the master prints one line on stdout:

    listening on 127.0.0.1:PORT master=PID workers=PID,PID,...

The master supervises: a worker that exits or is killed is reaped and respawned (after 1 s if it
lived less than 1 s, so a crash loop does not spin), and the respawn is logged on stderr.
SIGTERM or SIGINT stops the workers (SIGTERM, then SIGKILL after 5 s), reaps them and exits 0.
Workers exit on their own when the master dies, even by SIGKILL (they watch a pipe the master
holds open). The master exits 1 if the workers do not all serve within 10 s of the start.

    legacy_prefork_server.py --port 9001 [--workers N] [--one-write] [--max-frame BYTES] [--backlog N]
    legacy_prefork_server.py --port 0   # a free port, printed in the line above
"""

import argparse
import asyncio
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from legacy_server import METHODS  # noqa: E402  (the reference's ping and pi)

PREFIX = struct.Struct("I")  # native order, as the legacy struct.pack("I", n)
DEFAULT_MAX_FRAME = 16 << 20
STOP_GRACE = 5.0        # seconds between SIGTERM and SIGKILL for workers
START_TIMEOUT = 10.0    # seconds for every worker to serve
RESPAWN_DELAY = 1.0     # for a worker that lived less than this long
SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def log(text):
    print("legacy_prefork_server[%d]: %s" % (os.getpid(), text), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the worker

class LegacyProtocol(asyncio.Protocol):
    """One connection: frames are handled in order, one at a time, as they complete."""

    def __init__(self, options, connections):
        self.options = options
        self.connections = connections
        self.transport = None
        self.buffer = bytearray()
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        # asyncio turned Nagle off; the legacy services leave it on.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.options.one_write else 0)
        self.connections.add(transport)

    def connection_lost(self, exc):
        self.connections.discard(self.transport)

    def data_received(self, data):
        if self.closed:
            return
        self.buffer += data
        while len(self.buffer) >= PREFIX.size:
            (length,) = PREFIX.unpack_from(self.buffer)
            if length > self.options.max_frame:
                return self.close()
            end = PREFIX.size + length
            if len(self.buffer) < end:
                return
            body = bytes(self.buffer[PREFIX.size:end])
            del self.buffer[:end]
            try:  # exactly the legacy handler's steps
                request = json.loads(body)
                reply = METHODS[request["in"]](request.get("params"))
                out = json.dumps(reply).encode()
            except Exception:  # unknown method, bad JSON, bad params: the legacy answer is a close
                return self.close()
            if self.options.one_write:
                self.transport.write(PREFIX.pack(len(out)) + out)
            else:
                self.transport.write(PREFIX.pack(len(out)))  # the legacy habit: prefix ...
                self.transport.write(out)                    # ... and body in two writes

    def close(self):
        self.closed = True
        self.buffer = bytearray()
        self.transport.close()  # after what is already written


async def serve(listen_sock, options, life_fd, ready_fd):
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_reader(life_fd, stopping.set)  # EOF: the master is gone
    # Signals were blocked across the fork; one sent meanwhile is delivered now, to the handlers.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    connections = set()
    server = await loop.create_server(lambda: LegacyProtocol(options, connections),
                                      sock=listen_sock, backlog=options.backlog)
    os.write(ready_fd, b"%d\n" % os.getpid())
    os.close(ready_fd)
    await stopping.wait()
    server.close()
    for transport in list(connections):
        transport.abort()


def worker_main(listen_sock, options, life_fd, ready_fd):
    signal.set_wakeup_fd(-1)  # the master's
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    asyncio.run(serve(listen_sock, options, life_fd, ready_fd))
    return 0


# ----------------------------------------------------------------------------- the master

class Master:
    def __init__(self, options):
        self.options = options
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", options.port))
        self.sock.listen(options.backlog)
        self.sock.setblocking(False)  # asyncio in the workers needs it; the master never accepts
        self.port = self.sock.getsockname()[1]
        self.wake_r, self.wake_w = os.pipe()     # signal numbers, from signal.set_wakeup_fd
        self.ready_r, self.ready_w = os.pipe()   # "PID\n" from each worker once it serves
        self.life_r, self.life_w = os.pipe()     # workers see EOF when the master is gone
        for fd in (self.wake_r, self.wake_w, self.ready_r):
            os.set_blocking(fd, False)
        self.workers = {}       # pid -> (slot, started at)
        self.ready = set()      # pids that have said they serve
        self.respawns = []      # (due at, slot)
        self.ready_text = b""

    def spawn(self, slot):
        sys.stdout.flush()
        sys.stderr.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # the child installs its own handlers first
        try:
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    for fd in (self.wake_r, self.ready_r, self.life_w):
                        os.close(fd)
                    status = worker_main(self.sock, self.options, self.life_r, self.ready_w)
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(status)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        self.workers[pid] = (slot, time.monotonic())
        return pid

    def reap(self):
        """Waits for every exited child; returns [(pid, slot, lived seconds, how)]."""
        gone = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            slot, started = self.workers.pop(pid, (None, None))
            self.ready.discard(pid)
            if slot is None:
                continue
            how = ("killed by signal %d" % os.WTERMSIG(status) if os.WIFSIGNALED(status)
                   else "exited with status %d" % os.WEXITSTATUS(status))
            gone.append((pid, slot, time.monotonic() - started, how))
        return gone

    def read_signals(self):
        try:
            return set(os.read(self.wake_r, 4096))
        except BlockingIOError:
            return set()

    def read_ready(self):
        try:
            self.ready_text += os.read(self.ready_r, 4096)
        except BlockingIOError:
            return []
        *lines, self.ready_text = self.ready_text.split(b"\n")
        pids = [int(line) for line in lines if line.strip()]
        self.ready.update(pid for pid in pids if pid in self.workers)
        return pids

    def stop_workers(self):
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        while self.workers and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        for pid in list(self.workers):  # still running after the grace time
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.workers.pop(pid, None)

    def run(self):
        signal.set_wakeup_fd(self.wake_w)
        for sig in SIGNALS:  # the wakeup fd carries the signal; the handler has nothing to do
            signal.signal(sig, lambda *_: None)
        for slot in range(self.options.workers):
            self.spawn(slot)
        start_deadline = time.monotonic() + START_TIMEOUT
        announced = False
        status = 0
        try:
            while True:
                now = time.monotonic()
                timeouts = [due - now for due, _ in self.respawns]
                if not announced:
                    timeouts.append(start_deadline - now)
                timeout = max(0.0, min(timeouts)) if timeouts else None
                select.select([self.wake_r, self.ready_r], [], [], timeout)
                signals = self.read_signals()
                if signals & {signal.SIGTERM, signal.SIGINT}:
                    break
                for pid, slot, lived, how in self.reap():
                    delay = RESPAWN_DELAY if lived < RESPAWN_DELAY else 0.0
                    self.respawns.append((time.monotonic() + delay, slot))
                    log("worker %d %s after %.1f s; respawning%s"
                        % (pid, how, lived, " in %.0f s" % delay if delay else ""))
                for pid in self.read_ready():
                    if announced:
                        log("worker %d serves" % pid)
                due = [item for item in self.respawns if item[0] <= time.monotonic()]
                for item in due:
                    self.respawns.remove(item)
                    self.spawn(item[1])
                if not announced and len(self.workers) == self.options.workers \
                        and set(self.workers) <= self.ready:
                    print("listening on 127.0.0.1:%d master=%d workers=%s"
                          % (self.port, os.getpid(), ",".join(str(p) for p in sorted(self.workers))), flush=True)
                    announced = True
                elif not announced and time.monotonic() >= start_deadline:
                    log("the workers did not all serve within %.0f s" % START_TIMEOUT)
                    status = 1
                    break
        finally:
            self.stop_workers()
            self.sock.close()
        return status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True,
                        help="TCP port on 127.0.0.1; 0 picks a free one (printed once the workers serve)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: os.cpu_count(), here %(default)s)")
    parser.add_argument("--one-write", action="store_true",
                        help="write each reply in one write with TCP_NODELAY set, instead of the legacy "
                             "habit: prefix and body in two writes, Nagle on")
    parser.add_argument("--max-frame", type=int, default=DEFAULT_MAX_FRAME, metavar="BYTES",
                        help="a longer length prefix closes the connection (default 16 MiB)")
    parser.add_argument("--backlog", type=int, default=100, metavar="N",
                        help="listen backlog (default 100, asyncio's own default)")
    options = parser.parse_args(argv)
    if options.workers < 1 or options.max_frame < 0 or options.backlog < 1:
        parser.error("--workers and --backlog must be at least 1, --max-frame at least 0")
    return Master(options).run()


if __name__ == "__main__":
    sys.exit(main())
