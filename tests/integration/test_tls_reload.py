#!/usr/bin/env python3
"""Certificate reload (docs/tls.md, "Reload"): after the files are replaced and the gateway told
(POST /reload, SIGHUP), new connections get the new certificate while a connection opened before
keeps its own and goes on being answered; rpcgate_tls_cert_expiry_seconds follows the new file; a
missing, unparsable, mismatched or expired file is refused with its file and reason, in the reply
and the log, and the certificate in use stays; TLS clients connecting for every call during
reloads see no failure; and so in every process model that has a master. A reload that changes
nothing but certificate files keeps the workers: idle and busy connections opened before it stay
open and are answered on the same sockets afterwards, under load, while a reload that changes a
setting still replaces the workers. Certificates are made here with the openssl command line."""

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import test_reload  # its load of short-lived clients

# Two server certificates for localhost told apart by serial and lifetime; another key; an
# expired certificate from the same CA; and a file that is no PEM at all.
CERTIFICATES = r"""
issue first /CN=localhost DNS:localhost,IP:127.0.0.1 0x1001 2
issue second /CN=localhost DNS:localhost,IP:127.0.0.1 0x2002 3
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out other.key
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' >ca.cnf
: >index.txt; echo 03 >serial
openssl req $ec -keyout expired.key -out expired.csr -subj /CN=localhost
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem
echo 'not a certificate' >garbage.pem
openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 3 -subj /CN=another-ca
"""

SERIAL = {"first": "1001", "second": "2002"}


def not_after(path):
    done = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", path], capture_output=True, text=True,
                          check=True)
    return ssl.cert_time_to_seconds(done.stdout.strip().split("=", 1)[1])


class TlsConnection:
    """A RESP client over TLS that trusts the test CA; `serial` is that of the certificate its
    handshake got."""

    def __init__(self, port, ca):
        context = ssl.create_default_context(cafile=ca)
        self.sock = context.wrap_socket(harness.connect(port), server_hostname="localhost")
        self.serial = self.sock.getpeercert()["serialNumber"]

    def ping(self):
        self.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return harness.recv_exact(self.sock, 7)

    def close(self):
        self.sock.close()


class HeldConnection(threading.Thread):
    """One TLS connection opened before a reload that pings every 10 ms (a busy client: a
    draining worker closes a connection only once it has been quiet) until told to stop."""

    def __init__(self, port, ca):
        super().__init__()
        self.connection = TlsConnection(port, ca)
        self.answers = 0
        self.failures = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                answer = self.connection.ping()
                if answer != b"+PONG\r\n":
                    raise AssertionError("bad answer %r" % answer)
                self.answers += 1
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.failures.append(repr(error))
                return
            time.sleep(0.01)

    def stop(self):
        self.halt.set()
        self.join(10)
        self.connection.close()


def tls_ping(port, ca):
    """One call of a client that connects for every call: the serial its handshake got."""
    connection = TlsConnection(port, ca)
    try:
        answer = connection.ping()
    finally:
        connection.close()
    if answer != b"+PONG\r\n":
        raise AssertionError("bad answer %r" % answer)
    return connection.serial


class TlsReloadTest(harness.GatewayPerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-tls-reload-")
        harness.make_certificates(cls.dir.name, CERTIFICATES)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def install(self, cert, key=None):
        """Puts `cert`.pem (and `key`.key) where the configuration names them, as a deploy
        would: each file replaced at once."""
        for source, target in ((cert + ".pem", "live.pem"), ((key or cert) + ".key", "live.key")):
            if source == "missing.pem":
                os.remove(self.path(target))
                continue
            shutil.copy(self.path(source), self.path(target + ".new"))  # the mode too: 0600 for a key
            os.replace(self.path(target + ".new"), self.path(target))

    def start(self, model):
        self.install("first")
        self.admin_port = harness.free_port()
        tls = {"cert": self.path("live.pem"), "key": self.path("live.key")}
        gw = self.start_gateway([{"name": "resp_tls", "codec": "resp", "tls": tls}],
                                process={"model": model, "workers": 1, "drain_timeout": "5s"}, log_level="info",
                                extra_yaml="admin: {address: 127.0.0.1:%d}\n" % self.admin_port)
        harness.wait_listening([self.admin_port], gw.proc, describe="the admin port")
        self.gw = gw
        return gw

    def connect(self):
        return TlsConnection(self.gw.port("resp_tls"), self.path("ca.pem"))

    def reload(self):
        status, _, body = harness.http(self.admin_port, "POST", "/reload")
        return status, json.loads(body)

    def expiry(self):
        _, _, body = harness.http(self.admin_port, "GET", "/metrics")
        return harness.metric_value(harness.metric_samples(body), "rpcgate_tls_cert_expiry_seconds",
                                    listener="resp_tls", role="cert", file=self.path("live.pem"))

    def new_connection_serial(self):
        connection = self.connect()
        try:
            self.assertEqual(connection.ping(), b"+PONG\r\n")
            return connection.serial
        finally:
            connection.close()

    def serial_or_none(self):
        # reuseport: a connection queued on an old worker's own socket as it closes is reset
        # (docs/architecture.md); the next one goes to a live socket.
        try:
            return self.new_connection_serial()
        except (OSError, ssl.SSLError):
            return None

    def swap_and_check(self, tell):
        """The first certificate in use and a busy connection holding it; the second installed
        and `tell` run: new connections get the second, the held one is still answered."""
        self.assertEqual(self.new_connection_serial(), SERIAL["first"])
        held = HeldConnection(self.gw.port("resp_tls"), self.path("ca.pem"))
        held.start()
        try:
            self.install("second")
            tell()
            self.assertTrue(harness.wait_for(lambda: self.serial_or_none() == SERIAL["second"], 5 * harness.SLOWDOWN),
                            self.gw.log_tail())
            answered = held.answers
            self.assertTrue(harness.wait_for(lambda: held.answers >= answered + 5 or held.failures, 5))
        finally:
            held.stop()
        self.assertEqual(held.failures, [])
        self.assertEqual(held.connection.serial, SERIAL["first"])

    def test_new_connections_get_the_new_certificate_open_ones_keep_theirs(self):
        self.start("prefork")
        self.assertEqual(self.expiry(), not_after(self.path("first.pem")))

        def post():
            status, body = self.reload()
            self.assertEqual((status, body.get("reloaded")), (200, True), body)
        self.swap_and_check(post)
        self.assertEqual(self.expiry(), not_after(self.path("second.pem")))

        # Under load: clients connecting for every call across two more reloads, one by SIGHUP.
        port, ca = self.gw.port("resp_tls"), self.path("ca.pem")
        with test_reload.ConnectPerCallLoad(port, threads=3, call=lambda: tls_ping(port, ca)) as load:
            time.sleep(0.2)
            self.install("first")
            self.assertEqual(self.reload()[0], 200)
            time.sleep(0.3)
            self.install("second")
            self.gw.send_signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(lambda: self.gw.log_text().count("configuration reloaded") >= 3, 5))
            time.sleep(0.3)
        self.assertEqual(load.failures, [], "%d calls" % load.calls)
        self.assertEqual(load.seen, {SERIAL["first"], SERIAL["second"]})
        self.assertGreater(load.calls, 20)
        self.assertEqual(self.new_connection_serial(), SERIAL["second"])

    def test_a_bad_file_is_refused_with_its_reason_and_the_old_certificate_stays(self):
        self.start("prefork")
        expiry = self.expiry()
        live_cert, live_key = self.path("live.pem"), self.path("live.key")
        cases = [  # installed (cert, key), the file named, OpenSSL's words or ours
            (("missing", "first"), live_cert, "No such file or directory"),
            (("garbage", "first"), live_cert, "no start line"),
            (("second", "other"), live_key, "does not match cert " + live_cert),
            (("expired", None), live_cert, "has expired"),
        ]
        for (cert, key), named, reason in cases:
            with self.subTest(cert=cert, key=key):
                self.install(cert, key)
                status, body = self.reload()
                self.assertEqual((status, body.get("reloaded")), (400, False), body)
                self.assertIn(named, body["error"])
                self.assertIn(reason, body["error"])
                logged = [line for line in self.gw.log_text().splitlines()
                          if "reload refused" in line and named in line and reason in line]
                self.assertEqual(len(logged), 1, "one line with the file and the reason")
                self.assertEqual(self.new_connection_serial(), SERIAL["first"])
                self.assertEqual(self.expiry(), expiry)
        self.install("first")
        status, body = self.reload()
        self.assertEqual(status, 200, body)
        _, _, metrics = harness.http(self.admin_port, "GET", "/metrics")
        self.assertEqual(harness.metric_value(harness.metric_samples(metrics), "rpcgate_reload_failures_total"),
                         len(cases))

    def test_idle_connections_stay_open_across_a_certificate_reload(self):
        # fork keeps each connection in its own child anyway (docs/tls.md).
        for model, tell in (("prefork", "POST"), ("reuseport", "SIGHUP"), ("fdpass", "POST"), ("threads", "SIGHUP")):
            with self.subTest(model=model):
                self.idle_connections_stay_open(model, tell)

    def idle_connections_stay_open(self, model, tell):
        gw = self.start(model)

        def told():
            if tell == "POST":
                status, body = self.reload()
                self.assertEqual((status, body.get("reloaded")), (200, True), body)
            else:
                gw.send_signal(signal.SIGHUP)
        idle = [self.connect() for _ in range(3)]
        busy = [HeldConnection(gw.port("resp_tls"), self.path("ca.pem")) for _ in range(2)]
        try:
            for connection in idle:
                self.assertEqual(connection.ping(), b"+PONG\r\n")
            for held in busy:
                held.start()
            port, ca = gw.port("resp_tls"), self.path("ca.pem")
            with test_reload.ConnectPerCallLoad(port, threads=2, call=lambda: tls_ping(port, ca)) as load:
                time.sleep(0.2)
                self.install("second")
                told()
                self.assertTrue(harness.wait_for(lambda: self.new_connection_serial() == SERIAL["second"],
                                                 5 * harness.SLOWDOWN), gw.log_tail())
                # A bad file at the next reload: refused, naming it; everything goes on as it was.
                self.install("expired")
                status, body = self.reload()
                self.assertEqual((status, body.get("reloaded")), (400, False), body)
                self.assertIn("cert %s: has expired" % self.path("live.pem"), body["error"])
                time.sleep(0.3)
            answered = [held.answers for held in busy]
            self.assertTrue(harness.wait_for(lambda: all(h.answers >= a + 5 or h.failures
                                                         for h, a in zip(busy, answered)), 5))
        finally:
            for held in busy:
                held.stop()
        self.assertEqual(load.failures, [], "%d calls" % load.calls)
        self.assertGreater(load.calls, 5)
        self.assertEqual([held.failures for held in busy], [[], []])
        self.assertEqual(self.new_connection_serial(), SERIAL["second"], "the expired file must not be in use")
        log = gw.log_text()
        self.assertIn("reload refused: ", log)
        self.assertTrue(any("reload refused" in line and "cert %s: has expired" % self.path("live.pem") in line
                            for line in log.splitlines()), gw.log_tail())
        # Idle for far longer than the 50 ms after which a draining worker closes a quiet connection.
        time.sleep(0.5)
        for connection in idle:
            self.assertEqual(connection.ping(), b"+PONG\r\n", "an open connection was closed by the reload")
            self.assertEqual(connection.serial, SERIAL["first"])
            connection.close()
        self.assertIn("configuration reloaded: only certificate files may have changed", log)
        self.assertIn("TLS files read again for listener resp_tls", log)
        self.assertNotIn("draining", log, "a certificate reload replaced the workers")

        # Any other change still starts new workers on the new configuration.
        with open(gw.config_path, "a") as f:
            f.write("routes:\n  - {match: {method: shout}, handler: upper}\n")
        self.install("first")
        status, body = self.reload()
        self.assertEqual((status, body.get("reloaded")), (200, True), body)
        self.assertIn("draining", body.get("message", json.dumps(body)))
        self.assertTrue(harness.wait_for(lambda: self.serial_or_none() == SERIAL["first"], 5 * harness.SLOWDOWN))
        gw.__exit__(None, None, None)

    def test_a_cluster_reads_its_ca_again_in_the_running_workers(self):
        # A TLS-only Redis whose certificate the cluster's CA file does not verify at first.
        port = harness.free_port()
        redis = harness.RedisServer("--port", "0", "--tls-cert-file", self.path("first.pem"), "--tls-key-file",
                                    self.path("first.key"), "--tls-port", str(port), "--tls-auth-clients", "no",
                                    port=port).start()
        try:
            shutil.copy(self.path("other-ca.pem"), self.path("live-ca.pem"))
            self.install("first")
            self.admin_port = harness.free_port()
            gw = self.start_gateway(
                [{"name": "resp", "codec": "resp"}], process={"model": "prefork", "workers": 1}, log_level="info",
                extra_yaml="admin: {address: 127.0.0.1:%d}\n" % self.admin_port +
                           "routes: [{match: {method: get}, cluster: up}]\n"
                           "clusters:\n  - {name: up, codec: resp, endpoints: [127.0.0.1:%d], tls: {ca: %s}}\n"
                           % (redis.port, self.path("live-ca.pem")))
            harness.wait_listening([self.admin_port], gw.proc, describe="the admin port")

            def get():
                with harness.connect(gw.port("resp")) as sock:
                    sock.sendall(harness.resp_command("GET", "nothing"))
                    return harness.RespReader(sock).read()
            self.assertIn("TLS handshake failed (verify)", str(get()))
            shutil.copy(self.path("ca.pem"), self.path("live-ca.pem.new"))
            os.replace(self.path("live-ca.pem.new"), self.path("live-ca.pem"))
            status, body = self.reload()
            self.assertEqual((status, body.get("reloaded")), (200, True), body)
            # Past the endpoint's connect backoff, new upstream connections verify with the new CA.
            self.assertTrue(harness.wait_for(lambda: get() is None, 10 * harness.SLOWDOWN), gw.log_tail())
            log = gw.log_text()
            self.assertIn("TLS files read again for cluster up", log)
            self.assertNotIn("draining", log)
        finally:
            redis.stop()

    def test_every_model_with_a_master(self):
        # prefork is the test above; single has no master to reload (docs/tls.md).
        for model, tell in (("reuseport", "POST"), ("fdpass", "SIGHUP"), ("threads", "POST"), ("fork", "SIGHUP")):
            with self.subTest(model=model):
                gw = self.start(model)

                def told():
                    if tell == "POST":
                        self.assertEqual(self.reload()[0], 200)
                    else:
                        gw.send_signal(signal.SIGHUP)
                self.swap_and_check(told)
                self.assertEqual(self.expiry(), not_after(self.path("second.pem")))
                gw.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main()
