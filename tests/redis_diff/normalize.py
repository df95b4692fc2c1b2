"""What may legitimately differ between two Redis servers asked the same thing, and nothing more.

Frames are compared byte for byte first; only when they differ is each side normalised and
compared again. Normalising works on the frame's tree, rewriting only the strings and integers
named below, and keeps every other header as it was sent (so a non-canonical `$05` stays visible).

Always normalised (both servers are distinct processes, and rpcgate's upstream connections are not
the client's own):
  * client ids, fds, addresses, ports and ages/idle times/buffer sizes in CLIENT INFO/LIST lines;
  * the `id` of a HELLO reply, the `redirect` id of CLIENT TRACKINGINFO, the id a
    `tracking-redir-broken` push names;
  * whole INFO texts (uptime, counters, memory...): only the list of section names is kept;
  * MONITOR lines: the timestamp, the client address and client ids after REDIRECT or ID (the
    db number stays); and the lines of
    the connection commands rpcgate keeps with the client (HELLO, AUTH, QUIT, RESET, SELECT, CLIENT
    SETNAME/GETNAME) are dropped on both sides: rpcgate answers them itself or sends its own
    (a bare HELLO, the SETNAME of a new pinned connection), so Redis's MONITOR sees other words
    (docs/redis-compatibility.md, "What still differs");
  * +FULLRESYNC's replication id and offset; an RDB payload is only checked to start with REDIS.
Per step (the generator marks the few commands whose reply depends on time or identity):
  * "ints": non-negative integers in the stepping client's replies (CLIENT ID, TTL counters);
  * "unordered": elements of arrays/sets sorted (KEYS, SMEMBERS: hash tables are seeded at random
    per process, so two servers iterate the same table in different orders);
  * "unordered_pairs": the pairs of every map (or even-sized RESP2 array) sorted by key (COMMAND
    DOCS walks the command table and each command's subcommand table);
  * "rdb": the next `$` frame is an RDB transfer (see resp_frames.FrameBuffer.expect_rdb).
"""

import re

from resp_frames import encode_tree, parse_tree

_CLIENT_FIELDS = re.compile(
    rb"\b(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|multi-mem|obl|oll|omem|tot-mem|rbs|rbp|"
    rb"events|ssub)=(\S*)")
_MONITOR = re.compile(rb"^\d+\.\d+ \[(\d+) ([^\]]+)\]")
_FULLRESYNC = re.compile(rb"^(FULLRESYNC|CONTINUE) \S+( \d+)?")
_REDIR = re.compile(rb"\bredir=(\d+)")


def _client_line(text):
    if b"id=" not in text or b"addr=" not in text:
        return text
    text = _CLIENT_FIELDS.sub(lambda m: m.group(1) + b"=<N>", text)
    return _REDIR.sub(b"redir=<ID>", text)


def _info_text(text):
    if not text.startswith(b"# "):
        return text
    sections = [line[2:] for line in text.split(b"\r\n") if line.startswith(b"# ")]
    return b"<INFO " + b",".join(sections) + b">"


_LOCAL_MONITOR = re.compile(rb'^\+\d+\.\d+ \[\d+ [^\]]+\] "(?i:hello|auth|quit|reset|select|client" "(?:setname|getname))"')


def drop_local_monitor_lines(frames):
    """`frames` without the MONITOR lines of commands rpcgate keeps with the client."""
    return [f for f in frames if not _LOCAL_MONITOR.match(f)]


_MONITOR_CLIENT_ID = re.compile(rb'(?i)("(?:REDIRECT|ID)" )"\d+"')


def _monitor_line(text):
    def repl(m):
        who = m.group(2)
        return b"<TS> [" + m.group(1) + b" " + (who if who in (b"lua", b"unix") else b"<ADDR>") + b"]"
    if not _MONITOR.match(text):
        return text
    # A client id in a logged command (CLIENT TRACKING on REDIRECT <id>, CLIENT KILL ID <id>) is
    # each server's own.
    return _MONITOR_CLIENT_ID.sub(rb'\1"<ID>"', _MONITOR.sub(repl, text))


def _rewrite_string(node):
    text = node.text()
    if text is None:
        return
    new = _FULLRESYNC.sub(lambda m: m.group(1) + b" <REPLID> <OFFSET>", text) if node.kind == "+" else text
    new = _monitor_line(_info_text(_client_line(new)))
    if new != text:
        if node.kind in "$!=":
            node.data = new
        else:
            node.head = new


def _key_value_pairs(node):
    """(key text, value node) pairs of a map, or of a flat RESP2 array of alternating keys."""
    kids = node.children or []
    if node.kind == "%" or (node.kind == "*" and len(kids) % 2 == 0):
        return [(kids[i].text(), kids[i + 1]) for i in range(0, len(kids) - 1, 2)]
    return []


def _mask_identity_fields(node):
    """HELLO's `id`, TRACKINGINFO's `redirect` and the id in a `tracking-redir-broken` push:
    recognised by their sibling keys, so a user's hash with a field named `id` keeps its value."""
    kids = node.children or []
    if node.kind in ">*" and len(kids) == 2 and kids[0].text() == b"tracking-redir-broken" and kids[1].kind == ":":
        kids[1].head = b"<ID>"
        return
    pairs = _key_value_pairs(node)
    keys = {k for k, _ in pairs}
    for key, value in pairs:
        if value.kind != ":":
            continue
        if (key == b"id" and b"proto" in keys and b"server" in keys) or \
           (key == b"redirect" and b"flags" in keys and value.head not in (b"-1", b"0")):
            value.head = b"<ID>"


def _walk(node, masks, depth=0):
    if depth > 100:
        return
    _rewrite_string(node)
    if node.kind == ":" and "ints" in masks and not node.head.startswith(b"-"):
        node.head = b"<N>"
    if node.kind == "rdb":
        node.head = b"<RDBLEN>"
        node.data = b"<RDB " + ("REDIS" if node.data.startswith(b"REDIS") else "NOT-AN-RDB %r" % node.data[:16]).encode() + b">"
    if node.children:
        _mask_identity_fields(node)
        for child in node.children:
            _walk(child, masks, depth + 1)
        if "unordered" in masks and node.kind in "*~":
            node.children.sort(key=encode_tree)
        if "unordered_pairs" in masks and (node.kind == "%" or node.kind == "*" and len(node.children) % 2 == 0):
            pairs = [node.children[i:i + 2] for i in range(0, len(node.children), 2)]
            pairs.sort(key=lambda pair: encode_tree(pair[0]))
            node.children = [n for pair in pairs for n in pair]


def normalize(frame, masks=()):
    """The comparable form of one frame: bytes (not necessarily valid RESP any more)."""
    try:
        tree = parse_tree(frame)
    except Exception:  # framed by FrameBuffer, so this is our own bug: compare it raw
        return frame
    _walk(tree, set(masks))
    if tree.kind == "rdb":
        return b"$<RDBLEN>\r\n" + tree.data
    return encode_tree(tree)


_UNSUBSCRIBES = (b"unsubscribe", b"punsubscribe", b"sunsubscribe")


def _pubsub_reply(frame):
    """(kind, channel, count node) of a (p)unsubscribe reply, ("pmessage",) for a pattern
    message, else None."""
    if not frame.startswith((b"*", b">")):
        return None
    try:
        tree = parse_tree(frame)
    except Exception:
        return None
    kids = tree.children or []
    first = kids[0].text() if kids else None
    if len(kids) == 3 and first in _UNSUBSCRIBES and kids[2].kind == ":":
        return (first, kids[1].text(), kids[2].head)
    if len(kids) == 4 and first == b"pmessage":
        return (first,)
    return None


def normalize_frames(frames, masks=()):
    """The comparable form of one client's frames in one step. Besides each frame's own
    normalisation, two orders are Redis's hash-table order and so differ between servers:
    UNSUBSCRIBE/PUNSUBSCRIBE without arguments walk the client's channel dict (so a run of their
    replies is compared as its set of channels plus the counts in order, which always go down
    one by one), and PUBLISH matches patterns in dict order (a run of pmessages is a set)."""
    out = [normalize(f, masks) for f in frames]
    info = [_pubsub_reply(f) for f in frames]
    i = 0
    while i < len(out):
        if info[i] is None:
            i += 1
            continue
        j = i
        while j < len(out) and info[j] is not None and info[j][0] == info[i][0]:
            j += 1
        if info[i][0] == b"pmessage":
            out[i:j] = sorted(out[i:j])
        else:
            channels = sorted(x[1] if x[1] is not None else b"(nil)" for x in info[i:j])
            out[i:j] = [b"%s %s %s" % (info[i][0], c, x[2]) for c, x in zip(channels, info[i:j])]
        i = j
    return out


def _invalidated_keys(frame):
    """The keys of a RESP2 client-tracking invalidation (`message __redis__:invalidate [keys]`),
    else None (a flush's null payload included)."""
    if not frame.startswith(b"*3\r\n$7\r\nmessage\r\n"):
        return None
    try:
        kids = parse_tree(frame).children or []
    except Exception:
        return None
    if len(kids) != 3 or kids[1].text() != b"__redis__:invalidate" or kids[2].kind != "*" or kids[2].children is None:
        return None
    return [key.text() for key in kids[2].children]


def merge_invalidations(frames):
    """A run of invalidation messages as one, its keys sorted. In BCAST mode Redis sends the keys
    written since its last event-loop turn as one message (beforeSleep), so how many messages carry
    them depends on how the writes arrived, one read or two, which the kernel decides even with no
    proxy in between; which keys were invalidated, and when, is what a client relies on."""
    out = []
    run = None
    for frame in frames:
        keys = _invalidated_keys(frame)
        if keys is None:
            run = None
            out.append(frame)
        elif run is None:
            run = sorted(keys)
            out.append(("invalidate", run))
        else:
            run.extend(keys)
            run.sort()
    return [f if isinstance(f, bytes) else b"invalidate " + b" ".join(f[1]) for f in out]


def same_frames(a, b, masks=()):
    """Whether two lists of frames are equal once normalised."""
    if a == b:
        return True
    a, b = merge_invalidations(a), merge_invalidations(b)
    return len(a) == len(b) and normalize_frames(a, masks) == normalize_frames(b, masks)
