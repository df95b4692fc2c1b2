"""Fixed sessions, one named function each, for the differences known when the tester was written
(each must keep passing once fixed, so they always run in the bounded run) and for scenarios the
random generator reaches too rarely (tracking with REDIRECT, MONITOR).

A step with "check": "count" is compared on its frame counts and closes only: it sets up the
state a later step looks at, without stopping the session on a difference reported elsewhere.
"""

from transcript import make_session


def send(client, *cmds, **extra):
    step = {"kind": "send", "client": client, "cmds": [list(c) for c in cmds]}
    step.update(extra)
    return step


def raw(client, data, **extra):
    step = {"kind": "send", "client": client, "raw": data}
    step.update(extra)
    return step


def at_once(*parts):
    return {"kind": "parallel", "parts": list(parts)}


def wait_blocked(count):
    return {"kind": "wait_blocked", "count": count}


def setup(step):
    step["check"] = "count"
    return step


def repro_0_unsubscribe_from_nothing_reaches_a_bystander():
    """Redis answers UNSUBSCRIBE a b c (subscribed to nothing) with three replies; each must reach
    the client that sent it, never the bystander's GET sent at the same moment."""
    steps = [send(1, ["SET", "by:1", "bystander-value-1"], ["SET", "by:2", "bystander-value-2"])]
    for _ in range(3):
        steps.append(at_once({"client": 0, "cmds": [["UNSUBSCRIBE", "foo", "bar", "quux"]]},
                             {"client": 1, "cmds": [["GET", "by:1"], ["GET", "by:2"]]}))
    steps.append(send(0, ["UNSUBSCRIBE", "foo", "bar", "quux"], ["PUNSUBSCRIBE", "a*", "b*"]))
    steps.append(send(1, ["GET", "by:1"]))
    steps.append(send(0, ["PING"]))
    return make_session("repro_0_unsubscribe_from_nothing_reaches_a_bystander", 2, steps)


def repro_1_resp2_null_after_hello3_then_hello2():
    steps = [setup(send(0, ["HELLO", "3"])), send(0, ["GET", "nokey"]),
             setup(send(0, ["HELLO", "2"])), send(0, ["GET", "nokey"]), send(0, ["HGETALL", "nokey"])]
    return make_session("repro_1_resp2_null_after_hello3_then_hello2", 1, steps)


def repro_2_negative_multibulk_length_is_ignored():
    steps = [raw(0, "*-10\r\n"), raw(0, "*1\r\n$4\r\nPING\r\n"), raw(0, "*0\r\n*-1\r\nPING\r\n")]
    return make_session("repro_2_negative_multibulk_length_is_ignored", 1, steps)


def repro_3_hello_reply_fields():
    steps = [send(0, ["HELLO", "2"]), send(0, ["HELLO", "3"]), send(0, ["HELLO"]),
             send(0, ["HELLO", "2", "SETNAME", "someone"]), send(0, ["CLIENT", "GETNAME"])]
    return make_session("repro_3_hello_reply_fields", 1, steps)


def repro_4_command_docs_nesting():
    steps = [send(0, ["COMMAND", "DOCS", "get", "xadd"]), send(0, ["COMMAND", "DOCS"], mask=["unordered_pairs"]),
             send(0, ["PING"])]
    return make_session("repro_4_command_docs_nesting", 1, steps)


def repro_5_http_post_to_the_resp_port():
    steps = [send(1, ["SET", "k", "v"]),
             raw(0, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
             send(1, ["GET", "k"])]
    return make_session("repro_5_http_post_to_the_resp_port", 2, steps)


def repro_6_sync_and_psync():
    steps = [send(1, ["SET", "k", "v"]),
             send(0, ["SYNC"], mask=["rdb"], min_wait=0.3),
             send(1, ["SET", "k", "w"], ["GET", "k"]),
             send(2, ["PSYNC", "?", "-1"], mask=["rdb"], min_wait=0.3),
             send(1, ["INCR", "n"]),
             send(2, ["GET", "k"])]
    return make_session("repro_6_sync_and_psync", 3, steps)


def repro_7_xread_block_argument_orders():
    steps = [send(1, ["XADD", "x", "1-1", "f", "v0"]),
             send(1, ["XGROUP", "CREATE", "x", "g", "$"])]
    forms = [["XREAD", "BLOCK", "0", "STREAMS", "x", "$"],
             ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "x", "$"],
             ["xread", "block", "0", "count", "5", "streams", "x", "$"],
             ["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "x", ">"],
             ["XREADGROUP", "BLOCK", "0", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "x", ">"],
             ["XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "BLOCK", "0", "NOACK", "STREAMS", "x", ">"]]
    for i, form in enumerate(forms):
        steps += [send(0, form), wait_blocked(1), send(1, ["XADD", "x", "%d-1" % (i + 2), "f", "v%d" % i])]
    steps.append(send(0, ["XREAD", "BLOCK", "100", "STREAMS", "x", "$"], min_wait=0.3))
    steps.append(send(0, ["XREADGROUP", "COUNT", "1", "BLOCK", "100", "GROUP", "g", "c3", "STREAMS", "x", ">"], min_wait=0.3))
    return make_session("repro_7_xread_block_argument_orders", 2, steps)


def repro_8_acl_users():
    steps = [send(0, ["AUTH", "user1", "pass1"]), send(0, ["ACL", "WHOAMI"]),
             send(0, ["AUTH", "user1", "wrong"]), send(0, ["ACL", "WHOAMI"]),
             send(0, ["AUTH", "reader", "rpass"]), send(0, ["SET", "r:1", "v"]), send(0, ["GET", "r:1"]),
             send(0, ["ACL", "WHOAMI"]), send(1, ["HELLO", "2", "AUTH", "user1", "pass1"], check="count"),
             send(1, ["ACL", "WHOAMI"]), send(1, ["RESET"]), send(1, ["ACL", "WHOAMI"])]
    return make_session("repro_8_acl_users", 2, steps)


def scenario_tracking_redirect():
    """Client-side caching, RESP2 style: X learns its id, subscribes to __redis__:invalidate; Y
    turns tracking on with REDIRECT X's id, reads a key; Z writes it; X gets the invalidation."""
    steps = [send(0, ["CLIENT", "ID"], mask=["ints"], capture_id=0),
             send(0, ["SUBSCRIBE", "__redis__:invalidate"]),
             send(1, ["CLIENT", "TRACKING", "on", "REDIRECT", "{id:0}"]),
             send(1, ["GET", "ck"]), send(1, ["CLIENT", "TRACKINGINFO"]),
             send(2, ["SET", "ck", "1"]),
             send(1, ["GET", "ck"]), send(2, ["DEL", "ck"])]
    return make_session("scenario_tracking_redirect", 3, steps)


def scenario_tracking_resp3_pushes():
    steps = [setup(send(0, ["HELLO", "3"])), send(0, ["CLIENT", "TRACKING", "on"]),
             send(0, ["GET", "tk"], ["MGET", "tk", "tk2"]), send(1, ["SET", "tk", "1"], ["SET", "tk2", "2"]),
             send(0, ["GET", "tk"]), send(1, ["FLUSHDB"]),
             send(0, ["CLIENT", "TRACKING", "off"]), send(1, ["SET", "tk", "3"]), send(0, ["GET", "tk"])]
    return make_session("scenario_tracking_resp3_pushes", 2, steps)


def scenario_monitor():
    steps = [send(0, ["MONITOR"]), send(1, ["SET", "m", "1"], ["GET", "m"]),
             send(1, ["EVAL", "return redis.call('GET', KEYS[1])", "1", "m"]),
             send(0, ["PING"]), send(1, ["SELECT", "3"], ["SET", "m", "2"]), send(0, ["QUIT"])]
    return make_session("scenario_monitor", 2, steps)


def scenario_pubsub_between_clients():
    steps = [send(0, ["SUBSCRIBE", "ch1", "ch2"]), send(1, ["PSUBSCRIBE", "ch*"]),
             send(2, ["PUBLISH", "ch1", "hello"]), send(0, ["PING"], ["PING", "x"]),
             send(0, ["GET", "k"]), send(0, ["UNSUBSCRIBE"]), send(1, ["PUNSUBSCRIBE"]),
             send(2, ["PUBLISH", "ch2", "bye"]), send(0, ["GET", "k"])]
    return make_session("scenario_pubsub_between_clients", 3, steps)


def scenario_blocked_client_disconnects():
    """A client blocked in BLPOP goes away. Redis forgets its call at once; a pinned upstream
    connection left blocked would pop the next element pushed, which nobody then receives."""
    steps = [send(0, ["BLPOP", "gq", "0"]), wait_blocked(1), {"kind": "close", "client": 0}, wait_blocked(0),
             send(1, ["LPUSH", "gq", "precious"]), send(1, ["LLEN", "gq"], ["LRANGE", "gq", "0", "-1"])]
    return make_session("scenario_blocked_client_disconnects", 2, steps)


def scenario_subscriber_disconnects():
    """A subscriber goes away; PUBLISH counts the receivers, which must not include a ghost."""
    steps = [send(0, ["SUBSCRIBE", "gone"]), {"kind": "close", "client": 0},
             send(1, ["PUBSUB", "NUMSUB", "gone"]), send(1, ["PUBLISH", "gone", "anyone?"])]
    return make_session("scenario_subscriber_disconnects", 2, steps)


def scenario_client_unblock_and_kill_by_id():
    """Ids read with CLIENT ID name the client's connection in CLIENT UNBLOCK and CLIENT KILL."""
    steps = [send(0, ["CLIENT", "ID"], mask=["ints"], capture_id=0), send(0, ["BLPOP", "uq", "0"]), wait_blocked(1),
             send(1, ["CLIENT", "UNBLOCK", "{id:0}", "ERROR"]), send(0, ["PING"]),
             send(1, ["CLIENT", "KILL", "ID", "{id:0}"]), send(1, ["PING"])]
    return make_session("scenario_client_unblock_and_kill_by_id", 2, steps)


ALL = [repro_0_unsubscribe_from_nothing_reaches_a_bystander, repro_1_resp2_null_after_hello3_then_hello2,
       repro_2_negative_multibulk_length_is_ignored, repro_3_hello_reply_fields,
       repro_4_command_docs_nesting, repro_5_http_post_to_the_resp_port, repro_6_sync_and_psync,
       repro_7_xread_block_argument_orders, repro_8_acl_users,
       scenario_tracking_redirect, scenario_tracking_resp3_pushes, scenario_monitor,
       scenario_pubsub_between_clients, scenario_blocked_client_disconnects, scenario_subscriber_disconnects,
       scenario_client_unblock_and_kill_by_id]


def sessions():
    return [make() for make in ALL]
