#!/usr/bin/env python3
"""Mutual-TLS identity (docs/tls.md, "Identities"): with login_by_certificate, a client whose
certificate's CN (or, with identity: email_san, its first email SAN) names a user of the
listener's auth is logged in as that user without a password, over RESP (no AUTH), the JSON
framing and protobuf (no auth call, no password in meta); a certificate naming nobody gets NOAUTH
as before and may still log in with a password; without login_by_certificate the certificate logs
nobody in; the identity is in the access log; a bad combination of keys is refused by rpcgate -t.
Routing by identity (match.client_identity): two client certificates reach two different Redis
servers with the same command, and a client of another identity falls through to the route after
them. Mutual TLS refusals: no certificate, one from another CA and an expired one, each with its
log line. Certificates are made here with the openssl command line."""

import json
import os
import ssl
import subprocess
import tempfile
import unittest

import harness

# A server certificate for localhost, and client certificates: alice (a user), mallory (not one),
# and one whose CN is nobody's but whose email SAN is bob's.
CERTIFICATES = r"""
issue server /CN=localhost DNS:localhost,IP:127.0.0.1
issue alice /O=clients/CN=alice DNS:alice.clients.test
issue mallory /CN=mallory DNS:mallory.clients.test
issue bob-by-email /CN=somebody-else email:bob,DNS:somebody-else.test
"""

USERS = "alice:alice-password\nbob:bob-password\n"


class TlsIdentityTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-identity-")
        harness.make_certificates(cls.dir.name, CERTIFICATES)
        with open(cls.path("users"), "w") as f:
            f.write(USERS)
        cls.access_log = cls.path("access.log")
        mutual = {"cert": cls.path("server.pem"), "key": cls.path("server.key"), "client_ca": cls.path("ca.pem"),
                  "require_client_cert": True}
        auth = {"users_file": cls.path("users")}
        cls.gw = cls.start_gateway(
            [{"name": "resp_cert", "codec": "resp", "auth": auth, "tls": dict(mutual, login_by_certificate=True)},
             {"name": "json_cert", "codec": "json", "auth": auth, "tls": dict(mutual, login_by_certificate=True)},
             {"name": "proto_cert", "codec": "protobuf", "auth": auth, "tls": dict(mutual, login_by_certificate=True)},
             {"name": "resp_email", "codec": "resp", "auth": auth,
              "tls": dict(mutual, login_by_certificate=True, identity="email_san")},
             {"name": "resp_password", "codec": "resp", "auth": auth, "tls": mutual}],
            extra={"logging": {"level": "debug", "access_log": True, "access_log_file": cls.access_log}})

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dir.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir.name, name)

    def connect(self, listener, client):
        context = ssl.create_default_context(cafile=self.path("ca.pem"))
        context.load_cert_chain(self.path(client + ".pem"), self.path(client + ".key"))
        return context.wrap_socket(harness.connect(self.gw.port(listener)), server_hostname="localhost")

    def resp(self, listener, client, *commands):
        """The answers to `commands`, one after another on one connection."""
        sock = self.connect(listener, client)
        try:
            reader = harness.RespReader(sock)
            answers = []
            for command in commands:
                sock.sendall(harness.resp_command(*command))
                answers.append(reader.read())
            return answers
        finally:
            sock.close()

    def access_entries(self):
        """(listener, method, identity) of every access log line so far."""
        if not os.path.exists(self.access_log):
            return set()
        with open(self.access_log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        return {(line["listener"], line["method"], line.get("identity")) for line in lines}

    def test_resp_client_named_by_its_certificate_needs_no_auth(self):
        self.assertEqual(self.resp("resp_cert", "alice", ["PING"], ["ECHO", "no password"]), ["PONG", b"no password"])

    def test_resp_client_of_an_unknown_name_gets_noauth_and_may_log_in_with_a_password(self):
        answers = self.resp("resp_cert", "mallory", ["PING"], ["AUTH", "alice", "alice-password"], ["PING"])
        self.assertIsInstance(answers[0], harness.RespError)
        self.assertTrue(str(answers[0]).startswith("NOAUTH"), answers[0])
        self.assertEqual(answers[1:], ["OK", "PONG"])

    def test_identity_from_the_first_email_san(self):
        self.assertEqual(self.resp("resp_email", "bob-by-email", ["PING"]), ["PONG"])
        # alice's certificate has no email SAN: no identity, so a password is needed.
        answer = self.resp("resp_email", "alice", ["PING"])[0]
        self.assertTrue(str(answer).startswith("NOAUTH"), answer)

    def test_without_login_by_certificate_a_password_is_still_needed(self):
        answers = self.resp("resp_password", "alice", ["PING"], ["AUTH", "alice", "alice-password"], ["PING"])
        self.assertTrue(str(answers[0]).startswith("NOAUTH"), answers[0])
        self.assertEqual(answers[1:], ["OK", "PONG"])
        # A wrong password still fails, certificate or not.
        answer = self.resp("resp_password", "alice", ["AUTH", "alice", "wrong"])[0]
        self.assertTrue(str(answer).startswith("WRONGPASS"), answer)

    def test_json_client_named_by_its_certificate_passes_the_login_gate(self):
        def call(client, *calls):
            sock = self.connect("json_cert", client)
            try:
                answers = []
                for method, params in calls:
                    sock.sendall(harness.frame({"in": method, "params": params, "id": len(answers)}))
                    answers.append(json.loads(harness.read_frame(sock)))
                return answers
            finally:
                sock.close()
        self.assertEqual(call("alice", ("ping", 1))[0].get("result"), 1)
        refused, logged_in, after = call("mallory", ("ping", 1), ("auth", {"user": "bob", "password": "bob-password"}),
                                         ("ping", 2))
        self.assertEqual(harness.error_code(refused), "NOAUTH", refused)
        self.assertEqual(logged_in.get("result"), "OK", logged_in)
        self.assertEqual(after.get("result"), 2, after)

    def test_protobuf_client_named_by_its_certificate_passes_the_login_gate(self):
        with harness.ProtoClient(None, sock=self.connect("proto_cert", "alice")) as alice:
            self.assertEqual(alice.call(1, "ping", 5).error.code, "")
        with harness.ProtoClient(None, sock=self.connect("proto_cert", "mallory")) as mallory:
            self.assertEqual(mallory.call(1, "ping", 5).error.code, "NOAUTH")
            self.assertEqual(mallory.call(2, "ping", 5, meta={"user": "bob", "password": "bob-password"}).error.code, "")

    def test_the_identity_is_in_the_access_log(self):
        # With a password login or without one, the certificate's identity is the connection's.
        self.resp("resp_password", "mallory", ["AUTH", "alice", "alice-password"], ["ECHO", "logged"])
        self.resp("resp_cert", "alice", ["ECHO", "logged"])
        expected = {("resp_password", "echo", "mallory"), ("resp_cert", "echo", "alice")}
        # The worker writes its access log once a second.
        self.assertTrue(harness.wait_for(lambda: expected <= self.access_entries(), 3), self.access_entries())
        self.assertIn("logged in as 'alice' by its certificate", self.gw.log_text())

    def test_config_shows_the_keys_and_check_refuses_a_bad_combination(self):
        directory = tempfile.mkdtemp(dir=self.dir.name)
        base = ("listeners:\n  - name: r\n    address: 127.0.0.1:%d\n    codec: resp\n%s"
                "    tls: {cert: %s, key: %s%s}\n")
        cases = [
            ("", ", login_by_certificate: true, client_ca: " + self.path("ca.pem"),
             "login_by_certificate needs the listener's auth"),
            ("    auth: {users_file: %s}\n" % self.path("users"), ", login_by_certificate: true",
             "login_by_certificate needs client_ca"),
            ("", ", identity: subject_cn", "identity needs client_ca"),
            ("", ", identity: cn, client_ca: " + self.path("ca.pem"), "subject_cn"),
        ]
        for i, (auth, extra, expected) in enumerate(cases):
            path = os.path.join(directory, "bad%d.yaml" % i)
            with open(path, "w") as f:
                f.write(base % (harness.free_port(), auth, self.path("server.pem"), self.path("server.key"), extra))
            done = subprocess.run([harness.BIN, "-t", "-c", path], capture_output=True, text=True, timeout=10)
            self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
            self.assertIn(expected, done.stderr)


# Beside the clients above: one from another CA, and an expired one from the right CA
# (`openssl ca` sets dates in the past, which `openssl x509 -days` cannot).
MORE_CERTIFICATES = r"""
openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 3 -subj /CN=another-ca
openssl req $ec -keyout stranger.key -out stranger.csr -subj /CN=alice
openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out stranger.pem -days 2
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' >ca.cnf
: >index.txt; echo 07 >serial
openssl req $ec -keyout expired.key -out expired.csr -subj /CN=alice
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem
"""


class TlsIdentityRoutingTest(harness.GatewayTestCase):
    """Routes that match the client certificate's identity, and the clients mutual TLS refuses."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-routing-")
        harness.make_certificates(cls.dir.name, CERTIFICATES + MORE_CERTIFICATES)
        cls.redis = {}
        try:
            cls.start_peers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_peers(cls):
        for name in ("a", "b", "rest"):
            cls.redis[name] = harness.RedisServer().start()
        for name, server in cls.redis.items():
            subprocess.run(["redis-cli", "-p", str(server.port), "SET", "who", name], check=True, timeout=10,
                           capture_output=True)
        cls.access_log = cls.path("access.log")
        mutual = {"cert": cls.path("server.pem"), "key": cls.path("server.key"), "client_ca": cls.path("ca.pem"),
                  "require_client_cert": True}
        clusters = "".join("  - {name: redis_%s, codec: resp, endpoints: [127.0.0.1:%d]}\n" % (name, server.port)
                           for name, server in cls.redis.items())
        cls.gw = cls.start_gateway(
            [{"name": "resp_routed", "codec": "resp", "tls": mutual}],
            extra={"logging": {"level": "debug", "access_log": True, "access_log_file": cls.access_log}},
            extra_yaml="routes:\n"
                       "  - {match: {methods: [get], client_identity: [alice]}, cluster: redis_a}\n"
                       "  - {match: {methods: [get], client_identity: mallory}, cluster: redis_b}\n"
                       "  - {match: {methods: [get]}, cluster: redis_rest}\n"
                       "clusters:\n" + clusters)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for server in cls.redis.values():
            server.stop()
        cls.dir.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir.name, name)

    def get_who(self, client):
        context = ssl.create_default_context(cafile=self.path("ca.pem"))
        if client:
            context.load_cert_chain(self.path(client + ".pem"), self.path(client + ".key"))
        with context.wrap_socket(harness.connect(self.gw.port("resp_routed")), server_hostname="localhost") as sock:
            sock.sendall(harness.resp_command("GET", "who"))
            return harness.RespReader(sock).read()

    def test_two_identities_reach_two_upstreams_and_the_others_fall_through(self):
        self.assertEqual(self.get_who("alice"), b"a")
        self.assertEqual(self.get_who("mallory"), b"b")
        # CN somebody-else: an identity no route names goes on to the route for everyone.
        self.assertEqual(self.get_who("bob-by-email"), b"rest")
        self.assertEqual(self.get_who("alice"), b"a")
        self.assertAlive()

    def refusal(self, client):
        """Connects as `client` (None: no certificate) and PINGs; the answer, or the error that
        ended the connection. TLS 1.3 tells a client it was refused after its side of the
        handshake: with its first read."""
        context = ssl.create_default_context(cafile=self.path("ca.pem"))
        if client:
            context.load_cert_chain(self.path(client + ".pem"), self.path(client + ".key"))
        try:
            with context.wrap_socket(harness.connect(self.gw.port("resp_routed")),
                                     server_hostname="localhost") as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64)
        except (ssl.SSLError, OSError) as error:
            return error

    def test_mutual_tls_refuses_each_wrong_client_with_a_log_line(self):
        cases = [  # client, OpenSSL's reason in the log
            (None, "peer did not return a certificate"),
            ("stranger", "certificate verify failed: unable to get local issuer certificate"),
            ("expired", "certificate verify failed: certificate has expired"),
        ]
        for client, reason in cases:
            with self.subTest(client=client):
                answer = self.refusal(client)
                self.assertNotEqual(answer, b"+PONG\r\n")
                line = "listener resp_routed: closing a TLS client from 127.0.0.1:"
                self.assertTrue(harness.wait_for(
                    lambda: any(line in l and reason in l and "(during the handshake)" in l
                                for l in self.gw.log_text().splitlines()), 3),
                    "no log line with %r:\n%s" % (reason, self.gw.log_tail()))
        # The right certificate is accepted, and its identity is in the access log.
        self.assertEqual(self.refusal("alice"), b"+PONG\r\n")
        self.assertEqual(self.get_who("alice"), b"a")

        def logged():
            if not os.path.exists(self.access_log):
                return False
            with open(self.access_log) as f:
                entries = [json.loads(line) for line in f if line.strip()]
            return any(e["listener"] == "resp_routed" and e["method"] == "get" and e.get("identity") == "alice"
                       for e in entries)
        self.assertTrue(harness.wait_for(logged, 3))
        self.assertAlive()

    def test_check_refuses_an_identity_route_without_a_listener_that_asks_for_certificates(self):
        path = self.path("no-client-ca.yaml")
        with open(path, "w") as f:
            f.write("listeners:\n  - {name: r, address: 127.0.0.1:%d, codec: resp,\n"
                    "     tls: {cert: %s, key: %s}}\n"
                    "routes:\n  - {match: {method: get, client_identity: [alice]}, handler: echo}\n"
                    % (harness.free_port(), self.path("server.pem"), self.path("server.key")))
        done = subprocess.run([harness.BIN, "-t", "-c", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("client_identity: no listener asks for client certificates (tls.client_ca)", done.stderr)


if __name__ == "__main__":
    unittest.main()
