#!/usr/bin/env python3
"""Connection state through rpcgate in front of a real Redis Cluster (six redis-servers, three
masters with a replica each), docs/redis-cluster.md "Connection state" and "Reads from replicas":
a MULTI waits for its first key and runs on that key's master, a command of the transaction that
strays gets the node's own error (bytes compared with a node asked directly), the client's own
connection is given up when its session ends so that its next commands follow their keys again,
SUBSCRIBE and SSUBSCRIBE; read_from: replica_preferred (reads counted on the replicas, a MOVED
from a replica followed, the master when no replica is left); and a master killed under a write
load: served again within the cluster's failover time plus 1 s, every acknowledged write kept."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from redis_cluster import RedisCluster, redis_cli  # noqa: E402

SEED_PORTS = (7000, 7001, 7002)  # the example's endpoints


class Recorder:
    """A socket as RespReader reads it, keeping every byte received."""

    def __init__(self, sock):
        self.sock = sock
        self.received = b""

    def settimeout(self, timeout):
        self.sock.settimeout(timeout)

    def recv(self, size):
        chunk = self.sock.recv(size)
        self.received += chunk
        return chunk


def transcript(port, commands, timeout=harness.IO_TIMEOUT):
    """The bytes of the replies to `commands`, sent one by one on one connection."""
    with harness.RespClient(port, timeout) as client:
        recorder = Recorder(client.sock)
        client.reader.sock = recorder
        for command in commands:
            client.send(*command)
            client.read()
        return recorder.received[:len(recorder.received) - len(client.reader.buf)]


class TestRedisClusterState(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = RedisCluster(masters=3, replicas=1).start()
        seeds = dict(zip(SEED_PORTS, [node.port for node in cls.cluster.nodes[:3]]))
        level = os.environ.get("LOGLEVEL", "info")
        cls.gw = harness.ExampleGateway("redis-cluster.yaml", seeds, log_level=level)
        cls.gw.start()
        # The same, reading from the replicas.
        cls.reader_gw = harness.ExampleGateway("redis-cluster.yaml", seeds, log_level=level)
        assert "read_from: master" in cls.reader_gw.example
        cls.reader_gw.example = cls.reader_gw.example.replace("read_from: master", "read_from: replica_preferred")
        cls.reader_gw.start()
        cls.gateways = (cls.gw, cls.reader_gw)
        cls.via = cls.gw.port("resp")
        cls.client = harness.redis_client(cls.via)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cluster.stop()

    def node(self, port):
        return next(node for node in self.cluster.nodes if node.port == port)

    def slot(self, key):
        return int(redis_cli(self.cluster.nodes[0].port, "cluster", "keyslot", key))

    def owner_from_slots(self, slot):
        for entry in harness.redis_client(self.cluster.nodes[0].port).execute_command("CLUSTER", "SLOTS"):
            if entry[0] <= slot <= entry[1]:
                return entry[2][1]
        raise AssertionError("no owner for slot %d" % slot)

    def replica_of(self, master_port):
        for entry in harness.redis_client(self.cluster.nodes[0].port).execute_command("CLUSTER", "SLOTS"):
            if entry[2][1] == master_port and len(entry) > 3:
                return entry[3][1]
        raise AssertionError("no replica for master %d" % master_port)

    def keys_on_other_masters(self, key, count=1, prefix="other"):
        """Keys whose masters are not `key`'s, and one of another slot on `key`'s master."""
        home = self.owner_from_slots(self.slot(key))
        away, near = [], None
        for i in range(2000):
            candidate = "%s:%d" % (prefix, i)
            owner = self.owner_from_slots(self.slot(candidate))
            if owner != home and len(away) < count:
                away.append(candidate)
            elif owner == home and near is None and self.slot(candidate) != self.slot(key):
                near = candidate
            if len(away) == count and near is not None:
                return away, near
        raise AssertionError("no keys found")

    def test_1_multi_waits_for_its_first_key_and_the_pin_is_released_after_exec(self):
        home = self.owner_from_slots(self.slot("{acct}"))
        (away,), near = self.keys_on_other_masters("{acct}")
        with harness.RespClient(self.via) as client:
            self.assertEqual(client.call("MULTI"), "OK")
            self.assertEqual(client.call("SET", "{acct}:balance", 10), "QUEUED")
            self.assertEqual(client.call("INCRBY", "{acct}:balance", 5), "QUEUED")
            self.assertEqual(client.call("EXEC"), ["OK", 15])
            # The session is over: the next commands follow their keys, on any master.
            self.assertEqual(client.call("SET", away, "a"), "OK")
            self.assertEqual(client.call("GET", away), b"a")
            self.assertEqual(client.call("GET", "{acct}:balance"), b"15")
            # WATCH ... EXEC, then UNWATCH alone, then a blocking pop answered: each released.
            self.assertEqual(client.call("WATCH", "{acct}:balance"), "OK")
            self.assertEqual(client.call("MULTI"), "OK")
            self.assertEqual(client.call("INCR", "{acct}:balance"), "QUEUED")
            self.assertEqual(client.call("EXEC"), [16])
            self.assertEqual(client.call("GET", away), b"a")
            self.assertEqual(client.call("WATCH", away), "OK")
            self.assertEqual(client.call("UNWATCH"), "OK")
            self.assertEqual(client.call("GET", "{acct}:balance"), b"16")
            self.assertEqual(client.call("RPUSH", "{acct}:jobs", "j"), 1)
            self.assertEqual(client.call("BLPOP", "{acct}:jobs", 1), [b"{acct}:jobs", b"j"])
            self.assertEqual(client.call("GET", away), b"a")
            # MULTI then DISCARD, and MULTI then EXEC with nothing between, never reach a node.
            self.assertEqual(client.call("MULTI"), "OK")
            self.assertEqual(client.call("DISCARD"), "OK")
            self.assertEqual(client.call("MULTI"), "OK")
            self.assertEqual(client.call("EXEC"), [])
            self.assertEqual(client.call("GET", near), None)
        self.assertEqual(redis_cli(home, "get", "{acct}:balance"), "16")

    def test_2_a_transaction_that_strays_gets_the_nodes_own_errors_byte_for_byte(self):
        home = self.owner_from_slots(self.slot("{tx}"))
        (away,), near = self.keys_on_other_masters("{tx}", prefix="stray")
        sessions = [
            # another master's key: MOVED, and EXEC aborts
            [("MULTI",), ("SET", "{tx}:a", 1), ("SET", away, 2), ("EXEC",), ("GET", "{tx}:a")],
            # a key of another slot on the same master: queued, and EXEC answers CROSSSLOT
            [("MULTI",), ("SET", "{tx}:a", 1), ("SET", near, 2), ("EXEC",), ("GET", "{tx}:a")],
            # held MULTI answered here: nested MULTI, WATCH inside, EXEC of nothing, DISCARD
            [("MULTI",), ("MULTI",), ("WATCH", "{tx}:a"), ("EXEC",), ("MULTI",), ("DISCARD",), ("EXEC",)],
            # errors of the node at EXEC: arity
            [("MULTI",), ("SET", "{tx}:a", 3), ("EXEC", "extra"), ("GET", "{tx}:a")],
            # a keyless command first: on some master, and the key's command there is MOVED or runs
            [("WATCH", "{tx}:a"), ("MULTI",), ("PING",), ("SET", "{tx}:a", 4), ("EXEC",), ("GET", "{tx}:a")],
            # keys of two slots in one blocking command
            [("BLPOP", "{tx}:q", away, "0.1"), ("GET", "{tx}:a")],
        ]
        for session in sessions:
            direct = transcript(home, session)
            through = transcript(self.via, session)
            self.assertEqual(through, direct, session)

    def test_3_subscribe_hears_a_cluster_wide_publish_and_ssubscribe_its_shard(self):
        with harness.RespClient(self.via) as subscriber:
            self.assertEqual(subscriber.call("SUBSCRIBE", "news"), [b"subscribe", b"news", 1])
            heard = None
            for port in self.cluster.masters():  # a PUBLISH on any master reaches every node
                for _ in range(20):
                    harness.redis_client(port).publish("news", "from %d" % port)
                    try:
                        heard = subscriber.read(timeout=0.5)
                        break
                    except OSError:
                        continue
                self.assertEqual(heard, [b"message", b"news", b"from %d" % port])
        # SSUBSCRIBE on the channel's shard: an SPUBLISH through rpcgate from another client.
        with harness.RespClient(self.via) as subscriber:
            self.assertEqual(subscriber.call("SSUBSCRIBE", "orders"), [b"ssubscribe", b"orders", 1])
            self.assertEqual(self.client.execute_command("SPUBLISH", "orders", "o-1"), 1)
            self.assertEqual(subscriber.read(), [b"smessage", b"orders", b"o-1"])
        # Channels of two slots: the node's CROSSSLOT, as a node answers it.
        (away,), _ = self.keys_on_other_masters("orders", prefix="chan")
        home = self.owner_from_slots(self.slot("orders"))
        self.assertEqual(transcript(self.via, [("SSUBSCRIBE", "orders", away)]),
                         transcript(home, [("SSUBSCRIBE", "orders", away)]))

    def test_4_reads_go_to_replicas_with_readonly_writes_to_masters(self):
        via = self.reader_gw.port("resp")
        client = harness.redis_client(via)
        keys = ["replica:%d" % i for i in range(60)]
        for key in keys:
            self.assertTrue(client.set(key, key))
        replicas = [self.replica_of(port) for port in self.cluster.masters()]

        def calls(port, command):
            stats = harness.redis_client(port).info("commandstats")
            return stats.get("cmdstat_" + command, {}).get("calls", 0)

        before = {port: calls(port, "get") for port in replicas}
        for _ in range(3):
            values = {}
            for key in keys:
                values[key] = client.get(key)
            # A replica may lag its master by a moment: what it serves settles to what was set.
            if all(values[key] == key.encode() for key in keys):
                break
            time.sleep(0.2)
        self.assertEqual([values[key] for key in keys], [key.encode() for key in keys])
        self.assertEqual(client.mget(keys), [key.encode() for key in keys])  # split, parts to replicas
        served = {port: calls(port, "get") - before[port] for port in replicas}
        self.assertTrue(all(count > 0 for count in served.values()), served)
        self.assertTrue(all(calls(port, "readonly") > 0 for port in replicas))
        # The default gateway reads from masters only.
        before = {port: calls(port, "get") for port in replicas}
        for key in keys[:10]:
            self.client.get(key)
        self.assertEqual({port: calls(port, "get") for port in replicas}, before)

    def test_5_a_moved_from_a_replica_is_followed(self):
        via = self.reader_gw.port("resp")
        client = harness.redis_client(via)
        slot = self.slot("{wander}")
        source = self.owner_from_slots(slot)
        target = next(port for port in self.cluster.masters() if port != source)
        self.assertTrue(client.set("{wander}:k", "here"))
        self.assertEqual(client.get("{wander}:k"), b"here")  # rpcgate's map: the source's replica
        source_id, target_id = redis_cli(source, "cluster", "myid"), redis_cli(target, "cluster", "myid")
        self.assertEqual(redis_cli(target, "cluster", "setslot", slot, "importing", source_id), "OK")
        self.assertEqual(redis_cli(source, "cluster", "setslot", slot, "migrating", target_id), "OK")
        self.assertEqual(redis_cli(source, "migrate", harness.LOOPBACK, target, "", 0, 5000, "keys", "{wander}:k"), "OK")
        for node in self.cluster.nodes:
            redis_cli(node.port, "cluster", "setslot", slot, "node", target_id)
        # rpcgate's map still names the source: its replica answers MOVED, which is followed.
        stale = self.replica_of(source)

        def rejected_gets():
            stats = harness.redis_client(stale).info("commandstats").get("cmdstat_get", {})
            return stats.get("rejected_calls", 0)

        before = rejected_gets()
        self.assertEqual(client.get("{wander}:k"), b"here")
        self.assertGreater(rejected_gets(), before)  # the replica's MOVED
        self.assertEqual(client.get("{wander}:k"), b"here")

    def test_6_reads_fall_back_to_the_master_when_its_replica_is_gone(self):
        via = self.reader_gw.port("resp")
        client = harness.redis_client(via)
        master = self.owner_from_slots(self.slot("{fallback}"))
        self.assertTrue(client.set("{fallback}:k", "v"))
        replica = self.replica_of(master)
        node = self.node(replica)
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)
        for _ in range(20):
            self.assertEqual(client.get("{fallback}:k"), b"v")
        self.assertAlive(self.reader_gw)

    def test_7_a_master_killed_under_writes_serves_again_and_keeps_every_acknowledged_write(self):
        # A master that still has its replica (test 6 killed another master's).
        victim = next(port for port in self.cluster.masters()
                      if self.node(self.replica_of(port)).proc.poll() is None)
        replica = self.replica_of(victim)
        acked, errors, acked_at = {}, [], []
        stop = threading.Event()
        writer = harness.redis_client(self.via)

        def load():
            i = 0
            while not stop.is_set() and i < 20000:
                key = "fo:%d" % i
                try:
                    if writer.set(key, "v%d" % i):
                        acked[key] = "v%d" % i
                        acked_at.append(time.monotonic())
                except Exception as error:  # noqa: BLE001 - the failover window
                    errors.append((time.monotonic(), str(error)))
                    time.sleep(0.01)
                i += 1

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        time.sleep(0.5)
        killed = time.monotonic()
        os.kill(self.node(victim).proc.pid, signal.SIGKILL)
        self.node(victim).proc.wait(10)
        promoted = None
        deadline = killed + 20 * harness.SLOWDOWN
        while time.monotonic() < deadline:
            if "role:master" in redis_cli(replica, "info", "replication"):
                promoted = time.monotonic()
                break
            time.sleep(0.05)
        self.assertIsNotNone(promoted, "the replica was not promoted")
        time.sleep(1.5)
        stop.set()
        thread.join(30)
        last_error = max((at for at, _ in errors), default=killed)
        print("\n  promoted %.2f s after SIGKILL, the last client error %.2f s after it; %d writes acknowledged "
              "(all read back), %d errors" % (promoted - killed, last_error - promoted, len(acked), len(errors)))
        self.assertTrue(acked)
        # A new client may land on the other worker, which learns of the failover at its first
        # failed call (its map asked for again within 100 ms): a read is tried again a few times.
        reader = harness.redis_client(self.via)

        def read(key):
            for _ in range(20):
                try:
                    return reader.get(key)
                except Exception:  # noqa: BLE001 - the other worker's first call to the dead master
                    time.sleep(0.05)
            return reader.get(key)

        lost = [key for key, value in acked.items() if read(key) != value.encode()]
        self.assertEqual(lost[:10], [])
        # Served again: no error later than the promotion plus 1 s.
        late = [error for at, error in errors if at > promoted + 1.0]
        self.assertEqual(late[:5], [])
        self.assertGreater(sum(1 for at in acked_at if at > promoted + 1.0), 10)
        self.assertAlive(self.gw)


if __name__ == "__main__":
    harness.main()
