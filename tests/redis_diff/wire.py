"""One client connection of the tester: writes cut into chunks, and replies read as whole frames.

Reading is driven from outside (executor.py polls every connection of a side together), so this
class only knows how to take what the socket has now, and whether the peer closed.
"""

import select
import socket
import time

from resp_frames import FrameBuffer

REPLICATION_PING = b"*1\r\n$4\r\nping\r\n"
CHUNK_PAUSE = 0.0015   # seconds between the pieces of a cut write: enough for separate reads


class Conn:
    def __init__(self, port, stats):
        self.port = port
        self.stats = stats
        self.sock = None
        self.frames_buf = None
        self.closed = True
        self.is_replica = False   # sent SYNC/PSYNC: its master's timed PINGs are not compared
        self.open()

    def open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.frames_buf = FrameBuffer()
        self.closed = False
        self.reset = False
        self.is_replica = False

    def reopen(self):
        self.close()
        self.open()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.closed = True

    def fileno(self):
        return self.sock.fileno()

    def send(self, data, cuts=()):
        """Writes `data`, split at the byte offsets `cuts`; a peer that already closed is noted
        (the close is compared later), never an error."""
        bounds = [0] + sorted(c for c in set(cuts) if 0 < c < len(data)) + [len(data)]
        for i in range(len(bounds) - 1):
            if i:
                time.sleep(CHUNK_PAUSE)
            if not self._send_all(data[bounds[i]:bounds[i + 1]]):
                return

    def _send_all(self, piece):
        deadline = time.monotonic() + 5.0
        while piece:
            if self.closed:
                return False
            try:
                n = self.sock.send(piece)
                self.stats.add(bytes_sent=n)
                piece = piece[n:]
            except BlockingIOError:
                # the server does not read (a replica stream, a full pipe): wait, bounded
                if time.monotonic() > deadline:
                    return False
                select.select([], [self.sock], [], 0.05)
            except OSError:       # reset or broken pipe: the peer closed
                self.closed = True
                self.reset = True
                return False
        return True

    def pump(self):
        """Reads what is available now; returns True if any byte (or the close) arrived."""
        if self.closed and self.sock is None:
            return False
        got = False
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except BlockingIOError:
                return got
            except OSError:       # reset: what the peer wrote last may never have come
                self.closed = True
                self.reset = True
                return True
            if not chunk:
                if not self.closed:
                    self.closed = True
                    return True
                return got
            self.stats.add(bytes_received=len(chunk))
            self.frames_buf.feed(chunk)
            got = True

    def take_frames(self):
        frames = self.frames_buf.frames()
        if self.is_replica:
            # the master PINGs its replicas on a timer (repl-ping-replica-period): when one
            # comes is timing, not behaviour
            frames = [f for f in frames if f != REPLICATION_PING]
        return frames

    def has_partial(self):
        return self.frames_buf.pending()
