"""An incremental RESP2 + RESP3 reply framer, and a tree view of one frame.

The tester must notice a desynchronised reply stream even where Redis would have failed too, so
this parser is strict: every type byte Redis can write (+ - : $ * _ , # ! = ( % ~ > |) and nothing
else, lengths as Redis writes them (no sign, no leading zero), CRLF where CRLF belongs.

`FrameBuffer` takes bytes as they arrive and hands out whole frames (bytes). One more mode exists for
replication: after SYNC/PSYNC Redis sends `$<len>\\r\\n` and an RDB file WITHOUT a trailing CRLF
(and, while it prepares the file, bare "\\n" keep-alives); `expect_rdb` makes the next `$` frame be
read that way.
"""

import re

MAX_DEPTH = 512           # deeper than this is a desync for us (Redis's own replies nest < 10)
_LENGTH = re.compile(rb"^(0|[1-9][0-9]*)$")
_SIGNED = re.compile(rb"^-?(0|[1-9][0-9]*)$")
_DOUBLE = re.compile(rb"^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|-?inf|nan)$")

LINE_TYPES = b"+-:_,#("
BULK_TYPES = b"$!="
AGGREGATE_TYPES = b"*%~>|"


class Desync(Exception):
    """The bytes are no valid RESP reply at `offset`."""

    def __init__(self, message, offset):
        super().__init__("%s at byte %d" % (message, offset))
        self.offset = offset


class Incomplete(Exception):
    """More bytes are needed."""


def _line(buf, pos):
    """(line without CRLF, position after CRLF) of the line starting at pos."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        if buf.find(b"\n", pos) >= 0 or buf.find(b"\r", pos, len(buf) - 1) >= 0:
            raise Desync("bare LF or CR inside a line", pos)
        raise Incomplete()
    line = buf[pos:end]
    if b"\n" in line or b"\r" in line:
        raise Desync("bare LF or CR inside a line", pos)
    return line, end + 2


def _length(text, pos, allow_null):
    if allow_null and text == b"-1":
        return -1
    if not _LENGTH.match(text):
        raise Desync("bad length %r" % text[:40], pos)
    return int(text)


def frame_end(buf, pos=0):
    """End position of the one frame starting at `pos`; Incomplete or Desync otherwise.
    Iterative (a stack of values still owed per open aggregate), so a hostile deep nesting cannot
    overflow Python's stack."""
    owed = [1]
    while owed:
        if pos >= len(buf):
            raise Incomplete()
        kind = buf[pos:pos + 1]
        line, after = _line(buf, pos + 1)
        owed[-1] -= 1
        children = 0
        if kind in (b"+", b"-"):
            pass
        elif kind == b":":
            if not _SIGNED.match(line):
                raise Desync("bad integer %r" % line[:40], pos)
        elif kind == b"(":
            if not _SIGNED.match(line):
                raise Desync("bad big number %r" % line[:40], pos)
        elif kind == b"_":
            if line:
                raise Desync("null with a payload", pos)
        elif kind == b",":
            if not _DOUBLE.match(line):
                raise Desync("bad double %r" % line[:40], pos)
        elif kind == b"#":
            if line not in (b"t", b"f"):
                raise Desync("bad boolean %r" % line[:40], pos)
        elif kind in (b"$", b"!", b"="):
            n = _length(line, pos, allow_null=(kind == b"$"))
            if n >= 0:
                if len(buf) < after + n + 2:
                    raise Incomplete()
                if buf[after + n:after + n + 2] != b"\r\n":
                    raise Desync("bulk of %d bytes not followed by CRLF" % n, after + n)
                if kind == b"=" and (n < 4 or buf[after + 3:after + 4] != b":"):
                    raise Desync("verbatim string without its 3-letter format", after)
                after += n + 2
        elif kind in (b"*", b"%", b"~", b">", b"|"):
            n = _length(line, pos, allow_null=(kind == b"*"))
            children = n * 2 if kind in (b"%", b"|") else max(n, 0)
            if kind == b"|":
                children += 1     # the attribute annotates the value that follows it
        else:
            raise Desync("unknown type byte %r" % kind, pos)
        if children:
            owed.append(children)
            if len(owed) > MAX_DEPTH:
                raise Desync("nesting deeper than %d" % MAX_DEPTH, pos)
        pos = after
        while owed and owed[-1] == 0:
            owed.pop()
    return pos


class FrameBuffer:
    """Bytes in, whole frames out. `desync` holds the Desync once the stream went bad; the bytes
    from there on stay in `rest` and no more frames come out."""

    def __init__(self):
        self.buf = b""
        self.desync = None
        self.expect_rdb = False   # the next `$` frame is an RDB transfer (after SYNC/PSYNC)

    def feed(self, data):
        self.buf += data

    @property
    def rest(self):
        return self.buf

    def pending(self):
        return bool(self.buf) and self.desync is None

    def frames(self):
        """Whole frames now available, removed from the buffer."""
        out = []
        while self.buf and self.desync is None:
            try:
                if self.expect_rdb:
                    frame = self._rdb_frame()
                    if frame is None:
                        continue
                else:
                    end = frame_end(self.buf)
                    frame, self.buf = self.buf[:end], self.buf[end:]
            except Incomplete:
                break
            except Desync as error:
                self.desync = error
                break
            out.append(frame)
        return out

    def _rdb_frame(self):
        """One step of the replication preamble: a keep-alive "\\n" (dropped), a `+` line
        (FULLRESYNC/CONTINUE, a normal frame), or `$len\\r\\n` + RDB (a frame of its own)."""
        if self.buf[:1] == b"\n":
            self.buf = self.buf[1:]
            return None
        if self.buf[:1] != b"$":
            end = frame_end(self.buf)
            frame, self.buf = self.buf[:end], self.buf[end:]
            return frame
        line, after = _line(self.buf, 1)
        if line.startswith(b"EOF:"):      # diskless: `$EOF:<40-byte mark>` ... payload ... mark
            mark = line[4:]
            end = self.buf.find(mark, after)
            if end < 0:
                raise Incomplete()
            frame, self.buf = self.buf[:end + len(mark)], self.buf[end + len(mark):]
        else:
            n = _length(line, 0, allow_null=False)
            if len(self.buf) < after + n:
                raise Incomplete()
            frame, self.buf = self.buf[:after + n], self.buf[after + n:]
        self.expect_rdb = False
        return frame


# ------------------------------------------------------------------------------------------------
# A tree view of one frame, for normalising and for printing


class Node:
    """kind: the type byte (as a 1-char str, "rdb" for a replication payload); head: the header
    line as sent; data: the payload of a bulk; children: of an aggregate."""

    __slots__ = ("kind", "head", "data", "children")

    def __init__(self, kind, head, data=None, children=None):
        self.kind, self.head, self.data, self.children = kind, head, data, children

    def text(self):
        """The string a line or bulk carries (None for aggregates and nulls)."""
        if self.kind in "$!=":
            return self.data
        if self.kind in "+-":
            return self.head
        return None


def parse_tree(frame):
    """The Node of one whole frame (as FrameBuffer returned it)."""
    if frame.startswith(b"$") and not frame.endswith(b"\r\n") or frame.startswith(b"$EOF:"):
        head, _, payload = frame[1:].partition(b"\r\n")
        return Node("rdb", head, payload)
    node, end = _parse(frame, 0, 0)
    return node


def _parse(buf, pos, depth):
    kind = chr(buf[pos])
    line, after = _line(buf, pos + 1)
    if kind in "$!=":
        n = int(line)
        if n < 0:
            return Node(kind, line), after
        return Node(kind, line, buf[after:after + n]), after + n + 2
    if kind in "*%~>|":
        n = int(line)
        count = n * 2 if kind in "%|" else max(n, 0)
        if depth > 100:            # framed already, so valid; just too deep to walk usefully
            end = frame_end(buf, pos)
            return Node("opaque", buf[pos:end]), end
        children = []
        for _ in range(count):
            child, after = _parse(buf, after, depth + 1)
            children.append(child)
        if kind == "|":            # the annotated value is part of this frame
            value, after = _parse(buf, after, depth + 1)
            children.append(value)
        return Node(kind, line, children=None if n < 0 else children), after
    return Node(kind, line), after


def encode_tree(node):
    """Bytes of a Node; a bulk whose data changed gets its length recomputed, anything else is
    written with the header it came with (so non-canonical headers stay visible)."""
    if node.kind == "opaque":
        return node.head
    if node.kind == "rdb":
        return b"$" + node.head + b"\r\n" + node.data
    out = [node.kind.encode(), node.head, b"\r\n"]
    if node.data is not None:
        if node.head != b"-1" and int(node.head) != len(node.data):
            out[1] = str(len(node.data)).encode()
        out += [node.data, b"\r\n"]
    for child in node.children or ():
        out.append(encode_tree(child))
    return b"".join(out)
