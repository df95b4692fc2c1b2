#!/usr/bin/env python3
"""MGET of the same keys, one call after another from one redis-py client: a plain client through
rpcgate (one MGET, split by rpcgate), or redis-py's cluster-aware RedisCluster straight to a Redis
Cluster (mget_nonatomic: the keys grouped by slot, one pipeline per node). For bench/run.py's
cluster section; prints {"requests", "rps", "p50_us", "p99_us", "errors", "first_error"} as JSON.

    cluster_mget.py --port P [--cluster] --keys 100 --calls 2000 --seconds 10 [--setup]
"""
import argparse
import json
import time

import redis
from redis.cluster import RedisCluster


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cluster", action="store_true", help="RedisCluster, with the port as its seed")
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--setup", action="store_true", help="set the keys (value: the key) and exit")
    args = parser.parse_args()
    if args.cluster:
        client = RedisCluster(host="127.0.0.1", port=args.port, socket_timeout=10)
        fetch = client.mget_nonatomic
    else:
        client = redis.Redis(host="127.0.0.1", port=args.port, socket_timeout=10)
        fetch = client.mget
    keys = ["bench:mget:%d" % i for i in range(args.keys)]
    expected = [key.encode() for key in keys]
    if args.setup:
        for key in keys:
            client.set(key, key)
        return
    fetch(keys)  # the connections and, for RedisCluster, the slot map: before the clock starts
    latencies, errors, first_error = [], 0, None
    started = time.perf_counter()
    while len(latencies) < args.calls and time.perf_counter() - started < args.seconds:
        t0 = time.perf_counter()
        try:
            got = fetch(keys)
            if got != expected:
                errors += 1
                first_error = first_error or "wrong values: %r" % (got[:3],)
        except Exception as error:  # noqa: BLE001 - counted and reported
            errors += 1
            first_error = first_error or str(error)
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6  # noqa: E731
    print(json.dumps({"requests": len(latencies), "rps": len(latencies) / wall, "p50_us": pick(0.5),
                      "p99_us": pick(0.99), "errors": errors, "first_error": first_error}))


if __name__ == "__main__":
    main()
