#!/usr/bin/env python3
"""Cluster-aware clients and whole-keyspace commands through rpcgate in front of a real Redis
Cluster (six redis-servers, three masters with a replica each, behind conf/examples/redis-cluster.yaml):
rpcgate answers CLUSTER SLOTS/SHARDS/NODES/INFO/MYID as a one-node cluster whose node is its own
listener, in the shapes a real node gives (compared with one); redis-py's RedisCluster and
`redis-cli -c` work through it; DBSIZE, KEYS, SCAN, FLUSHALL, FLUSHDB, RANDOMKEY and INFO cover every
master; SELECT as a cluster node refuses it; a master down is an error, never a partial answer
(docs/redis-cluster.md)."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from redis_cluster import RedisCluster, redis_cli  # noqa: E402

SEED_PORTS = (7000, 7001, 7002)  # the example's endpoints
OWNER_BITS = 14  # a SCAN cursor's low bits name the master (docs/redis-cluster.md)


def raw_reply(port, *args, resp3=False):
    """One command's reply as the bytes that came, read up to the PONG of a PING sent behind it."""
    with harness.RespClient(port) as client:
        if resp3:
            client.call("HELLO", "3")
        client.send_raw(harness.resp_command(*args) + harness.resp_command("PING"))
        data = client.reader.buf
        deadline = time.monotonic() + harness.IO_TIMEOUT * harness.SLOWDOWN
        while not data.endswith(b"+PONG\r\n"):
            client.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = client.sock.recv(65536)
            if not chunk:
                raise EOFError("closed after %r" % data[:200])
            data += chunk
        return data[:-len(b"+PONG\r\n")]


def shape(value):
    """A parsed reply's structure: types, lengths and map keys, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def as_pairs(flat):
    """A RESP2 map (a flat list of names and values) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


class TestRedisClusterClients(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = RedisCluster(masters=3, replicas=1).start()
        cls.standalone = harness.RedisServer().start()
        seeds = dict(zip(SEED_PORTS, [node.port for node in cls.cluster.nodes[:3]]))
        cls.gw = harness.ExampleGateway("redis-cluster.yaml", seeds, log_level=os.environ.get("LOGLEVEL", "info"))
        cls.gw.start()
        cls.gateways = (cls.gw,)
        cls.via = cls.gw.port("resp")
        cls.client = harness.redis_client(cls.via)
        cls.real = cls.cluster.masters()[0]  # a real node, to compare with
        # Both workers know the map once a whole-keyspace command is answered on each.
        def map_known():
            with harness.RespClient(cls.via) as client:
                return isinstance(client.call("DBSIZE"), int)

        harness.wait_for(lambda: all(map_known() for _ in range(4)), 10 * harness.SLOWDOWN, step=0.05)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cluster.stop()
        cls.standalone.stop()

    def test_1_cluster_commands_answered_as_a_one_node_cluster_shaped_like_a_real_node(self):
        with harness.RespClient(self.via) as ours, harness.RespClient(self.real) as real:
            node_id = ours.call("CLUSTER", "MYID").decode()
            self.assertRegex(node_id, r"^[0-9a-f]{40}$")
            self.assertEqual(shape(ours.call("CLUSTER", "MYID")), shape(real.call("CLUSTER", "MYID")))
            # SLOTS: one range, every slot, its master the listener the client reached.
            slots = ours.call("CLUSTER", "SLOTS")
            self.assertEqual(slots, [[0, 16383, [harness.LOOPBACK.encode(), self.via, node_id.encode(), []]]])
            real_slots = real.call("CLUSTER", "SLOTS")
            self.assertEqual(shape(slots[0][:3]), shape(real_slots[0][:3]))
            # SHARDS: the same names, in the same order, as the real node's.
            shards = ours.call("CLUSTER", "SHARDS")
            real_shards = real.call("CLUSTER", "SHARDS")
            self.assertEqual(len(shards), 1)
            self.assertEqual(shards[0][::2], real_shards[0][::2])
            node = as_pairs(as_pairs(shards[0])[b"nodes"][0])
            real_node = as_pairs(as_pairs(real_shards[0])[b"nodes"][0])
            self.assertEqual(list(node), list(real_node))
            self.assertEqual(shape(node), shape(real_node))
            self.assertEqual((node[b"id"], node[b"port"], node[b"ip"], node[b"role"], node[b"health"]),
                             (node_id.encode(), self.via, b"127.0.0.1", b"master", b"online"))
            self.assertEqual(as_pairs(shards[0])[b"slots"], [0, 16383])
            # NODES: one line, the fields of the real node's own line.
            nodes = ours.call("CLUSTER", "NODES").decode()
            mine = next(line for line in real.call("CLUSTER", "NODES").decode().splitlines() if "myself" in line)
            self.assertEqual(nodes.count("\n"), 1)
            self.assertEqual(len(nodes.split()), len(mine.split()))
            self.assertEqual(nodes.split()[:4], [node_id, "127.0.0.1:%d@0" % self.via, "myself,master", "-"])
            self.assertEqual(nodes.split()[7:], ["connected", "0-16383"])
            # INFO: a field the real node has for every field, the cluster ok and of one node.
            info = dict(line.split(":", 1) for line in ours.call("CLUSTER", "INFO").decode().split("\r\n") if line)
            real_info = dict(line.split(":", 1) for line in real.call("CLUSTER", "INFO").decode().split("\r\n") if line)
            self.assertLessEqual(set(info), set(real_info))
            self.assertEqual((info["cluster_state"], info["cluster_known_nodes"], info["cluster_slots_ok"]),
                             ("ok", "1", "16384"))
        # The same id on another connection (another worker, maybe); RESP3 as a real node writes it.
        with harness.RespClient(self.via) as again:
            self.assertEqual(again.call("CLUSTER", "MYID").decode(), node_id)
        for args in (["CLUSTER", "SHARDS"], ["CLUSTER", "SLOTS"], ["CLUSTER", "INFO"], ["CLUSTER", "NODES"]):
            ours, real = raw_reply(self.via, *args, resp3=True), raw_reply(self.real, *args, resp3=True)
            self.assertEqual(ours[:1], real[:1], args)
            self.assertEqual(ours.count(b"%"), len(ours.split(b"%")) - 1)
            self.assertEqual([line[:1] for line in ours.split(b"\r\n") if line[:1] in (b"%", b"*", b"=")][:3],
                             [line[:1] for line in real.split(b"\r\n") if line[:1] in (b"%", b"*", b"=")][:3], args)
        # Settings and errors byte for byte as a cluster node answers them; SELECT n refused.
        self.assertTrue(self.client.set("select:k", "v"))
        for args in (["SELECT", "1"], ["SELECT", "0"], ["SELECT", "x"], ["SELECT"], ["SELECT", "-1"], ["READONLY"],
                     ["READWRITE"], ["ASKING"], ["READONLY", "x"], ["CLUSTER"], ["CLUSTER", "SLOTS", "x"],
                     ["CLUSTER", "NOSUCH"], ["CLUSTER", "KEYSLOT", "select:k"], ["CLUSTER", "REPLICAS", "f" * 40]):
            self.assertEqual(raw_reply(self.via, *args), raw_reply(self.real, *args), args)
        # A slot's own counts come from its master.
        slot = int(redis_cli(self.real, "cluster", "keyslot", "select:k"))
        self.assertEqual(self.client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot), 1)
        self.assertEqual(self.client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10), [b"select:k"])
        self.assertIn(b"not served by rpcgate", raw_reply(self.via, "CLUSTER", "MEET", "127.0.0.1", "1"))
        # SELECT 1 pins nothing: the client's next commands reach every master.
        with harness.RespClient(self.via) as client:
            self.assertIsInstance(client.call("SELECT", "1"), harness.RespError)
            for i in range(30):
                self.assertEqual(client.call("SET", "after-select:%d" % i, i), "OK")

    def test_2_redis_pys_cluster_client_works_through_rpcgate(self):
        from redis.cluster import RedisCluster as PyRedisCluster
        client = PyRedisCluster(host=harness.LOOPBACK, port=self.via, socket_timeout=harness.IO_TIMEOUT)
        try:
            self.assertEqual([(node.host, node.port) for node in client.get_nodes()], [(harness.LOOPBACK, self.via)])
            keys = ["py:%d" % i for i in range(200)]
            for i, key in enumerate(keys):
                self.assertTrue(client.set(key, i))
            for i, key in enumerate(keys):
                self.assertEqual(client.get(key), str(i).encode())
            # Every master holds some of them: rpcgate routed what the client sent to its one node.
            for port in self.cluster.masters():
                self.assertTrue(redis_cli(port, "keys", "py:*"), port)
            self.assertEqual(client.mget_nonatomic(keys[::-1]), [str(i).encode() for i in range(199, -1, -1)])
            pipe = client.pipeline()
            for key in keys[:50]:
                pipe.incr(key)
                pipe.get(key)
            answers = pipe.execute()
            self.assertEqual(answers[0::2], list(range(1, 51)))
            self.assertEqual(answers[1::2], [str(i + 1).encode() for i in range(50)])
            total = sum(int(redis_cli(port, "dbsize")) for port in self.cluster.masters())
            self.assertEqual(client.dbsize(), total)
            self.assertEqual(sorted(client.keys("py:*")), sorted(key.encode() for key in keys))
            self.assertEqual(client.info()["cluster_enabled"], 1)
        finally:
            client.close()
        # One that reads from replicas sends READONLY on its connections: a master's +OK, no pin.
        reader = PyRedisCluster(host=harness.LOOPBACK, port=self.via, read_from_replicas=True,
                                socket_timeout=harness.IO_TIMEOUT)
        try:
            self.assertEqual([reader.get(key) for key in keys[:100:7]],
                             [str(i + 1 if i < 50 else i).encode() for i in range(0, 100, 7)])  # 50 incremented
        finally:
            reader.close()

    def test_3_redis_cli_in_cluster_mode_and_plain(self):
        def cli(port, *args, cluster=False):
            done = subprocess.run(["redis-cli"] + (["-c"] if cluster else []) + ["-p", str(port)] + list(args),
                                  capture_output=True, timeout=10 * harness.SLOWDOWN)
            return done.returncode, done.stdout

        for i in range(12):
            for args in (["set", "cli:%d" % i, "v%d" % i], ["get", "cli:%d" % i], ["incr", "cli:n:%d" % i]):
                self.assertEqual(cli(self.via, *args, cluster=True), cli(self.standalone.port, *args), args)
            args = ["cluster", "keyslot", "cli:%d" % i]
            self.assertEqual(cli(self.via, *args, cluster=True), cli(self.real, *args), args)
        # --scan walks every master: each key once.
        code, out = cli(self.via, "--scan", "--pattern", "cli:*", cluster=True)
        self.assertEqual(code, 0)
        scanned = out.decode().split()
        self.assertEqual(sorted(scanned), sorted(["cli:%d" % i for i in range(12)] + ["cli:n:%d" % i for i in range(12)]))
        # INFO shows every master's sections, named with the master.
        code, out = cli(self.via, "info")
        self.assertEqual(code, 0)
        for port in self.cluster.masters():
            self.assertIn(("# Server 127.0.0.1:%d\r\n" % port).encode(), out)
        code, out = cli(self.via, "info", "keyspace")
        self.assertEqual(code, 0)
        self.assertEqual(out.count(b"# Keyspace 127.0.0.1:"), 3)

    def test_4_whole_keyspace_commands_cover_every_master(self):
        self.assertEqual(self.client.flushall(), True)
        self.assertEqual([int(redis_cli(port, "dbsize")) for port in self.cluster.masters()], [0, 0, 0])
        self.assertEqual(self.client.randomkey(), None)
        keys = ["ks:%d" % i for i in range(300)]
        self.client.mset({key: key for key in keys})
        for i in range(0, 300, 10):
            self.client.rpush("ks:list:%d" % i, "x")
        counts = [int(redis_cli(port, "dbsize")) for port in self.cluster.masters()]
        self.assertTrue(all(count > 0 for count in counts), counts)
        self.assertEqual(self.client.dbsize(), 330)
        self.assertEqual(sorted(self.client.keys("*")), sorted(k.encode() for k in keys + ["ks:list:%d" % i for i in range(0, 300, 10)]))
        self.assertEqual(sorted(self.client.keys("ks:1?")), sorted(("ks:1%d" % i).encode() for i in range(10)))
        # SCAN: a client that iterates to cursor 0 sees every key once; MATCH, COUNT, TYPE passed on.
        for options in ({}, {"count": 7}, {"match": "ks:2*", "count": 50}, {"_type": "list"}):
            seen, cursor, masters = [], 0, set()
            for _ in range(2000):
                cursor, batch = self.client.scan(cursor, **options)
                seen += batch
                masters.add(cursor & ((1 << OWNER_BITS) - 1))
                if cursor == 0:
                    break
            self.assertEqual(cursor, 0, options)
            self.assertEqual(masters, {0, 1, 2}, options)
            self.assertEqual(len(seen), len(set(seen)), options)
            expected = set(self.client.keys(options.get("match", "*")))
            if "_type" in options:
                expected = {key for key in expected if key.startswith(b"ks:list:")}
            self.assertEqual(set(seen), expected, options)
        # Redis's own refusal of a cursor it cannot read, or one naming a master there is not.
        for args in (["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["KEYS"], ["DBSIZE", "1"], ["FLUSHALL", "NOW"]):
            self.assertEqual(raw_reply(self.via, *args), raw_reply(self.real, *args), args)
        self.assertEqual(raw_reply(self.via, "SCAN", str(5)), b"-ERR invalid cursor\r\n")
        # RANDOMKEY: some key, also when a master is empty.
        self.assertIn(self.client.randomkey().decode(), keys + ["ks:list:%d" % i for i in range(0, 300, 10)])
        redis_cli(self.cluster.masters()[0], "flushall")
        for _ in range(6):
            self.assertIsNotNone(self.client.randomkey())
        # FLUSHDB to every master, with its option.
        self.assertEqual(raw_reply(self.via, "FLUSHDB", "ASYNC"), b"+OK\r\n")
        self.assertTrue(harness.wait_for(lambda: self.client.dbsize() == 0, 5 * harness.SLOWDOWN))
        self.assertEqual(raw_reply(self.via, "FLUSHALL", "SYNC"), b"+OK\r\n")

    def test_5_a_master_down_is_an_error_never_a_partial_answer(self):
        for i in range(60):
            self.client.set("down:%d" % i, i)
        victim = self.cluster.masters()[-1]
        node = next(node for node in self.cluster.nodes if node.port == victim)
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)
        # Until its replica takes over, what needs every master fails, and says so.
        with harness.RespClient(self.via) as client:
            for args in (["DBSIZE"], ["KEYS", "*"], ["FLUSHDB"], ["SCAN", str(2)], ["INFO"]):
                answer = client.call(*args)
                self.assertIsInstance(answer, harness.RespError, args)
                self.assertTrue(str(answer).startswith(("UNAVAILABLE", "UPSTREAM_ERROR", "TIMEOUT")), answer)
        # Once the replica is promoted and the map says so, every key is counted again.
        started = time.monotonic()

        def counted():
            try:
                # The replica has what it had received: the last writes before the kill may be lost.
                return self.client.dbsize() == sum(int(redis_cli(port, "dbsize")) for port in self.cluster.masters())
            except Exception:  # noqa: BLE001 - the failover window
                return False

        self.assertTrue(harness.wait_for(counted, 20 * harness.SLOWDOWN, step=0.1))
        print("\n  DBSIZE whole again %.2f s after the kill" % (time.monotonic() - started))
        self.assertAlive()


if __name__ == "__main__":
    harness.main()
