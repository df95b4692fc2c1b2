"""Random but valid (or deliberately wrong) data commands over every type, with deterministic
replies: explicit stream ids, expiries far in the future read back as absolute times, small
collections (listpack/intset encodings keep their order), no RANDOMKEY/SPOP/SRANDMEMBER/TIME.

Each producer takes `g` (a Draw: the seeded random source plus a stream-id counter) and returns
(args, masks): masks name what normalize.py must relax for that one reply, and such commands are
sent alone in their step by the generator.
"""

import hashlib

FAR_FUTURE_S = 4102444800          # 2100-01-01: EXPIREAT/EXPIRETIME are exact, TTL is not
STRING_KEYS = ["s1", "s2", "s3", "n1", "n2"]
LIST_KEYS = ["l1", "l2"]
HASH_KEYS = ["h1", "h2"]
SET_KEYS = ["t1", "t2", "t3"]
ZSET_KEYS = ["z1", "z2"]
STREAM_KEYS = ["x1", "x2"]
BIT_KEYS = ["b1", "b2"]
HLL_KEYS = ["p1", "p2"]
ALL_KEYS = STRING_KEYS + LIST_KEYS + HASH_KEYS + SET_KEYS + ZSET_KEYS + STREAM_KEYS + BIT_KEYS + HLL_KEYS + ["missing"]

VALUES = ["v", "hello", "", "0", "12", "-3", "3.5", "a b", "x" * 40, "\x00\xffbin\r\n", "caf\xc3\xa9", "1e3"]
MEMBERS = ["a", "b", "c", "1", "2", "30", "m-1", ""]
FIELDS = ["f1", "f2", "f3", "name", "count"]


class Draw:
    def __init__(self, rng):
        self.rng = rng
        self.stream_id = 100   # explicit XADD ids only grow, so every XADD is valid

    def pick(self, seq):
        return self.rng.choice(seq)

    def some(self, seq, lo=1, hi=3):
        return [self.rng.choice(seq) for _ in range(self.rng.randint(lo, hi))]

    def num(self, lo=-5, hi=20):
        return str(self.rng.randint(lo, hi))

    def key(self, pool):
        # now and then a key of another type: WRONGTYPE replies are part of the protocol too
        return self.pick(ALL_KEYS) if self.rng.random() < 0.07 else self.pick(pool)

    def next_stream_id(self):
        self.stream_id += self.rng.randint(1, 3)
        return "%d-%d" % (self.stream_id, self.rng.randint(0, 2))


def strings(g):
    k = g.key(STRING_KEYS)
    return g.pick([
        lambda: ["SET", k, g.pick(VALUES)] + g.pick([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EXAT", str(FAR_FUTURE_S)], ["PX", "100000000"]]),
        lambda: ["GET", k], lambda: ["MGET"] + g.some(STRING_KEYS, 1, 4),
        lambda: ["MSET"] + sum(([g.pick(STRING_KEYS), g.pick(VALUES)] for _ in range(g.rng.randint(1, 3))), []),
        lambda: ["APPEND", k, g.pick(VALUES)], lambda: ["STRLEN", k],
        lambda: ["INCR", k], lambda: ["DECR", k], lambda: ["INCRBY", k, g.num(-100, 100)],
        lambda: ["INCRBYFLOAT", k, g.pick(["1.5", "-0.25", "3", "1e2", "abc"])],
        lambda: ["GETRANGE", k, g.num(-3, 3), g.num(-2, 10)], lambda: ["SETRANGE", k, g.num(0, 8), g.pick(VALUES)],
        lambda: ["GETDEL", k], lambda: ["GETEX", k, "PERSIST"], lambda: ["SETNX", k, g.pick(VALUES)],
        lambda: ["MSETNX", g.pick(STRING_KEYS), "1", g.pick(STRING_KEYS), "2"],
        lambda: ["LCS", g.pick(STRING_KEYS), g.pick(STRING_KEYS)] + g.pick([[], ["LEN"], ["IDX", "WITHMATCHLEN"]]),
        lambda: ["INCR"],                                           # wrong arity
        lambda: ["SET", k, "v", "EX", g.pick(["0", "-1", "abc"])],  # invalid expire
    ])(), ()


def lists(g):
    k = g.key(LIST_KEYS)
    return g.pick([
        lambda: [g.pick(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k] + g.some(MEMBERS, 1, 4),
        lambda: [g.pick(["LPOP", "RPOP"]), k] + g.pick([[], [g.num(0, 3)], ["-1"]]),
        lambda: ["LRANGE", k, g.num(-4, 2), g.num(-2, 5)], lambda: ["LLEN", k], lambda: ["LINDEX", k, g.num(-3, 3)],
        lambda: ["LSET", k, g.num(-2, 2), g.pick(MEMBERS)], lambda: ["LREM", k, g.num(-2, 2), g.pick(MEMBERS)],
        lambda: ["LTRIM", k, g.num(0, 2), g.num(-2, 8)],
        lambda: ["LINSERT", k, g.pick(["BEFORE", "AFTER"]), g.pick(MEMBERS), g.pick(MEMBERS)],
        lambda: ["LPOS", k, g.pick(MEMBERS)] + g.pick([[], ["RANK", "-1"], ["COUNT", "0"], ["MAXLEN", "2"]]),
        lambda: ["LMOVE", k, g.pick(LIST_KEYS), g.pick(["LEFT", "RIGHT"]), g.pick(["LEFT", "RIGHT"])],
        lambda: ["RPOPLPUSH", k, g.pick(LIST_KEYS)],
        lambda: ["LMPOP", "2", "l1", "l2", g.pick(["LEFT", "RIGHT"])] + g.pick([[], ["COUNT", "2"]]),
    ])(), ()


def hashes(g):
    k = g.key(HASH_KEYS)
    return g.pick([
        lambda: ["HSET", k] + sum(([g.pick(FIELDS), g.pick(VALUES)] for _ in range(g.rng.randint(1, 3))), []),
        lambda: ["HGET", k, g.pick(FIELDS)], lambda: ["HMGET", k] + g.some(FIELDS),
        lambda: ["HGETALL", k], lambda: ["HDEL", k] + g.some(FIELDS), lambda: ["HEXISTS", k, g.pick(FIELDS)],
        lambda: ["HINCRBY", k, g.pick(FIELDS), g.num()], lambda: ["HINCRBYFLOAT", k, g.pick(FIELDS), g.pick(["0.5", "-2", "x"])],
        lambda: ["HKEYS", k], lambda: ["HVALS", k], lambda: ["HLEN", k], lambda: ["HSETNX", k, g.pick(FIELDS), "v"],
        lambda: ["HSTRLEN", k, g.pick(FIELDS)], lambda: ["HSCAN", k, "0"],
        lambda: ["HSET", k, "odd"],                                  # wrong arity
    ])(), ()


def sets(g):
    k = g.key(SET_KEYS)
    ints = ["1", "2", "3", "10", "-7"]  # t1 stays an intset (sorted, deterministic); others may not
    members = ints if k == "t1" else MEMBERS
    cmd = g.pick([
        lambda: ["SADD", k] + g.some(members, 1, 4), lambda: ["SREM", k] + g.some(members),
        lambda: ["SISMEMBER", k, g.pick(members)], lambda: ["SMISMEMBER", k] + g.some(members),
        lambda: ["SCARD", k], lambda: ["SMEMBERS", k], lambda: [g.pick(["SINTER", "SUNION", "SDIFF"])] + g.some(SET_KEYS, 1, 3),
        lambda: ["SINTERCARD", "2", "t1", "t2"], lambda: ["SMOVE", k, g.pick(SET_KEYS), g.pick(members)],
        lambda: [g.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), g.pick(SET_KEYS)] + g.some(SET_KEYS, 1, 2),
    ])()
    unordered = cmd[0] in ("SMEMBERS", "SINTER", "SUNION", "SDIFF")
    return cmd, (("unordered",) if unordered else ())


def zsets(g):
    k = g.key(ZSET_KEYS)
    score = lambda: g.pick(["1", "2", "2.5", "-1", "+inf", "-inf", "10", "0"])  # noqa: E731
    return g.pick([
        lambda: ["ZADD", k] + g.pick([[], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["XX", "CH"]]) +
        sum(([score(), g.pick(MEMBERS)] for _ in range(g.rng.randint(1, 3))), []),
        lambda: ["ZADD", k, "INCR", score(), g.pick(MEMBERS)],
        lambda: ["ZRANGE", k, "0", "-1"] + g.pick([[], ["WITHSCORES"], ["REV"], ["REV", "WITHSCORES"]]),
        lambda: ["ZRANGE", k, "(1", "+inf", "BYSCORE"] + g.pick([[], ["LIMIT", "0", "2"], ["WITHSCORES"]]),
        lambda: ["ZRANGE", k, "[a", "+", "BYLEX"], lambda: ["ZSCORE", k, g.pick(MEMBERS)],
        lambda: ["ZINCRBY", k, score(), g.pick(MEMBERS)], lambda: ["ZREM", k] + g.some(MEMBERS),
        lambda: ["ZCARD", k], lambda: ["ZCOUNT", k, "-inf", "(2"], lambda: ["ZRANK", k, g.pick(MEMBERS)],
        lambda: ["ZREVRANK", k, g.pick(MEMBERS)], lambda: [g.pick(["ZPOPMIN", "ZPOPMAX"]), k] + g.pick([[], ["2"]]),
        lambda: ["ZMSCORE", k] + g.some(MEMBERS), lambda: ["ZUNIONSTORE", "z3", "2", "z1", "z2"] + g.pick([[], ["AGGREGATE", "MAX"]]),
        lambda: ["ZINTER", "2", "z1", "z2", "WITHSCORES"], lambda: ["ZRANGESTORE", "z3", k, "0", "1"],
        lambda: ["ZMPOP", "2", "z1", "z2", g.pick(["MIN", "MAX"])],
        lambda: ["ZADD", k, "notanumber", "m"],
    ])(), ()


def streams(g):
    k = g.key(STREAM_KEYS)
    return g.pick([
        lambda: ["XADD", k, g.next_stream_id()] + sum(([g.pick(FIELDS), g.pick(VALUES)] for _ in range(g.rng.randint(1, 2))), []),
        lambda: ["XADD", k, "MAXLEN", "5", g.next_stream_id(), "f", "v"],
        lambda: ["XADD", k, "%d-*" % (g.stream_id + 1000000), "f", "v"],    # a partial id: sequence by Redis, deterministic
        lambda: ["XADD", k, "1-1", "f", "v"],                               # smaller than the top id: an error
        lambda: ["XLEN", k], lambda: ["XRANGE", k, "-", "+"] + g.pick([[], ["COUNT", "2"]]),
        lambda: ["XREVRANGE", k, "+", "-", "COUNT", "3"], lambda: ["XDEL", k, "%d-0" % g.stream_id],
        lambda: ["XTRIM", k, "MAXLEN", g.num(0, 6)],
        lambda: ["XGROUP", "CREATE", k, g.pick(["g1", "g2"]), g.pick(["0", "$"]), "MKSTREAM"],
        lambda: ["XREADGROUP", "GROUP", g.pick(["g1", "g2"]), g.pick(["alice", "bob"]), "COUNT", "2", "STREAMS", k, ">"],
        lambda: ["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", k, "0"],
        lambda: ["XREAD", "COUNT", "3", "STREAMS", k, "0-0"], lambda: ["XACK", k, "g1", "%d-0" % g.stream_id],
        lambda: ["XPENDING", k, "g1"], lambda: ["XINFO", "STREAM", k], lambda: ["XINFO", "GROUPS", k],
        lambda: ["XCLAIM", k, "g1", "bob", "0", "%d-0" % g.stream_id, "JUSTID"],
        lambda: ["XAUTOCLAIM", k, "g1", "carol", "0", "0-0", "JUSTID"],
    ])(), ()


def bitmaps(g):
    k = g.key(BIT_KEYS)
    return g.pick([
        lambda: ["SETBIT", k, g.num(0, 64), g.pick(["0", "1"])], lambda: ["GETBIT", k, g.num(0, 64)],
        lambda: ["BITCOUNT", k] + g.pick([[], ["0", "-1"], ["0", "10", "BIT"]]), lambda: ["BITPOS", k, g.pick(["0", "1"])],
        lambda: ["BITOP", g.pick(["AND", "OR", "XOR"]), "b3", "b1", "b2"], lambda: ["BITOP", "NOT", "b3", k],
        lambda: ["BITFIELD", k, "INCRBY", "u8", "0", g.num(), "GET", "i4", "4"],
        lambda: ["BITFIELD_RO", k, "GET", "u8", "8"],
    ])(), ()


def hyperloglogs(g):
    k = g.key(HLL_KEYS)
    return g.pick([
        lambda: ["PFADD", k] + g.some(MEMBERS, 1, 5), lambda: ["PFCOUNT", k], lambda: ["PFCOUNT", "p1", "p2"],
        lambda: ["PFMERGE", "p3", "p1", "p2"],
    ])(), ()


SCRIPTS = [
    "return redis.call('GET', KEYS[1])",
    "redis.call('INCR', KEYS[1]); return redis.call('GET', KEYS[1])",
    "return {1, 2, {3, 'x'}, ARGV[1]}",
    "return redis.error_reply('my error')",
    "return redis.status_reply('FINE')",
    "return 3.99",
    "return {false, true, nil, 'after-nil'}",
    "redis.setresp(3); return redis.call('HGETALL', KEYS[1])",
    "return redis.pcall('INCR', 'h1')",
    "return #KEYS + #ARGV",
    "error('raised')",
    "return redis.call('NOSUCHCOMMAND')",
]


def keys_and_scripts(g):
    k = g.pick(ALL_KEYS)
    return g.pick([
        lambda: (["DEL"] + g.some(ALL_KEYS), ()), lambda: (["EXISTS"] + g.some(ALL_KEYS), ()),
        lambda: (["TYPE", k], ()), lambda: (["RENAME", k, g.pick(ALL_KEYS)], ()), lambda: (["RENAMENX", k, "s9"], ()),
        lambda: (["COPY", k, g.pick(ALL_KEYS)] + g.pick([[], ["REPLACE"]]), ()),
        lambda: (["EXPIRE", k, "100000"] + g.pick([[], ["NX"], ["GT"]]), ()),
        lambda: (["PEXPIREAT", k, str(FAR_FUTURE_S * 1000 + 123)], ()),
        lambda: (["EXPIRETIME", k], ("ints",)), lambda: (["PEXPIRETIME", k], ("ints",)), lambda: (["PERSIST", k], ()),
        lambda: ([g.pick(["TTL", "PTTL"]), k], ("ints",)), lambda: (["DBSIZE"], ()),
        lambda: (["KEYS", g.pick(["*", "s*", "?1"])], ("unordered",)),
        lambda: (["SCAN", "0", "COUNT", "1000"] + g.pick([[], ["TYPE", "string"], ["MATCH", "x*"]]), ("unordered",)),
        lambda: (["OBJECT", "ENCODING", k], ()), lambda: (["TOUCH"] + g.some(ALL_KEYS), ()),
        lambda: (["UNLINK", k], ()),
        lambda: (["EVAL", g.pick(SCRIPTS), "1", g.pick(STRING_KEYS + HASH_KEYS), "arg"], ()),
        lambda: (["EVAL_RO", SCRIPTS[0], "1", g.pick(STRING_KEYS)], ()),
        lambda: (["SCRIPT", "LOAD", SCRIPTS[2]], ()),
        lambda: (["EVALSHA", hashlib.sha1(SCRIPTS[2].encode()).hexdigest(), "0"], ()),  # NOSCRIPT unless loaded
        lambda: (["EVALSHA", "b56f6a2e16e5f0d9a5a3b65a2c98f1b8e6b9d8a1", "0"], ()),
        lambda: (["PING"], ()), lambda: (["PING", g.pick(VALUES)], ()), lambda: (["ECHO", g.pick(VALUES)], ()),
        lambda: (["NOSUCHCMD", "a"], ()), lambda: (["GET"], ()), lambda: (["COMMAND", "COUNT"], ()),
        lambda: (["COMMAND", "INFO", "get", "nosuch"], ()), lambda: (["OBJECT", "HELP"], ()),
        lambda: (["SELECT", "99"], ()), lambda: (["SELECT", "abc"], ()),
    ])()


TYPE_PRODUCERS = [strings, lists, hashes, sets, zsets, streams, bitmaps, hyperloglogs]


def data_command(g):
    """One data command and its masks."""
    if g.rng.random() < 0.25:
        return keys_and_scripts(g)
    return g.pick(TYPE_PRODUCERS)(g)
