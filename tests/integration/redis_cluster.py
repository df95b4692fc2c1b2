"""A real Redis Cluster for the tests: cluster-enabled redis-servers on free loopback ports,
joined by redis-cli's own `--cluster create` (masters, each with its replicas), stopped by their
PIDs. Nothing here speaks the cluster bus: redis-cli and the servers do all of it.

    with RedisCluster(masters=3, replicas=1) as cluster:
        cluster.nodes[0].port, cluster.masters(), cluster.kill(node) ...
"""
import os
import subprocess
import time

import harness

# A node's cluster bus listens on its port + 10000, which must be a port too.
HIGHEST_PORT = 65535 - 10000


def cluster_ports(count):
    ports = []
    while len(ports) < count:
        ports += [p for p in harness.free_ports(count) if p <= HIGHEST_PORT and p not in ports]
    return ports[:count]


def redis_cli(port, *args, timeout=10):
    done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(port)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)
    return done.stdout.strip()


class RedisCluster:
    def __init__(self, masters=3, replicas=1, node_timeout_ms=1000):
        self.masters_count = masters
        self.replicas = replicas
        self.nodes = [harness.RedisServer("--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms),
                                          # a replica syncs at once, not after Redis's 5 s wait for others
                                          "--repl-diskless-sync-delay", "0",
                                          # and is listed once it has an offset: pinged each second
                                          "--repl-ping-replica-period", "1", port=port)
                      for port in cluster_ports(masters * (1 + replicas))]

    def start(self):
        started = time.monotonic()
        try:
            for node in self.nodes:
                node.start()
            addresses = ["%s:%d" % (harness.LOOPBACK, node.port) for node in self.nodes]
            subprocess.run(["redis-cli", "--cluster", "create"] + addresses +
                           ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            if not harness.wait_for(self.settled, 30 * harness.SLOWDOWN):
                raise RuntimeError("the cluster did not settle: " + redis_cli(self.nodes[0].port, "cluster", "nodes"))
        except Exception:
            self.stop()
            raise
        self.took = time.monotonic() - started
        return self

    def settled(self):
        """Every node says the cluster is ok and lists every replica with its master."""
        for node in self.nodes:
            if "cluster_state:ok" not in redis_cli(node.port, "cluster", "info"):
                return False
            slots = redis_cli(node.port, "cluster", "slots").split()
            if sum(1 for n in self.nodes if str(n.port) in slots) != len(self.nodes):
                return False
        return True

    def masters(self):
        """The ports of the nodes that are masters now."""
        return [node.port for node in self.nodes if "role:master" in redis_cli(node.port, "info", "replication")]

    def stop(self):
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


if __name__ == "__main__":
    with RedisCluster() as cluster:
        print("a cluster of %d nodes in %.2f s; masters %s" % (len(cluster.nodes), cluster.took, cluster.masters()))
    print(os.path.basename(__file__), "ok")
