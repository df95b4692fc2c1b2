#!/usr/bin/env python3
"""TLS to upstreams (docs/tls.md, "Upstreams"), with real peers: plain redis-cli and redis-py
through rpcgate to a TLS-only Redis (`--port 0 --tls-port N`), compared with redis-cli --tls
talking to it directly, with health checks over TLS; mutual TLS to a Redis that requires client
certificates, with and without rpcgate's; a wrong CA and a wrong server_name failing with one
clear log line and an error answer while a bystander cluster answers; a gRPC server over TLS
(grpcio's ssl_server_credentials, ALPN h2) reached from a plain gRPC client and a RESP client;
the legacy JSON framing to another rpcgate's TLS listener; hostile upstreams (garbage instead of
a ServerHello, a handshake that stalls) ending only their own connections; `rpcgate -t` on each
bad file; /config with file names only. Certificates are made here with the openssl command line."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_grpc_upstream  # noqa: E402  (its protos and gRPC server)
import test_tls  # noqa: E402  (its certificates and `rpcgate -t` fixture)

CONNECT_TIMEOUT_MS = 500


class HostileUpstream:
    """A TCP server that answers a ClientHello with `reply` (garbage), or with nothing (a stall),
    and notes each connection and whether the gateway closed it."""

    def __init__(self, reply=None):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind((harness.LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.closed_by_gateway = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                with self.lock:
                    self.accepted += 1
                threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn, contextlib.suppress(OSError):
            conn.settimeout(30)
            conn.recv(65536)  # the ClientHello
            if self.reply:
                conn.sendall(self.reply)
            while conn.recv(65536):
                pass
            with self.lock:
                self.closed_by_gateway += 1

    def stop(self):
        self.sock.close()


class TlsUpstreamTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-up-")
        cls.path = staticmethod(test_tls.make_certificates(cls.dir.name))
        cls.peers = []
        try:
            cls.start_peers()
            cls.start_front()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start_peers(cls):
        # "--port 0" after the harness's own --port: TLS only.
        tls = ["--port", "0", "--tls-cert-file", cls.path("server.pem"), "--tls-key-file", cls.path("server.key"),
               "--tls-ca-cert-file", cls.path("ca.pem")]
        tls_port, mutual_port = harness.free_ports(2)
        cls.redis_tls = harness.RedisServer(*tls, "--tls-port", str(tls_port), "--tls-auth-clients", "no", port=tls_port)
        cls.redis_mutual = harness.RedisServer(*tls, "--tls-port", str(mutual_port), "--tls-auth-clients", "yes",
                                               port=mutual_port)
        cls.redis_plain = harness.RedisServer()
        for redis in (cls.redis_tls, cls.redis_mutual, cls.redis_plain):
            redis.start()
            cls.peers.append(redis)
        test_grpc_upstream.compile_protos(cls.dir.name)
        sys.path.insert(0, cls.dir.name)
        cls.grpc = test_grpc_upstream.GrpcServer(cls.dir.name, "secure", "--tls-cert", cls.path("server.pem"),
                                                 "--tls-key", cls.path("server.key"))
        cls.peers.append(cls.grpc)
        # The legacy JSON service behind TLS: another rpcgate, answering echo in process.
        cls.legacy = harness.Gateway([{"name": "json_tls", "codec": "json",
                                       "tls": {"cert": cls.path("server.pem"), "key": cls.path("server.key")}}],
                                     handlers=["echo"]).start()
        cls.gateways = (cls.legacy,)
        cls.garbage = HostileUpstream(b"-ERR this is Redis in clear text\r\n" * 50)
        cls.stall = HostileUpstream()
        cls.peers += [cls.garbage, cls.stall]

    @classmethod
    def start_front(cls):
        ca = cls.path("ca.pem")
        client = "cert: %s, key: %s" % (cls.path("client.pem"), cls.path("client.key"))
        descriptors = "descriptors: [%s], unwrap: true" % os.path.join(cls.dir.name, "pi.pb")
        cls.admin_port = harness.free_port()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}, {"name": "json", "codec": "json"},
             {"name": "grpc", "codec": "grpc", "unwrap": True, "descriptors": [os.path.join(cls.dir.name, "pi.pb")]}],
            handlers=["ping", "echo"], process={"model": "prefork", "workers": 1},
            extra_yaml=(
                "admin: {address: 127.0.0.1:%d}\n" % cls.admin_port +
                "routes:\n"
                "  - {match: {methods: [get, set, del, incr, append, strlen, exists, mget]}, cluster: secure}\n"
                + "".join("  - {match: {method: %s.get}, cluster: %s, rename: get}\n" % (name, name)
                          for name in ("mutual", "nocert", "wrongca", "wrongname", "plain", "garbage", "stall")) +
                "  - {match: {method: mutual.set}, cluster: mutual, rename: set}\n"
                "  - {match: {method: pi}, cluster: grpc_tls, rename: pi.PiCalculator/Calc}\n"
                "  - {match: {prefix: \"pi.PiCalculator/\"}, cluster: grpc_tls}\n"
                "  - {match: {method: secure.echo}, cluster: legacy_tls, rename: echo}\n"
                "clusters:\n"
                "  - {name: secure, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s},\n"
                "     health_check: {method: ping, interval: 200ms, timeout: 200ms}}\n" % (cls.redis_tls.port, ca) +
                "  - {name: mutual, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s, %s}}\n"
                % (cls.redis_mutual.port, ca, client) +
                "  - {name: nocert, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s}}\n" % (cls.redis_mutual.port, ca) +
                "  - {name: wrongca, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s}}\n"
                % (cls.redis_tls.port, cls.path("other-ca.pem")) +
                "  - {name: wrongname, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s, server_name: redis.example.com}}\n"
                % (cls.redis_tls.port, ca) +
                "  - {name: plain, codec: resp, endpoints: [127.0.0.1:%d]}\n" % cls.redis_plain.port +
                "".join("  - {name: %s, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s}, connect_timeout: %dms}\n"
                        % (name, peer.port, ca, CONNECT_TIMEOUT_MS)
                        for name, peer in (("garbage", cls.garbage), ("stall", cls.stall))) +
                "  - {name: grpc_tls, codec: grpc, endpoints: [127.0.0.1:%d], tls: {ca: %s, server_name: localhost},\n"
                "     request_timeout: 10s, %s}\n" % (cls.grpc.port, ca, descriptors) +
                "  - {name: legacy_tls, codec: json, endpoints: [127.0.0.1:%d], tls: {ca: %s}}\n"
                % (cls.legacy.port("json_tls"), ca)))
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for peer in getattr(cls, "peers", []):
            peer.stop()
        cls.dir.cleanup()

    def redis_cli(self, *args):
        done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(self.gw.port("resp"))] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        return done.stdout.rstrip("\n")

    def redis_cli_direct(self, *args):
        """redis-cli --tls to the TLS-only Redis itself, for comparison."""
        done = subprocess.run(["redis-cli", "--tls", "--cacert", self.path("ca.pem"), "-h", harness.LOOPBACK,
                               "-p", str(self.redis_tls.port)] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        return done.stdout.rstrip("\n")

    def tls_failure_lines(self, cluster):
        return [line for line in self.gw.log_text().splitlines()
                if "cluster %s: upstream" % cluster in line and "TLS handshake failed" in line]

    def test_plain_clients_through_rpcgate_to_a_tls_only_redis(self):
        # What one side writes, the other reads: rpcgate's view of the TLS Redis is Redis's own.
        self.assertEqual(self.redis_cli("SET", "tls:up", "through rpcgate"), "OK")
        self.assertEqual(self.redis_cli_direct("GET", "tls:up"), "through rpcgate")
        self.assertEqual(self.redis_cli_direct("SET", "tls:direct", "written directly"), "OK")
        self.assertEqual(self.redis_cli("GET", "tls:direct"), "written directly")
        self.assertEqual(self.redis_cli("APPEND", "tls:up", "!"), self.redis_cli_direct("STRLEN", "tls:up"))
        for args in (("GET", "tls:up"), ("STRLEN", "tls:direct"), ("EXISTS", "tls:up", "tls:none"), ("GET", "tls:none"),
                     ("MGET", "tls:up", "tls:none", "tls:direct"), ("INCR", "tls:direct")):
            self.assertEqual(self.redis_cli(*args), self.redis_cli_direct(*args), args)
        import redis
        client = redis.Redis(host=harness.LOOPBACK, port=self.gw.port("resp"), socket_timeout=harness.IO_TIMEOUT)
        try:
            self.assertTrue(client.set("tls:big", "v" * 200000))  # many records each way
            self.assertEqual(client.get("tls:big"), b"v" * 200000)
            pipe = client.pipeline(transaction=False)
            for i in range(300):
                pipe.set("tls:k%d" % i, i)
                pipe.get("tls:k%d" % i)
            self.assertEqual(pipe.execute()[1::2], [b"%d" % i for i in range(300)])
        finally:
            client.close()

    def test_the_tls_sidecar_example_as_shipped(self):
        # conf/examples/tls-sidecar.yaml with its files in tls/ where it starts: redis-cli --tls in
        # front, the TLS-only Redis behind.
        gw = harness.ExampleGateway("tls-sidecar.yaml", {6379: self.redis_tls.port})
        os.mkdir(os.path.join(gw.dir.name, "tls"))
        for source, target in (("server.pem", "rpcgate.pem"), ("server.key", "rpcgate.key"), ("ca.pem", "redis-ca.pem")):
            shutil.copy(self.path(source), os.path.join(gw.dir.name, "tls", target))  # the key's mode too
        with gw:
            def cli(*args):
                done = subprocess.run(["redis-cli", "--tls", "--cacert", self.path("ca.pem"), "-h", harness.LOOPBACK,
                                       "-p", str(gw.port("resp"))] + list(args),
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
                return done.stdout.rstrip("\n")
            self.assertEqual(cli("SET", "tls:sidecar", "both ways"), "OK")
            self.assertEqual(self.redis_cli_direct("GET", "tls:sidecar"), "both ways")
            self.assertEqual(cli("PING"), "PONG")

    def test_health_checks_go_over_tls(self):
        def checks():
            status, _, body = harness.http(self.admin_port, "GET", "/stats")
            return json.loads(body)["clusters"]["secure"]["health_checks"] if status == 200 else 0
        self.assertTrue(harness.wait_for(lambda: checks() >= 3, timeout=5), "no health checks went to the TLS Redis")
        status, _, body = harness.http(self.admin_port, "GET", "/clusters")
        self.assertEqual(status, 200)
        health = [worker["health"] for endpoint in json.loads(body)["secure"]["endpoints"]
                  for worker in endpoint["workers"]]
        self.assertEqual(set(health), {"up"}, body)

    def test_mutual_tls_with_the_clusters_client_certificate(self):
        self.assertEqual(self.redis_cli("mutual.set", "tls:mutual", "with a certificate"), "OK")
        self.assertEqual(self.redis_cli("mutual.get", "tls:mutual"), "with a certificate")
        # Without one, the Redis that requires it refuses the handshake: an error, one log line.
        for _ in range(3):
            answer = self.redis_cli("nocert.get", "tls:mutual")
            self.assertNotEqual(answer, "with a certificate")
            self.assertIn("certificate required", answer)
        self.assertTrue(harness.wait_for(lambda: self.tls_failure_lines("nocert"), timeout=5))
        lines = self.tls_failure_lines("nocert")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("(verify)", lines[0])

    def test_wrong_ca_and_wrong_server_name_fail_clearly_beside_a_bystander(self):
        self.assertEqual(self.redis_cli("SET", "tls:shared", "for the bystanders"), "OK")
        with harness.RespClient(self.gw.port("resp")) as bystander:
            # Redis sends its CA with its certificate: OpenSSL finds a CA it does not trust in the
            # chain, rather than no issuer at all.
            cases = (("wrongca", "certificate verify failed: self-signed certificate in certificate chain"),
                     ("wrongname", "certificate verify failed: hostname mismatch"))
            for cluster, reason in cases:
                for _ in range(3):
                    answer = self.redis_cli("%s.get" % cluster, "tls:shared")
                    self.assertTrue(answer.startswith("UNAVAILABLE"), answer)
                    self.assertIn(reason, answer)
                    self.assertEqual(bystander.call("GET", "tls:shared"), b"for the bystanders")
                    self.assertEqual(bystander.call("plain.get", "tls:none"), None)
                lines = self.tls_failure_lines(cluster)
                self.assertEqual(len(lines), 1, "one log line for repeated failures: %s" % lines)
                self.assertIn("(verify)", lines[0])
                self.assertIn(reason, lines[0])
        self.assertAlive()

    def test_grpc_server_over_tls_from_a_plain_grpc_client_and_redis_cli(self):
        import grpc
        import pi_pb2
        import pi_pb2_grpc
        expected = test_grpc_upstream.GrpcServer  # noqa: F841  (the server computes compute_pi)
        with grpc.insecure_channel("127.0.0.1:%d" % self.gw.port("grpc")) as channel:
            stub = pi_pb2_grpc.PiCalculatorStub(channel)
            values = [stub.Calc(pi_pb2.PiRequest(n=n), timeout=10).value for n in (10, 1000)]
        self.assertAlmostEqual(values[1], 3.14, places=2)
        self.assertEqual(float(self.redis_cli("pi", "1000")), values[1])

    def test_legacy_json_service_behind_tls(self):
        with harness.JsonClient(self.gw.port("json")) as client:
            for i in range(3):
                answer = client.call("secure.echo", ["legacy %d" % i])
                self.assertEqual(answer.get("result"), ["legacy %d" % i], answer)
            big = client.call("secure.echo", ["x" * 70000])
            self.assertEqual(big.get("result"), ["x" * 70000])

    def test_hostile_upstreams_end_only_their_own_connections(self):
        with harness.RespClient(self.gw.port("resp")) as bystander:
            self.assertEqual(bystander.call("SET", "tls:hostile", "fine"), "OK")
            started = time.monotonic()
            for cluster in ("garbage", "stall"):
                answer = self.redis_cli("%s.get" % cluster, "tls:hostile")
                self.assertNotEqual(answer, "fine")
                self.assertEqual(bystander.call("GET", "tls:hostile"), b"fine")
                self.assertEqual(bystander.call("mutual.get", "tls:none"), None)
            self.assertLess(time.monotonic() - started, 10 * harness.SLOWDOWN)
            for hostile in (self.garbage, self.stall):
                self.assertTrue(harness.wait_for(lambda: hostile.closed_by_gateway == hostile.accepted > 0,
                                                 timeout=CONNECT_TIMEOUT_MS / 1000 * 3 * harness.SLOWDOWN),
                                "accepted %d, closed %d" % (hostile.accepted, hostile.closed_by_gateway))
            self.assertIn("(protocol)", "".join(self.tls_failure_lines("garbage")))
            self.assertIn("(timeout)", "".join(self.tls_failure_lines("stall")))
            self.assertEqual(bystander.call("GET", "tls:hostile"), b"fine")
        self.assertAlive()

    def metrics(self):
        status, _, body = harness.http(self.admin_port, "GET", "/metrics")
        self.assertEqual(status, 200)
        return body if isinstance(body, str) else body.decode()

    def test_handshakes_failures_and_certificate_expiry_in_metrics_and_stats(self):
        # One failure of each kind the hostile and misconfigured clusters cause, and good handshakes.
        self.assertEqual(self.redis_cli("SET", "tls:metrics", "x"), "OK")
        for cluster in ("wrongca", "garbage", "stall"):
            self.redis_cli("%s.get" % cluster, "tls:metrics")
        text = self.metrics()
        parsed = harness.metric_samples(text)
        value = lambda name, **labels: harness.metric_value(parsed, name, **labels)  # noqa: E731
        self.assertGreaterEqual(value("rpcgate_tls_handshakes_total", cluster="secure"), 1)
        for cluster, reason in (("wrongca", "verify"), ("garbage", "protocol"), ("stall", "timeout")):
            self.assertGreaterEqual(value("rpcgate_tls_handshake_failures_total", cluster=cluster, reason=reason), 1,
                                    cluster)
            self.assertEqual(value("rpcgate_tls_handshakes_total", cluster=cluster), 0)
        self.assertEqual(value("rpcgate_tls_handshake_failures_total", cluster="secure", reason="verify"), 0)
        now = time.time()
        for role, name in (("ca", "ca.pem"), ("cert", "client.pem")):
            expiry = value("rpcgate_tls_cert_expiry_seconds", cluster="mutual", role=role, file=self.path(name))
            self.assertTrue(now + 86400 < expiry <= now + 2 * 86400 + 60, (role, expiry - now))
        # The plain cluster has no TLS series.
        self.assertNotIn('cluster="plain"', "".join(line for line in text.splitlines() if "rpcgate_tls_" in line))
        status, _, body = harness.http(self.admin_port, "GET", "/stats")
        stats = json.loads(body)["tls"]["clusters"]
        self.assertGreaterEqual(stats["wrongca"]["handshake_failures"]["verify"], 1)
        self.assertEqual(stats["mutual"]["certificates"][0]["file"], self.path("ca.pem"))
        self.assertGreater(stats["mutual"]["certificates"][0]["expires_in_seconds"], 86400)
        self.assertNotIn("plain", stats)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                   timeout=60)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_config_shows_file_names_only(self):
        status, _, body = harness.http(self.admin_port, "GET", "/config")
        self.assertEqual(status, 200)
        cluster = [item for item in json.loads(body)["clusters"] if item["name"] == "mutual"][0]
        self.assertEqual(cluster["tls"], {"ca": self.path("ca.pem"), "cert": self.path("client.pem"),
                                          "key": self.path("client.key"), "verify": True})
        with open(self.path("client.key")) as f:
            key_lines = [line for line in f.read().splitlines() if line and not line.startswith("-----")]
        for line in key_lines:
            self.assertNotIn(line, body)
            self.assertNotIn(line, self.gw.log_text())


class TlsUpstreamConfigCheckTest(test_tls.CertificateCheckCase):
    """`rpcgate -t` loads every cluster's CA, certificate and key and says which file is wrong, and why."""

    def check(self, tls):
        return self.check_config({
            "listeners": [{"name": "front", "address": "127.0.0.1:%d" % harness.free_port(), "codec": "resp"}],
            "routes": [{"match": {"method": "get"}, "cluster": "secure"}],
            "clusters": [{"name": "secure", "codec": "resp", "endpoints": ["127.0.0.1:6379"], "tls": tls}]})

    def test_good(self):
        for tls in ({"ca": self.path("ca.pem")}, {}, {"verify": False},
                    {"ca": self.path("ca.pem"), "cert": self.path("client.pem"), "key": self.path("client.key"),
                     "server_name": "redis.internal"}):
            rc, out = self.check(tls)
            self.assertEqual(rc, 0, "%s: %s" % (tls, out))

    def test_problems_name_the_file_and_the_reason(self):
        shared = self.path("shared.key")
        with open(self.path("client.key")) as source, open(shared, "w") as copy:
            copy.write(source.read())
        os.chmod(shared, 0o644)
        cases = [
            ({"ca": self.path("nowhere.pem")}, "ca %s: cannot load: " % self.path("nowhere.pem")),
            ({"ca": self.path("ca.pem"), "cert": self.path("client.pem"), "key": self.path("server.key")},
             "key %s: does not match cert %s" % (self.path("server.key"), self.path("client.pem"))),
            ({"cert": self.path("expired.pem"), "key": self.path("expired.key")},
             "cert %s: has expired" % self.path("expired.pem")),
            ({"cert": self.path("client.pem"), "key": shared}, "key %s: readable by others (mode 0644)" % shared),
            ({"cert": self.path("client.pem")}, "cert and key go together"),
            ({"server_name": "redis internal"}, "a server name is a DNS name or an IP address"),
            ({"verify": "sometimes"}, "verify"),
            ({"ca": self.path("ca.pem"), "sever_name": "x"}, "did you mean 'server_name'"),
        ]
        for tls, expected in cases:
            rc, out = self.check(tls)
            self.assertNotEqual(rc, 0, "%s passed the check" % tls)
            self.assertIn(expected, out)


if __name__ == "__main__":
    harness.main()
