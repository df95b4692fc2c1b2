#!/usr/bin/env python3
"""A real Redis Cluster (six redis-servers joined by `redis-cli --cluster create`, three masters
with a replica each) behind the example config conf/examples/redis-cluster.yaml, its seeds moved to
the cluster's nodes, and clients that know nothing of clusters: plain redis-py and redis-cli.
Answers are compared with a standalone Redis given the same commands, multi-key commands over every
master split and merged included; a slot is moved by hand under
load (every MOVED and ASK followed, no client error); a master is killed with a bystander on another
upstream beside it (docs/redis-cluster.md)."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from redis_cluster import RedisCluster, redis_cli  # noqa: E402

SEED_PORTS = (7000, 7001, 7002)  # the example's endpoints


def key_slot(key):
    """CLUSTER KEYSLOT, asked of a node (no second implementation to trust)."""
    return int(redis_cli(TestRedisCluster.cluster.nodes[0].port, "cluster", "keyslot", key))


def node_id(port):
    return redis_cli(port, "cluster", "myid")


def owner_of(slot):
    """The port of the master that owns `slot`, from CLUSTER SLOTS as redis-cli prints it."""
    lines = redis_cli(TestRedisCluster.cluster.nodes[0].port, "cluster", "slots").split("\n")
    # redis-cli prints each range as: first, last, host, port, id, [replica host, port, id]...
    for i in range(0, len(lines) - 4):
        if lines[i].isdigit() and lines[i + 1].isdigit() and int(lines[i]) <= slot <= int(lines[i + 1]) \
                and lines[i + 2] == harness.LOOPBACK:
            return int(lines[i + 3])
    raise AssertionError("no owner for slot %d" % slot)


class Load(threading.Thread):
    """A bounded write-then-read load through rpcgate from one plain redis-py client: every SET
    acknowledged must read back; every error is kept."""

    def __init__(self, port, keys):
        super().__init__(daemon=True)
        self.client = harness.redis_client(port)
        self.keys = keys
        self.stop = threading.Event()
        self.errors = []
        self.calls = 0

    def run(self):
        i = 0
        while not self.stop.is_set() and self.calls < 200000:
            key = self.keys[i % len(self.keys)]
            value = "v%d" % i
            try:
                self.client.set(key, value)
                got = self.client.get(key)
                if got != value.encode():
                    self.errors.append("GET %s gave %r after SET %s" % (key, got, value))
            except Exception as error:  # noqa: BLE001 - every failure is the test's finding
                self.errors.append("%s: %s" % (key, error))
            self.calls += 2
            i += 1

    def finish(self):
        self.stop.set()
        self.join(30)
        return self.errors


class TestRedisCluster(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = RedisCluster(masters=3, replicas=1).start()
        cls.standalone = harness.RedisServer().start()
        cls.plain = harness.RedisServer().start()
        seeds = dict(zip(SEED_PORTS, [node.port for node in cls.cluster.nodes[:3]]))
        cls.gw = harness.ExampleGateway("redis-cluster.yaml", seeds, log_level=os.environ.get("LOGLEVEL", "info"))
        # A bystander upstream beside the cluster: ECHO goes to a plain Redis.
        cls.gw.example = cls.gw.example.replace(
            "routes:\n", "routes:\n  - {match: {method: echo}, cluster: plain}\n").replace(
            "clusters:\n", "clusters:\n  - {name: plain, codec: resp, endpoints: [127.0.0.1:6399]}\n")
        cls.gw.port_map[6399] = cls.plain.port
        cls.gw.start()
        cls.gateways = (cls.gw,)
        cls.via = cls.gw.port("resp")
        cls.client = harness.redis_client(cls.via)
        cls.direct = harness.redis_client(cls.standalone.port)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cluster.stop()
        cls.standalone.stop()
        cls.plain.stop()

    def run_both(self, command, *args):
        """The same command through rpcgate and on the standalone Redis: (answer, answer)."""
        answers = []
        for client in (self.client, self.direct):
            try:
                answers.append(client.execute_command(command, *args))
            except Exception as error:  # noqa: BLE001 - the error text is the answer compared
                answers.append("error: %s" % error)
        return answers

    def test_1_commands_answer_like_one_redis_on_every_master(self):
        keys = ["key:%d" % i for i in range(150)]
        for key in keys:
            for command in (("DEL", key), ("DEL", key + ":h"), ("DEL", key + ":l"), ("DEL", key + ":z"),
                            ("SET", key, "hello " + key), ("GET", key), ("APPEND", key, "!"), ("STRLEN", key),
                            ("DEL", key), ("INCR", key), ("INCRBY", key, 41), ("GET", key), ("TYPE", key),
                            ("EXPIRE", key, 100), ("TTL", key),
                            ("HSET", key + ":h", "f", "1", "g", "2"), ("HGETALL", key + ":h"), ("HINCRBY", key + ":h", "f", 5),
                            ("LPUSH", key + ":l", "a", "b", "c"), ("LRANGE", key + ":l", 0, -1), ("RPOP", key + ":l"),
                            ("ZADD", key + ":z", 1, "one", 2, "two"), ("ZRANGE", key + ":z", 0, -1, "WITHSCORES"),
                            ("GET", key + ":missing"), ("LPUSH", key, "x")):  # a WRONGTYPE error too
                through, direct = self.run_both(*command)
                self.assertEqual(through, direct, command)
        # The keys are spread over the three masters, each holding its own share.
        counts = [int(redis_cli(port, "dbsize")) for port in self.cluster.masters()]
        self.assertEqual(len(counts), 3)
        self.assertTrue(all(count > 0 for count in counts), counts)
        # Keyless commands go to a master too.
        self.assertEqual(self.run_both("PING"), [True, True])
        # redis-cli, byte for byte what the standalone Redis prints.
        for args in (["set", "cli:k", "v"], ["get", "cli:k"], ["hset", "cli:h", "a", "1"], ["hgetall", "cli:h"],
                     ["incr", "cli:k"], ["object", "encoding", "cli:h"]):
            through = subprocess.run(["redis-cli", "-p", str(self.via)] + args, capture_output=True, timeout=10)
            direct = subprocess.run(["redis-cli", "-p", str(self.standalone.port)] + args, capture_output=True,
                                    timeout=10)
            self.assertEqual((through.returncode, through.stdout), (direct.returncode, direct.stdout), args)

    def test_2_hash_tags_keep_keys_together(self):
        self.assertEqual(self.run_both("MSET", "{user:7}:name", "ann", "{user:7}:mail", "a@x"), [True, True])
        self.assertEqual(self.run_both("MGET", "{user:7}:name", "{user:7}:mail"), [[b"ann", b"a@x"]] * 2)
        self.assertEqual(self.run_both("SUNIONSTORE", "{t}dest", "{t}a", "{t}b"), [0, 0])
        owner = owner_of(key_slot("user:7"))
        self.assertEqual(redis_cli(owner, "get", "{user:7}:name"), "ann")

    def test_3_keys_of_two_slots_in_one_command_get_the_clusters_own_crossslot(self):
        first, second = "cross:a", "cross:b"
        self.assertNotEqual(key_slot(first), key_slot(second))
        args = ["sunionstore", first, second, "cross:c"]
        through = subprocess.run(["redis-cli", "-p", str(self.via)] + args, capture_output=True, timeout=10)
        direct = subprocess.run(["redis-cli", "-p", str(owner_of(key_slot(first)))] + args, capture_output=True,
                                timeout=10)
        self.assertIn(b"CROSSSLOT", direct.stdout)
        self.assertEqual(through.stdout, direct.stdout)

    def test_4_multi_key_commands_over_every_master_are_split_and_merged(self):
        keys = ["multi:%d" % i for i in range(300)]
        self.assertGreater(len({owner_of(key_slot(key)) for key in keys}), 2)
        pairs = []
        for i, key in enumerate(keys):
            pairs += [key, "value %d" % i]
        for command in (["DEL"] + keys, ["MSET"] + pairs, ["MGET"] + keys[::-1] + ["multi:missing"] + keys[:5],
                        ["EXISTS"] + keys + keys[:3] + ["multi:missing"], ["TOUCH"] + keys[10:40],
                        ["UNLINK"] + keys[::2], ["MGET"] + keys, ["DEL"] + keys,
                        ["MSET", "multi:odd"],  # Redis's own arity error, whole
                        ["MGET", "multi:1", "multi:2"], ["SET", "multi:1", "x"], ["MGET", "multi:1", "multi:2", "multi:3"],
                        ["LPUSH", "multi:2", "l"], ["MGET", "multi:1", "multi:2"], ["DEL", "multi:1", "multi:2"]):
            through, direct = self.run_both(*command)
            self.assertEqual(through, direct, command[:4])
        # A pipeline of split and plain commands keeps its order.
        pipe = self.client.pipeline(transaction=False)
        for i in range(50):
            pipe.mset({"p:%d" % i: i, "q:%d" % i: -i})
            pipe.mget("p:%d" % i, "q:%d" % i, "missing")
            pipe.get("q:%d" % i)
        answers = pipe.execute()
        for i in range(50):
            self.assertEqual(answers[3 * i:3 * i + 3], [True, [str(i).encode(), str(-i).encode(), None], str(-i).encode()])
        # Clients that leave with their split commands out: the parts still out are given up,
        # and the others are served on.
        for _ in range(10):
            with harness.RespClient(self.via) as leaving:
                leaving.send_raw(b"".join(harness.resp_command("MGET", *keys[:30]) for _ in range(5)))
        self.assertEqual(self.client.mget("p:1", "q:1"), [b"1", b"-1"])
        self.assertAlive()

    def test_5_watch_transactions_blocking_pops_and_pub_sub_pin_to_their_first_keys_master(self):
        # WATCH opens the client's own connection on its key's master; the transaction follows.
        # That connection stays the client's for its life (docs/redis-cluster.md): a client of its
        # own here, so that self.client's connection stays unpinned.
        transactions = harness.redis_client(self.via)
        with transactions.pipeline(transaction=True) as pipe:
            pipe.watch("{account:9}:balance")
            pipe.multi()
            pipe.set("{account:9}:balance", 100)
            pipe.incrby("{account:9}:balance", 5)
            pipe.lpush("{account:9}:log", "credit")
            self.assertEqual(pipe.execute(), [True, 105, 1])
        self.assertEqual(redis_cli(owner_of(key_slot("account:9")), "get", "{account:9}:balance"), "105")
        transactions.close()
        # A blocking pop waits on its key's master and is released by another client's push.
        popped = []
        blocked = harness.redis_client(self.via)
        thread = threading.Thread(target=lambda: popped.append(blocked.blpop(["{jobs}:queue"], timeout=3)))
        thread.start()
        time.sleep(0.2)
        self.assertEqual(self.client.lpush("{jobs}:queue", "job-1"), 1)
        thread.join(10)
        self.assertEqual(popped, [(b"{jobs}:queue", b"job-1")])
        blocked.close()
        # SUBSCRIBE stays on one master; a PUBLISH through any master reaches it (the cluster bus).
        subscriber = harness.redis_client(self.via).pubsub()
        subscriber.subscribe("news")
        self.assertEqual(subscriber.get_message(timeout=5)["type"], "subscribe")
        received = None
        for _ in range(20):  # a publication reaches every node of the cluster soon, not at once
            self.client.publish("news", "hello")
            received = subscriber.get_message(timeout=0.5)
            if received is not None:
                break
        self.assertEqual(received and received["data"], b"hello")
        subscriber.close()

    def test_6_a_slot_moved_by_hand_under_load_moved_and_ask_followed(self):
        tag = "{moving}"
        slot = key_slot("moving")
        source = owner_of(slot)
        target = next(port for port in self.cluster.masters() if port != source)
        source_id, target_id = node_id(source), node_id(target)
        keys = ["%s:%d" % (tag, i) for i in range(40)]
        for key in keys:
            self.assertTrue(self.client.set(key, "before " + key))
        load = Load(self.via, keys[:10] + ["steady:%d" % i for i in range(10)])
        load.start()
        try:
            self.assertEqual(redis_cli(target, "cluster", "setslot", slot, "importing", source_id), "OK")
            self.assertEqual(redis_cli(source, "cluster", "setslot", slot, "migrating", target_id), "OK")
            # Half the keys move: those are ASKed for on the target, the rest still answered here.
            moved = keys[20:]
            self.assertEqual(redis_cli(source, "migrate", harness.LOOPBACK, target, "", 0, 5000, "keys", *moved), "OK")
            for key in moved[:5] + keys[10:15]:
                self.assertEqual(self.client.get(key), ("before " + key).encode(), key)
            # A new key of a migrating slot is the target's (an ASK), and stays there.
            self.assertTrue(self.client.set(tag + ":new", "fresh"))
            with harness.RespClient(target) as asking:
                self.assertEqual(asking.call("ASKING"), "OK")
                self.assertEqual(asking.call("GET", tag + ":new"), b"fresh")
            time.sleep(0.2)  # the load goes on meanwhile, on moved keys and others
            for _ in range(20):  # the rest, and whatever the load wrote meanwhile
                batch = redis_cli(source, "cluster", "getkeysinslot", slot, 100).split()
                if not batch:
                    break
                self.assertEqual(redis_cli(source, "migrate", harness.LOOPBACK, target, "", 0, 5000, "keys", *batch),
                                 "OK")
            for port in self.cluster.masters():
                self.assertEqual(redis_cli(port, "cluster", "setslot", slot, "node", target_id), "OK")
            # From here the source answers MOVED: followed, and the map learns the new owner.
            for key in keys[10:]:
                self.assertEqual(self.client.get(key), ("before " + key).encode(), key)
            self.assertEqual(self.client.get(tag + ":new"), b"fresh")
            time.sleep(0.3)
        finally:
            errors = load.finish()
        self.assertGreater(load.calls, 50)
        self.assertEqual(errors, [])
        if os.environ.get("LOGLEVEL") == "debug":
            log = self.gw.log_text()
            print("\n  %d calls of load; %d MOVED and %d ASK followed" % (load.calls, log.count("follows MOVED"), log.count("follows ASK")))
        self.assertEqual(owner_of(slot), target)
        self.assertEqual(redis_cli(target, "get", keys[0]), self.client.get(keys[0]).decode())

    def test_7_a_thousand_slots_resharded_by_redis_cli_under_load_without_an_error(self):
        source, target = self.cluster.masters()[:2]
        keys = ["reshard:%d" % i for i in range(300)]
        loads = [Load(self.via, keys[i::2]) for i in range(2)]
        for load in loads:
            load.start()
        started = time.monotonic()
        try:
            done = subprocess.run(["redis-cli", "--cluster", "reshard", "%s:%d" % (harness.LOOPBACK, source),
                                   "--cluster-from", node_id(source), "--cluster-to", node_id(target),
                                   "--cluster-slots", "1000", "--cluster-yes"],
                                  capture_output=True, text=True, timeout=120)
            took = time.monotonic() - started
            time.sleep(0.2)
        finally:
            errors = [error for load in loads for error in load.finish()]
        self.assertEqual(done.returncode, 0, done.stdout[-2000:] + done.stderr[-2000:])
        calls = sum(load.calls for load in loads)
        print("\n  1000 slots moved in %.2f s under %d calls of load, %d errors" % (took, calls, len(errors)))
        self.assertEqual(errors[:10], [])
        self.assertGreater(calls, 100)

    def test_8_a_killed_master_leaves_the_bystander_alone_and_its_replica_takes_over(self):
        bystander = harness.redis_client(self.via)
        self.assertEqual(bystander.echo("hi"), b"hi")
        keys = ["failover:%d" % i for i in range(60)]
        for key in keys:
            self.client.set(key, key)
        victim = owner_of(key_slot(keys[0]))
        node = next(node for node in self.cluster.nodes if node.port == victim)
        echoes, failures = [0], []

        def echo_loop(stop):
            while not stop.is_set():
                try:
                    if bystander.echo("still here") != b"still here":
                        failures.append("wrong echo")
                    echoes[0] += 1
                except Exception as error:  # noqa: BLE001
                    failures.append(str(error))
                time.sleep(0.002)

        stop = threading.Event()
        thread = threading.Thread(target=echo_loop, args=(stop,), daemon=True)
        thread.start()
        killed = time.monotonic()
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)

        def all_readable():
            try:
                return all(self.client.get(key) == key.encode() for key in keys)
            except Exception:  # noqa: BLE001 - the failover window
                return False

        served = harness.wait_for(all_readable, 20 * harness.SLOWDOWN, step=0.1)
        took = time.monotonic() - killed
        stop.set()
        thread.join(10)
        self.assertTrue(served, "not served again within 20 s of the kill")
        print("\n  served again %.2f s after SIGKILL of master %d; the bystander got %d echoes, %d failures"
              % (took, victim, echoes[0], len(failures)))
        self.assertEqual(failures, [])
        self.assertGreater(echoes[0], 10)
        self.assertAlive()


if __name__ == "__main__":
    harness.main()
