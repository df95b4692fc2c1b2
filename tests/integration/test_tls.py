#!/usr/bin/env python3
"""TLS on listeners (docs/tls.md), with real peers: redis-cli --tls and redis-py over TLS to a RESP
listener answered in-process and passed through to a plain redis-server; Python's ssl module around
the legacy JSON framing; a client trusting another CA; mutual TLS; hostile clients (garbage, half a
handshake, silence) beside a plain and a TLS bystander; `rpcgate -t` on bad certificates and keys;
no key bytes in /config or the log. Certificates are made here with the openssl command line."""

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_grpc  # noqa: E402  (its protos and listener)

HANDSHAKE_TIMEOUT_S = 1

# A CA, a server certificate for localhost and 127.0.0.1, a client certificate from the same CA,
# a client certificate from another CA, and an expired self-signed server certificate.
MAKE_CERTIFICATES = r"""
set -e
exec >openssl.log 2>&1
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=rpcgate-test-ca
openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=another-ca
issue() {  # name, CA, subject
  openssl req $ec -keyout $1.key -out $1.csr -subj "$3" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -out $1.pem -days 2 -copy_extensions copy
}
issue server ca /CN=localhost
issue client ca /CN=client-one
issue stranger other-ca /CN=client-two
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' >ca.cnf
: >index.txt; echo 01 >serial
openssl req $ec -keyout expired.key -out expired.csr -subj /CN=localhost
openssl ca -batch -config ca.cnf -selfsign -keyfile expired.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem
openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key
chmod 600 *.key
"""


def make_certificates(directory):
    done = subprocess.run(["sh", "-c", MAKE_CERTIFICATES], cwd=directory, timeout=60)
    if done.returncode != 0:
        with open(os.path.join(directory, "openssl.log")) as f:
            raise RuntimeError("openssl failed:\n" + f.read())
    return lambda name: os.path.join(directory, name)


def tls_client(port, ca, cert=None, key=None, timeout=harness.IO_TIMEOUT):
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    raw = harness.connect(port, timeout)
    return context.wrap_socket(raw, server_hostname="localhost")


def client_hello():
    """The first flight of a Python TLS client, as bytes."""
    outgoing = ssl.MemoryBIO()
    session = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="localhost")
    try:
        session.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def resp_ping(sock):
    sock.sendall(b"*1\r\n$4\r\nPING\r\n")
    return harness.recv_exact(sock, 7)


class TlsListenerTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-")
        cls.path = staticmethod(make_certificates(cls.dir.name))
        cls.redis = harness.RedisServer().start()
        cls.admin_port = harness.free_port()
        tls = {"cert": cls.path("server.pem"), "key": cls.path("server.key"),
               "handshake_timeout": "%ds" % HANDSHAKE_TIMEOUT_S}
        mutual = dict(tls, client_ca=cls.path("ca.pem"), require_client_cert=True)
        test_grpc.compile_protos(cls.dir.name)
        sys.path.insert(0, cls.dir.name)
        cls.gw = cls.start_gateway(
            [{"name": "resp_tls", "codec": "resp", "tls": tls},
             {"name": "json_tls", "codec": "json", "tls": tls},
             {"name": "resp_mutual", "codec": "resp", "tls": mutual},
             {"name": "resp_plain", "codec": "resp"},
             {"name": "resp_tight", "codec": "resp", "tls": tls, "output_high_water": 256, "output_limit": "1MiB"},
             dict(test_grpc.grpc_listener(cls.dir.name), tls=dict(tls, alpn=["h2"]))],
            process={"model": "prefork", "workers": 1},  # for the admin port, on the master
            extra_yaml="admin: {address: 127.0.0.1:%d}\n"
                       "routes:\n  - {match: {methods: [set, get, del, subscribe, unsubscribe, publish]}, cluster: cache}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d]}\n"
                       % (cls.admin_port, cls.redis.port))
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()
        cls.dir.cleanup()

    def redis_cli(self, listener, *args, ca="ca.pem", extra=()):
        command = ["redis-cli", "--tls", "--cacert", self.path(ca), "-h", harness.LOOPBACK,
                   "-p", str(self.gw.port(listener))] + list(extra) + list(args)
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        return done.returncode, done.stdout.rstrip("\n"), done.stderr

    def redis_py(self, listener="resp_tls", **extra):
        import redis
        return redis.Redis(host=harness.LOOPBACK, port=self.gw.port(listener), ssl=True,
                           ssl_ca_certs=self.path("ca.pem"), socket_timeout=harness.IO_TIMEOUT, **extra)

    def test_redis_cli_in_process(self):
        self.assertEqual(self.redis_cli("resp_tls", "PING")[:2], (0, "PONG"))
        self.assertEqual(self.redis_cli("resp_tls", "ECHO", "over TLS")[:2], (0, "over TLS"))
        rc, out, err = self.redis_cli("resp_tls", "INFO", "rpcgate")
        self.assertEqual(rc, 0, err)
        self.assertIn("rpcgate", out)

    def test_redis_cli_passed_through_to_plain_redis(self):
        self.assertEqual(self.redis_cli("resp_tls", "SET", "tls:cli", "secret value")[:2], (0, "OK"))
        self.assertEqual(self.redis_cli("resp_tls", "GET", "tls:cli")[:2], (0, "secret value"))
        import redis
        self.assertEqual(redis.Redis(host=harness.LOOPBACK, port=self.redis.port).get("tls:cli"), b"secret value")

    def test_subscriber_over_tls_gets_what_redis_publishes(self):
        # A subscription pins a Redis connection of the client's own and its bytes pass both ways
        # unread: pushes reach the client sealed like any answer.
        import redis
        client = self.redis_py()
        pubsub = client.pubsub()
        try:
            pubsub.subscribe("tls:news")
            self.assertEqual(pubsub.get_message(timeout=5)["type"], "subscribe")
            direct = redis.Redis(host=harness.LOOPBACK, port=self.redis.port)
            for i in range(20):
                self.assertEqual(direct.publish("tls:news", "item %d" % i), 1)
            for i in range(20):
                message = pubsub.get_message(timeout=5)
                self.assertIsNotNone(message, "message %d did not come over TLS" % i)
                self.assertEqual(message["data"], b"item %d" % i)
        finally:
            pubsub.close()
            client.close()

    def test_redis_py(self):
        client = self.redis_py()
        try:
            self.assertTrue(client.ping())
            self.assertEqual(client.echo("hello"), b"hello")
            info = client.info("rpcgate")
            self.assertTrue(info, "INFO rpcgate answered nothing over TLS")
            self.assertTrue(client.set("tls:py", "v" * 100000))  # many records each way
            self.assertEqual(client.get("tls:py"), b"v" * 100000)
            pipe = client.pipeline(transaction=False)
            for i in range(500):
                pipe.echo("e%d" % i)
            self.assertEqual(pipe.execute(), [b"e%d" % i for i in range(500)])
        finally:
            client.close()

    def test_buffered_requests_answered_under_a_low_high_water_mark(self):
        # 3000 PINGs in one write: their answers pass the 256-byte mark many times, so most wait,
        # decrypted and undecoded, until the answers before them are taken.
        with tls_client(self.gw.port("resp_tight"), self.path("ca.pem")) as sock:
            sock.sendall(b"PING\r\n" * 3000)
            self.assertEqual(harness.recv_exact(sock, 7 * 3000, timeout=10), b"+PONG\r\n" * 3000)

    def test_a_client_that_does_not_read_is_held_back(self):
        echo = b"*2\r\n$4\r\nECHO\r\n$10000\r\n" + b"x" * 10000 + b"\r\n"
        most = 5000  # 50 MB, far more than the socket buffers on both sides hold
        with tls_client(self.gw.port("resp_tight"), self.path("ca.pem")) as greedy, \
                tls_client(self.gw.port("resp_tight"), self.path("ca.pem")) as bystander:
            greedy.settimeout(2)
            sent = 0
            try:
                while sent < most:
                    greedy.sendall(echo)
                    sent += 1
            except (socket.timeout, ssl.SSLError, ConnectionError):
                pass
            self.assertLess(sent, most, "the gateway read 50 MB from a TLS client that reads nothing")
            self.assertEqual(resp_ping(bystander), b"+PONG\r\n")
        self.assertAlive()

    def test_json_legacy_framing_inside_tls(self):
        with tls_client(self.gw.port("json_tls"), self.path("ca.pem")) as sock:
            for i in range(3):
                sock.sendall(harness.frame({"in": "echo", "params": ["tls %d" % i]}))
                answer = json.loads(harness.read_frame(sock))
                self.assertEqual(answer.get("result"), ["tls %d" % i], answer)
            # A frame cut across records and TLS writes.
            body = harness.frame({"in": "echo", "params": ["x" * 70000]})
            for at in range(0, len(body), 1000):
                sock.sendall(body[at:at + 1000])
            self.assertEqual(json.loads(harness.read_frame(sock)).get("result"), ["x" * 70000])

    def test_grpc_secure_channel_with_alpn_h2(self):
        import grpc
        import health_pb2
        import health_pb2_grpc
        with open(self.path("ca.pem"), "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        target = "127.0.0.1:%d" % self.gw.port("grpc")  # the certificate names the IP too
        with grpc.secure_channel(target, credentials) as channel:
            for _ in range(3):
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                                   timeout=10)
                self.assertEqual(answer.status, health_pb2.HealthCheckResponse.SERVING)

    def test_a_client_trusting_another_ca_fails_cleanly(self):
        rc, out, err = self.redis_cli("resp_tls", "PING", ca="other-ca.pem")
        self.assertNotEqual(out, "PONG")
        self.assertIn("SSL", out + err)
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_client(self.gw.port("resp_tls"), self.path("other-ca.pem"))
        with tls_client(self.gw.port("resp_tls"), self.path("ca.pem")) as sock:
            self.assertEqual(resp_ping(sock), b"+PONG\r\n")
        self.assertAlive()

    def refused(self, cert=None, key=None):
        """True when the mutual-TLS listener does not answer a PING from this client."""
        try:
            with tls_client(self.gw.port("resp_mutual"), self.path("ca.pem"), cert, key) as sock:
                return resp_ping(sock) != b"+PONG\r\n"
        except (ssl.SSLError, EOFError, ConnectionResetError, BrokenPipeError):
            return True

    def test_require_client_cert(self):
        # Each refusal's line and OpenSSL's reason are checked in test_tls_identity.py.
        self.assertTrue(self.refused())
        self.assertTrue(self.refused(self.path("stranger.pem"), self.path("stranger.key")))
        self.assertFalse(self.refused(self.path("client.pem"), self.path("client.key")))
        rc, out, err = self.redis_cli("resp_mutual", "PING", extra=["--cert", self.path("client.pem"),
                                                                    "--key", self.path("client.key")])
        self.assertEqual((rc, out), (0, "PONG"), err)

    def test_hostile_clients_end_alone(self):
        port = self.gw.port("resp_tls")
        with harness.connect(self.gw.port("resp_plain")) as plain, \
                tls_client(port, self.path("ca.pem")) as bystander:
            self.assertEqual(resp_ping(plain), b"+PONG\r\n")
            self.assertEqual(resp_ping(bystander), b"+PONG\r\n")
            garbage = harness.connect(port)
            garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            half = harness.connect(port)
            # The first bytes of a real ClientHello, and then nothing.
            half.sendall(client_hello()[:60])
            silent = harness.connect(port)
            ports = {what: sock.getsockname()[1] for what, sock in (("garbage", garbage), ("half", half),
                                                                    ("silent", silent))}
            try:
                closed, _ = harness.wait_closed(garbage, timeout=2)
                self.assertTrue(closed, "a client sending garbage instead of a ClientHello was not closed")
                for _ in range(20):  # the bystanders keep working while the others hang
                    self.assertEqual(resp_ping(plain), b"+PONG\r\n")
                    self.assertEqual(resp_ping(bystander), b"+PONG\r\n")
                started = time.monotonic()
                for sock, what in ((half, "half a handshake"), (silent, "a silent client")):
                    closed, _ = harness.wait_closed(sock, timeout=HANDSHAKE_TIMEOUT_S + 3 * harness.SLOWDOWN)
                    self.assertTrue(closed, "%s was not closed by handshake_timeout" % what)
                self.assertLess(time.monotonic() - started, HANDSHAKE_TIMEOUT_S + 3 * harness.SLOWDOWN)
            finally:
                for sock in (garbage, half, silent):
                    sock.close()
            self.assertEqual(resp_ping(plain), b"+PONG\r\n")
            self.assertEqual(resp_ping(bystander), b"+PONG\r\n")
        # Each with its line (at debug level), naming the listener, the client and why.
        log = self.gw.log_text()
        self.assertRegex(log, r"listener resp_tls: closing a TLS client from 127\.0\.0\.1:%d: .+ \(during the handshake\)"
                         % ports["garbage"])
        for what in ("half", "silent"):
            self.assertIn("listener resp_tls: closing a TLS client from 127.0.0.1:%d that did not finish its handshake "
                          "in %d ms" % (ports[what], HANDSHAKE_TIMEOUT_S * 1000), log)
        self.assertAlive()

    def test_handshakes_failures_and_certificate_expiry_in_metrics(self):
        def value(name, **labels):
            status, _, body = harness.http(self.admin_port, "GET", "/metrics")
            self.assertEqual(status, 200)
            return harness.metric_value(harness.metric_samples(body), name, **labels)
        before = {reason: value("rpcgate_tls_handshake_failures_total", listener="resp_tls", reason=reason)
                  for reason in ("verify", "protocol")}
        handshakes = value("rpcgate_tls_handshakes_total", listener="resp_tls")
        with tls_client(self.gw.port("resp_tls"), self.path("ca.pem")) as sock:
            self.assertEqual(resp_ping(sock), b"+PONG\r\n")
        with self.assertRaises(ssl.SSLCertVerificationError):  # its alert tells the listener why
            tls_client(self.gw.port("resp_tls"), self.path("other-ca.pem"))
        with harness.connect(self.gw.port("resp_tls")) as garbage:
            garbage.sendall(b"GET / HTTP/1.1\r\n\r\n")
            harness.wait_closed(garbage, timeout=2)
        self.assertTrue(harness.wait_for(
            lambda: value("rpcgate_tls_handshake_failures_total", listener="resp_tls", reason="protocol")
            == before["protocol"] + 1, timeout=2))
        self.assertEqual(value("rpcgate_tls_handshake_failures_total", listener="resp_tls", reason="verify"),
                         before["verify"] + 1)
        self.assertEqual(value("rpcgate_tls_handshakes_total", listener="resp_tls"), handshakes + 1)
        expiry = value("rpcgate_tls_cert_expiry_seconds", listener="resp_mutual", role="cert",
                       file=self.path("server.pem"))
        self.assertTrue(time.time() + 86400 < expiry <= time.time() + 2 * 86400 + 60)
        value("rpcgate_tls_cert_expiry_seconds", listener="resp_mutual", role="client_ca", file=self.path("ca.pem"))
        status, _, body = harness.http(self.admin_port, "GET", "/stats")
        self.assertGreaterEqual(json.loads(body)["tls"]["listeners"]["resp_tls"]["handshakes"], handshakes + 1)

    def test_no_key_bytes_in_config_or_log(self):
        status, _, body = harness.http(self.admin_port, "GET", "/config")
        self.assertEqual(status, 200)
        listener = [item for item in json.loads(body)["listeners"] if item["name"] == "resp_mutual"][0]
        self.assertEqual(listener["tls"]["key"], self.path("server.key"))
        self.assertEqual(listener["tls"]["client_ca"], self.path("ca.pem"))
        self.assertTrue(listener["tls"]["require_client_cert"])
        with open(self.path("server.key")) as f:
            key_lines = [line for line in f.read().splitlines() if line and not line.startswith("-----")]
        for line in key_lines:
            self.assertNotIn(line, body)
            self.assertNotIn(line, self.gw.log_text())


class CertificateCheckCase(unittest.TestCase):
    """Certificates made once for the class, and `rpcgate -t` on configurations that use them."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-check-")
        cls.path = staticmethod(make_certificates(cls.dir.name))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def check_config(self, config):
        """`rpcgate -t` on `config` (a dict): its exit status and what it said."""
        harness.require_binary()
        path = os.path.join(self.dir.name, "check.yaml")
        with open(path, "w") as f:
            f.write(harness.to_yaml(config))
        done = subprocess.run([harness.BIN, "-t", "-c", path], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=10)
        return done.returncode, done.stdout + done.stderr


class TlsConfigCheckTest(CertificateCheckCase):
    """`rpcgate -t` loads every listener's certificate and key and says which file is wrong, and why."""

    def check(self, tls):
        return self.check_config({"listeners": [{"name": "secure", "address": "127.0.0.1:%d" % harness.free_port(),
                                                 "codec": "resp", "tls": tls}]})

    def test_good(self):
        rc, out = self.check({"cert": self.path("server.pem"), "key": self.path("server.key"), "alpn": ["h2"]})
        self.assertEqual(rc, 0, out)

    def test_problems_name_the_file_and_the_reason(self):
        cases = [
            ({"cert": self.path("nowhere.pem"), "key": self.path("server.key")},
             "cert %s: cannot load: " % self.path("nowhere.pem")),
            ({"cert": self.path("server.pem"), "key": self.path("client.key")},
             "key %s: does not match cert %s" % (self.path("client.key"), self.path("server.pem"))),
            ({"cert": self.path("server.pem"), "key": self.path("encrypted.key")},
             "key %s: cannot load (expected an unencrypted PEM private key)" % self.path("encrypted.key")),
            ({"cert": self.path("expired.pem"), "key": self.path("expired.key")},
             "cert %s: has expired" % self.path("expired.pem")),
            ({"cert": self.path("server.pem"), "key": self.path("server.key"), "require_client_cert": True},
             "require_client_cert needs client_ca"),
            ({"cert": self.path("server.pem"), "key": self.path("server.key"), "min_version": "1.1"},
             "unknown value '1.1'"),
            ({"cert": self.path("server.pem"), "kye": self.path("server.key")}, "did you mean 'key'"),
        ]
        for tls, expected in cases:
            rc, out = self.check(tls)
            self.assertNotEqual(rc, 0, "%s passed the check" % tls)
            self.assertIn(expected, out)

    def test_a_key_readable_by_others_is_refused(self):
        shared = self.path("shared.key")
        with open(self.path("server.key")) as source, open(shared, "w") as copy:
            copy.write(source.read())
        os.chmod(shared, 0o644)
        rc, out = self.check({"cert": self.path("server.pem"), "key": shared})
        self.assertNotEqual(rc, 0)
        self.assertIn("key %s: readable by others (mode 0644)" % shared, out)


if __name__ == "__main__":
    harness.main()
