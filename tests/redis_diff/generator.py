"""Seeded random sessions: several clients on shared keys, pipelines of random depth, writes cut
at random bytes, and connection-state transitions mixed in.

Ordering stays deterministic: a step is one client's batch, sent and fully answered before the
next step, except "parallel" steps, whose clients only touch keys of their own and stateless
commands. The generator tracks each client's mode (normal, subscribed, in MULTI, replies off,
MONITOR, replica, blocked) only to choose meaningful next steps; the reference Redis decides what
is right.

Features (names for --without): data hello multi select client reset pubsub blocking monitor quit
raw sync tracking acl parallel cuts
"""

import random

from data_commands import Draw, data_command
from raw_inputs import ALL as RAW_INPUTS
from transcript import encode_command, make_session

FEATURES = ["data", "hello", "multi", "select", "client", "reset", "pubsub", "blocking", "monitor",
            "quit", "raw", "sync", "tracking", "acl", "parallel", "cuts"]
CHANNELS = ["ch1", "ch2", "news", "__redis__:invalidate"]
PATTERNS = ["ch*", "n?ws", "*"]
SHORT_TIMEOUT_WAIT = 0.35   # seconds read after a blocking call with a 0.1 s timeout


class ClientState:
    def __init__(self):
        self.id_known = False
        self.mode = "normal"     # normal subscribed multi reply_off monitor replica blocked
        self.resp = 2
        self.subscriptions = 0


class SessionGenerator:
    def __init__(self, seed, without=()):
        self.rng = random.Random(seed)
        self.seed = seed
        self.draw = Draw(self.rng)
        self.enabled = [f for f in FEATURES if f not in set(without)]
        self.steps = []
        self.clients = []
        self.queue_counter = 0
        # Once a client tracks keys or MONITORs, parallel steps would make the order of its
        # pushes/lines depend on timing: they stop for the rest of the session.
        self.order_sensitive = False

    def on(self, feature):
        return feature in self.enabled

    # -- steps ----------------------------------------------------------------------------------

    def send(self, client, cmds, **extra):
        step = {"kind": "send", "client": client, "cmds": cmds}
        step.update({k: v for k, v in extra.items() if v})
        self._maybe_cut(step, encode_command_list(cmds))
        self.steps.append(step)
        return step

    def send_raw(self, client, data, **extra):
        step = {"kind": "send", "client": client, "raw": data}
        step.update(extra)
        self._maybe_cut(step, data.encode("latin-1"))
        self.steps.append(step)

    def _maybe_cut(self, step, data):
        if self.on("cuts") and len(data) > 1 and self.rng.random() < 0.3:
            count = self.rng.randint(1, min(5, len(data) - 1))
            step["cuts"] = sorted(self.rng.sample(range(1, len(data)), count))

    # -- the session ----------------------------------------------------------------------------

    def generate(self):
        n_clients = self.rng.choice([1, 2, 2, 3, 3, 4])
        self.clients = [ClientState() for _ in range(n_clients)]
        for _ in range(self.rng.randint(8, 40)):
            self.one_step()
            if len(self.steps) > 80:
                break
        return make_session("random-%d" % self.seed, n_clients, self.steps, seed=self.seed)

    def free_clients(self):
        return [i for i, c in enumerate(self.clients) if c.mode not in ("blocked", "replica")]

    def one_step(self):
        blocked = [i for i, c in enumerate(self.clients) if c.mode == "blocked"]
        candidates = self.free_clients()
        if not candidates:
            # everyone is blocked or a replica: a fresh client cannot be added, so close one
            victim = self.rng.randrange(len(self.clients))
            self.steps.append({"kind": "close", "client": victim})
            self.clients[victim] = ClientState()
            return
        if blocked and self.rng.random() < 0.6:
            self.unblock(self.rng.choice(candidates), blocked)
            return
        client = self.rng.choice(candidates)
        state = self.clients[client]
        {"normal": self.normal_step, "subscribed": self.subscribed_step, "multi": self.multi_step,
         "reply_off": self.reply_off_step, "monitor": self.monitor_step}[state.mode](client, state)

    def data_batch(self, client, depth=None):
        """A pipeline of data commands; a command whose reply needs a mask goes alone."""
        depth = depth or min(int(self.rng.expovariate(0.25)) + 1, 60)
        cmds = []
        for _ in range(depth):
            args, masks = data_command(self.draw)
            if masks:
                if cmds:
                    self.send(client, cmds)
                    cmds = []
                self.send(client, [args], mask=list(masks))
            else:
                cmds.append(args)
        if cmds:
            self.send(client, cmds)

    def plain_command(self):
        """A data command whose reply needs no mask (so it may share a batch or sit in MULTI)."""
        while True:
            args, masks = data_command(self.draw)
            if not masks:
                return args

    def normal_step(self, client, state):
        choices = [("data", 40, self.data_batch)]
        weighted = [("hello", 5, self.hello), ("multi", 5, self.multi_begin), ("select", 3, self.select),
                    ("client", 5, self.client_commands), ("reset", 1, self.reset), ("pubsub", 5, self.subscribe),
                    ("blocking", 5, self.blocking), ("monitor", 1, self.monitor), ("quit", 1, self.quit),
                    ("raw", 4, self.raw), ("sync", 0.4, self.sync), ("tracking", 2, self.tracking),
                    ("acl", 2, self.acl), ("parallel", 4, self.parallel)]
        choices += [w for w in weighted if self.on(w[0])]
        if not self.on("data"):
            choices = choices[1:] or [("parallel", 1, self.parallel)]
        total = sum(w for _, w, _ in choices)
        pick = self.rng.uniform(0, total)
        for _, weight, action in choices:
            pick -= weight
            if pick <= 0:
                action(client)
                return
        choices[-1][2](client)

    # -- connection state -----------------------------------------------------------------------

    def hello(self, client):
        version = self.rng.choice(["2", "3", "3", "2"])
        form = self.rng.choice([[], [], ["SETNAME", "cli-%d" % client], ["AUTH", "default", "x"],
                                ["AUTH", "user1", "pass1"]])
        if self.rng.random() < 0.1:
            version = self.rng.choice(["4", "1", "x", ""])
        self.send(client, [["HELLO", version] + form if version else ["HELLO"]])
        if version in ("2", "3"):
            self.clients[client].resp = int(version)
        if self.rng.random() < 0.5:
            self.data_batch(client, self.rng.randint(1, 4))

    def multi_begin(self, client):
        cmds = []
        if self.rng.random() < 0.4:
            cmds.append(["WATCH"] + self.draw.some(["s1", "s2", "l1", "h1"]))
        cmds.append(["MULTI"])
        self.send(client, cmds)
        self.clients[client].mode = "multi"

    def multi_step(self, client, state):
        roll = self.rng.random()
        if roll < 0.45:
            cmds = [self.plain_command() for _ in range(self.rng.randint(1, 5))]
            if self.rng.random() < 0.1:
                cmds.append(self.rng.choice([["MULTI"], ["WATCH", "s1"], ["NOSUCH"], ["GET"], ["SUBSCRIBE", "ch1"]]))
            self.send(client, cmds)
        elif roll < 0.6 and len(self.clients) > 1:
            # another client writes a (maybe) watched key meanwhile
            other = self.rng.choice([i for i in self.free_clients() if i != client] or [client])
            if other != client and self.clients[other].mode == "normal":
                self.send(other, [["SET", self.rng.choice(["s1", "s2"]), "changed"]])
        else:
            end = self.rng.choice(["EXEC", "EXEC", "DISCARD"])
            self.send(client, [[end]] + ([["GET", "s1"]] if self.rng.random() < 0.5 else []))
            state.mode = "normal"

    def select(self, client):
        db = str(self.rng.choice([0, 0, 1, 2, 15]))
        self.send(client, [["SELECT", db]])
        if self.rng.random() < 0.7:
            self.data_batch(client, self.rng.randint(1, 4))

    def client_commands(self, client):
        roll = self.rng.random()
        if roll < 0.15:
            self.send(client, [self.rng.choice([["CLIENT", "ID"], ["CLIENT", "GETREDIR"]])], mask=["ints"])
        elif roll < 0.45:
            self.send(client, [self.rng.choice([["CLIENT", "SETNAME", "name-%d" % client], ["CLIENT", "GETNAME"],
                                                ["CLIENT", "SETNAME", "bad name"], ["CLIENT", "NO-EVICT", "on"],
                                                ["CLIENT", "NO-EVICT", "off"],
                                                ["CLIENT", "TRACKINGINFO"], ["CLIENT", "INFO"],
                                                ["CLIENT", "SETINFO", "lib-name", "difftest"],
                                                ["CLIENT", "NOSUCH"]])])
        elif roll < 0.75:
            kind = self.rng.choice(["OFF", "SKIP", "SKIP", "ON"])
            self.send(client, [["CLIENT", "REPLY", kind]] + [self.plain_command() for _ in range(self.rng.randint(0, 3))])
            if kind == "OFF":
                self.clients[client].mode = "reply_off"
        else:
            self.tracking(client)

    def reply_off_step(self, client, state):
        cmds = [self.plain_command() for _ in range(self.rng.randint(0, 3))]
        if self.rng.random() < 0.6:
            cmds.append(["CLIENT", "REPLY", "ON"])
            state.mode = "normal"
        cmds.append(["PING", "after"])
        self.send(client, cmds)

    def reset(self, client):
        self.send(client, [["RESET"]] + ([["GET", "s1"]] if self.rng.random() < 0.5 else []))
        self.clients[client] = ClientState()

    def quit(self, client):
        self.send(client, [["QUIT"]] + ([["PING"]] if self.rng.random() < 0.3 else []))
        self.clients[client] = ClientState()   # the next send opens a new connection

    def tracking(self, client):
        self.order_sensitive = True
        others = [i for i in self.free_clients() if i != client and self.clients[i].mode == "normal"]
        if others and self.rng.random() < 0.35:
            self.tracking_redirect(client, self.rng.choice(others))
            return
        opts = self.rng.choice([[], ["BCAST"], ["BCAST", "PREFIX", "s"], ["OPTIN"], ["OPTOUT"], ["NOLOOP"]])
        self.send(client, [["CLIENT", "TRACKING", "on"] + opts])
        cmds = [["GET", "s1"], ["MGET", "s2", "s3"]]
        if "OPTIN" in opts:
            cmds.insert(0, ["CLIENT", "CACHING", "yes"])
        self.send(client, cmds)
        others = [i for i in self.free_clients() if i != client and self.clients[i].mode == "normal"]
        writer = self.rng.choice(others) if others else client
        self.send(writer, [["SET", "s1", "new"], ["DEL", "s3"]])
        if self.rng.random() < 0.5:
            self.send(client, [["CLIENT", "TRACKING", "off"]])

    def capture_id(self, client):
        self.send(client, [["CLIENT", "ID"]], mask=["ints"], capture_id=client)
        self.clients[client].id_known = True

    def tracking_redirect(self, client, target):
        """RESP2 client-side caching: invalidations go to another client, subscribed to
        __redis__:invalidate, named by the id it read with CLIENT ID."""
        self.capture_id(target)
        self.send(target, [["SUBSCRIBE", "__redis__:invalidate"]])
        self.clients[target].mode = "subscribed"
        opts = self.rng.choice([[], ["BCAST"], ["BCAST", "PREFIX", "s"], ["NOLOOP"]])
        self.send(client, [["CLIENT", "TRACKING", "on", "REDIRECT", "{id:%d}" % target] + opts])
        self.send(client, [["GET", "s1"], ["MGET", "s2", "s3"]])
        self.send(client, [["CLIENT", "GETREDIR"]], mask=["ints"])   # an id: numbered per server
        writer = self.rng.choice([i for i in self.free_clients() if self.clients[i].mode == "normal"] or [client])
        self.send(writer, [["SET", "s1", "tracked"], ["DEL", "s2"]])

    # -- pub/sub ----------------------------------------------------------------------------------

    def subscribe(self, client):
        state = self.clients[client]
        if self.rng.random() < 0.25:
            # while subscribed to nothing: one reply per channel named
            self.send(client, [[self.rng.choice(["UNSUBSCRIBE", "PUNSUBSCRIBE"])] + self.draw.some(CHANNELS, 0, 3)])
            return
        if self.rng.random() < 0.5:
            self.send(client, [["SUBSCRIBE"] + self.draw.some(CHANNELS, 1, 3)])
        else:
            self.send(client, [["PSUBSCRIBE"] + self.draw.some(PATTERNS, 1, 2)])
        state.mode = "subscribed"

    def subscribed_step(self, client, state):
        roll = self.rng.random()
        others = [i for i in self.free_clients() if i != client and self.clients[i].mode == "normal"]
        if roll < 0.35 and others:
            publisher = self.rng.choice(others)
            self.send(publisher, [["PUBLISH", self.rng.choice(CHANNELS), self.rng.choice(["hi", "", "x y"])]
                                  for _ in range(self.rng.randint(1, 3))])
        elif roll < 0.55:
            self.send(client, [[self.rng.choice(["SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE"])]
                               + self.draw.some(CHANNELS + PATTERNS, 0, 3)])
        elif roll < 0.7:
            self.send(client, [self.rng.choice([["PING"], ["PING", "in-sub"], ["GET", "s1"], ["SET", "s1", "x"]])])
        elif roll < 0.8:
            self.send(client, [["RESET"]])
            self.clients[client] = ClientState()
        else:
            self.send(client, [["UNSUBSCRIBE"], ["PUNSUBSCRIBE"]])
            state.mode = "normal"     # probably: the reference knows for sure

    # -- blocking -----------------------------------------------------------------------------------

    def blocking(self, client):
        """A blocking call on a fresh key: either with a short timeout (answered by the timeout)
        or with none, then unblocked by another client once the server shows it blocked."""
        self.queue_counter += 1
        q = "q%d" % self.queue_counter
        short = self.rng.random() < 0.35 or len(self.free_clients()) < 2
        t = "0.1" if short else "0"
        ms = "100" if short else "0"
        forms = [["BLPOP", q, "qx", t], ["BRPOP", q, t], ["BLMOVE", q, "l1", "LEFT", "RIGHT", t],
                 ["BRPOPLPUSH", q, "l2", t], ["BLMPOP", t, "1", q, "LEFT"], ["BZPOPMIN", q, t], ["BZPOPMAX", q, t],
                 ["BZMPOP", t, "1", q, "MIN"],
                 ["XREAD", "BLOCK", ms, "STREAMS", q, "$"], ["XREAD", "COUNT", "2", "BLOCK", ms, "STREAMS", q, "$"],
                 ["XREADGROUP", "GROUP", "g", "c", "BLOCK", ms, "STREAMS", q, ">"],
                 ["XREADGROUP", "BLOCK", ms, "GROUP", "g", "c", "COUNT", "1", "STREAMS", q, ">"]]
        form = self.rng.choice(forms)
        if form[0] == "XREADGROUP":
            self.send(client, [["XGROUP", "CREATE", q, "g", "$", "MKSTREAM"]])
        state = self.clients[client]
        if short:
            self.send(client, [form], min_wait=SHORT_TIMEOUT_WAIT)
            return
        if self.rng.random() < 0.3:
            self.capture_id(client)      # so that another client can CLIENT UNBLOCK it
        self.send(client, [form])
        state.mode = "blocked"
        state.blocked_on = (q, form[0])
        count = sum(1 for c in self.clients if c.mode == "blocked")
        self.steps.append({"kind": "wait_blocked", "count": count})

    def unblock(self, client, blocked):
        victim = self.rng.choice(blocked)
        q, kind = self.clients[victim].blocked_on
        if getattr(self.clients[victim], "id_known", False) and self.rng.random() < 0.6:
            self.send(client, [["CLIENT", "UNBLOCK", "{id:%d}" % victim] + self.rng.choice([[], ["TIMEOUT"], ["ERROR"]])])
            self.clients[victim].mode = "normal"
            return
        if kind in ("BZPOPMIN", "BZPOPMAX", "BZMPOP"):
            push = ["ZADD", q, "1", "m1", "2", "m2"]
        elif kind.startswith("X"):
            push = ["XADD", q, self.draw.next_stream_id(), "f", "v"]
        else:
            push = [self.rng.choice(["LPUSH", "RPUSH"]), q, "e1", "e2"]
        self.send(client, [push])
        self.clients[victim].mode = "normal"
        if self.rng.random() < 0.3:
            self.send(victim, [["PING"]])

    # -- whole-connection modes ---------------------------------------------------------------------

    def monitor(self, client):
        self.order_sensitive = True
        self.send(client, [["MONITOR"]])
        self.clients[client].mode = "monitor"

    def monitor_step(self, client, state):
        others = [i for i in self.free_clients() if i != client and self.clients[i].mode == "normal"]
        if others and self.rng.random() < 0.7:
            self.data_batch(self.rng.choice(others), self.rng.randint(1, 4))
            return
        end = self.rng.choice([["QUIT"], ["RESET"], ["PING"]])
        self.send(client, [end])
        if end != ["PING"]:
            self.clients[client] = ClientState()

    def sync(self, client):
        self.send(client, [self.rng.choice([["SYNC"], ["PSYNC", "?", "-1"]])], mask=["rdb"], min_wait=0.3)
        self.clients[client].mode = "replica"
        others = [i for i in self.free_clients() if self.clients[i].mode == "normal"]
        if others:
            self.send(self.rng.choice(others), [["SET", "s1", "propagated"], ["INCR", "n1"]])
        self.steps.append({"kind": "close", "client": client})
        self.clients[client] = ClientState()

    def acl(self, client):
        self.send(client, [self.rng.choice([["AUTH", "user1", "pass1"], ["AUTH", "user1", "nope"],
                                            ["AUTH", "reader", "rpass"], ["AUTH", "nopass"], ["AUTH", "default", "x"]]),
                           ["ACL", "WHOAMI"]])
        self.send(client, [["GET", "r:1"], ["SET", "s1", "by-acl-user"]])

    # -- raw input and concurrency ------------------------------------------------------------------

    def raw(self, client):
        name, data = self.rng.choice(RAW_INPUTS)
        if name.startswith(("http", "host")):
            # Redis closes at "Host:"; whether the error for the line before still goes out
            # depends on whether both lines came in one read, so these are never cut
            self.steps.append({"kind": "send", "client": client, "raw": data, "note": name})
        else:
            self.send_raw(client, data, note=name)
        if self.rng.random() < 0.7:
            self.send(client, [["PING"]])

    def parallel(self, client):
        """Clients in normal mode send at once, each on keys of its own (p<client>:...), plus
        stateless commands: any cross-talk between them is a difference."""
        group = [i for i in self.free_clients() if self.clients[i].mode == "normal"]
        if len(group) < 2 or self.order_sensitive:
            self.data_batch(client, 2)
            return
        parts = []
        for c in self.rng.sample(group, self.rng.randint(2, len(group))):
            own = "p%d:" % c
            pool = [["SET", own + "a", "value-of-%d" % c], ["GET", own + "a"], ["INCR", own + "n"],
                    ["RPUSH", own + "l", "x"], ["LRANGE", own + "l", "0", "-1"], ["PING"], ["ECHO", "from-%d" % c],
                    ["UNSUBSCRIBE", "ch1", "ch2", "ch3"], ["PUNSUBSCRIBE", "p*"], ["GET", own + "missing"],
                    ["HSET", own + "h", "f", str(c)], ["HGETALL", own + "h"], ["EXISTS", own + "a"]]
            parts.append({"client": c, "cmds": [self.rng.choice(pool) for _ in range(self.rng.randint(1, 6))]})
        self.steps.append({"kind": "parallel", "parts": parts})


def encode_command_list(cmds):
    return b"".join(encode_command(c) for c in cmds)


def generate(seed, without=()):
    return SessionGenerator(seed, without).generate()
