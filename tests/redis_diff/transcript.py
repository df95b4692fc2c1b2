"""Sessions as data: what each client sends, step by step. A session is all the tester needs to
replay a run, so it is saved and loaded as JSON (bytes as latin-1 strings, which JSON escapes
readably: "*1\\r\\n$4\\r\\nPING\\r\\n").

Step kinds (each a dict):
  send          {"client": 1, "cmds": [["SET", "k", "v"], ...]}   commands as RESP arrays
                {"client": 1, "raw": "PING\\r\\n"}                  bytes as they are
                optional: "cuts": [3, 17]   byte offsets where the write is split (tiny pauses between)
                          "min_wait": 0.3   read for at least this long (a blocking call's timeout)
                          "mask": ["ints", "unordered", "rdb"]  see normalize.py
                          "check": "count"  compare frame counts and closes only, not contents
                          "capture_id": 0   the first integer reply is client 0's id ({id:0})
  parallel      {"parts": [send-like dicts]}   several clients write at once (disjoint state only)
  wait_blocked  {"count": 1}    until the server's INFO clients shows that many blocked_clients
  close         {"client": 1}   the client closes its connection
A client whose connection was closed (QUIT, a protocol error) gets a new one at its next send.
"""

import json


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode("latin-1") if isinstance(arg, str) else bytes(arg)
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def payload(part, variables=None):
    """The bytes one send (or one part of a parallel step) writes. `{id:N}` in an argument is
    client N's id on this side, as a step with "capture_id": N read it (CLIENT ID)."""
    if "raw" in part:
        return part["raw"].encode("latin-1")
    out = []
    for args in part["cmds"]:
        if variables:
            args = [_substitute(a, variables) for a in args]
        out.append(encode_command(args))
    return b"".join(out)


def _substitute(arg, variables):
    for name, value in variables.items():
        arg = arg.replace("{%s}" % name, value)
    return arg


def command_names(part):
    if "raw" in part:
        return ["RAW"]
    return [args[0].upper() if args else "" for args in part["cmds"]]


def count_commands(session):
    total = 0
    for step in session["steps"]:
        for part in parts_of(step):
            total += len(part["cmds"]) if "cmds" in part else 1
    return total


def parts_of(step):
    """The writes of a step: one for send, several for parallel, none otherwise."""
    if step["kind"] == "send":
        return [step]
    if step["kind"] == "parallel":
        return step["parts"]
    return []


def clients_of(step):
    if step["kind"] in ("send", "close"):
        return [step["client"]]
    if step["kind"] == "parallel":
        return [part["client"] for part in step["parts"]]
    return []


def make_session(name, clients, steps, seed=None):
    return {"name": name, "clients": clients, "seed": seed, "steps": steps}


def save(session, path):
    with open(path, "w") as f:
        f.write(dumps(session))


def dumps(session):
    """JSON with one step per line: readable, diffable, and loadable by --replay."""
    head = {k: v for k, v in session.items() if k != "steps"}
    lines = ['{"session": %s,' % json.dumps(head), ' "steps": [']
    for i, step in enumerate(session["steps"]):
        lines.append("  %s%s" % (json.dumps(step), "," if i + 1 < len(session["steps"]) else ""))
    lines.append(" ]}")
    return "\n".join(lines) + "\n"


def load(path):
    with open(path) as f:
        data = json.load(f)
    session = dict(data["session"])
    session["steps"] = data["steps"]
    return session


def describe_part(part):
    if "raw" in part:
        text = repr(part["raw"].encode("latin-1"))
        return "raw %s" % (text if len(text) < 300 else text[:300] + "...(%d bytes)" % len(part["raw"]))
    shown = []
    for args in part["cmds"]:
        words = " ".join(_word(a) for a in args)
        shown.append(words if len(words) < 200 else words[:200] + "...")
    return " | ".join(shown)


def _word(arg):
    if arg and all(33 <= ord(c) < 127 and c not in "\"'|" for c in arg):
        return arg
    return json.dumps(arg)


def describe_step(step):
    kind = step["kind"]
    if kind == "send":
        extra = []
        if step.get("cuts"):
            extra.append("cut at %s" % step["cuts"])
        if step.get("min_wait"):
            extra.append("wait %.2fs" % step["min_wait"])
        if step.get("mask"):
            extra.append("mask %s" % ",".join(step["mask"]))
        return "c%d> %s%s" % (step["client"], describe_part(step), "  [%s]" % "; ".join(extra) if extra else "")
    if kind == "parallel":
        return "at once: " + "  ||  ".join("c%d> %s" % (p["client"], describe_part(p)) for p in step["parts"])
    if kind == "wait_blocked":
        return "(wait until the server shows %d blocked client(s))" % step["count"]
    if kind == "close":
        return "c%d closes its connection" % step["client"]
    return json.dumps(step)
