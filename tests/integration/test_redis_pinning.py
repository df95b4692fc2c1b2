#!/usr/bin/env python3
"""Redis commands that keep state on one server connection, through the Redis sidecar example
(prefork, 2 workers, a catch-all route to a real redis-server): each client that sends one gets
an upstream connection of its own (docs/redis-compatibility.md). Answers are compared with the
same Redis asked directly, and Redis's own INFO shows how many connections the gateway holds."""

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def redis_cli(port, stdin):
    done = subprocess.run(["redis-cli", "-h", harness.LOOPBACK, "-p", str(port)], input=stdin,
                          capture_output=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


def interactive_redis_cli(port, steps, pause=0.3):
    """Drives an interactive redis-cli in a pseudo-terminal (TERM=dumb: plain line editing, but
    still prompts, the (TX) marker and subscribe mode). A step is a line to type, or a function to
    run meanwhile. Returns the transcript with the port replaced by PORT."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: nothing of the test runs here
        os.environ["TERM"] = "dumb"
        os.execvp("redis-cli", ["redis-cli", "-h", harness.LOOPBACK, "-p", str(port)])
    transcript = b""

    def read_for(seconds):
        nonlocal transcript
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.02)[0]:
                try:
                    transcript += os.read(fd, 65536)
                except OSError:
                    return

    try:
        read_for(pause)
        for step in steps:
            if callable(step):
                step()
            else:
                os.write(fd, step.encode() + b"\r")
            read_for(pause)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return transcript.decode("utf-8", "replace").replace(str(port), "PORT")


def tcp_states(local_port, remote_port):
    """The /proc/net/tcp states ("01" = established) of sockets from local_port to remote_port."""
    states = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                states.append(fields[3])
    return states


def connected_clients(port):
    with harness.RespClient(port) as client:
        info = client.call("INFO", "clients")
    return int(re.search(rb"^connected_clients:(\d+)", info, re.M).group(1))


class PinningTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = harness.ExampleGateway("redis-sidecar.yaml", {6379: cls.redis.port}).start()
        cls.gateways = (cls.gw,)
        cls.via = cls.gw.port("resp")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def wait_clients(self, predicate, timeout=3.0):
        deadline = time.monotonic() + timeout
        count = connected_clients(self.redis.port)
        while not predicate(count) and time.monotonic() < deadline:
            time.sleep(0.05)
            count = connected_clients(self.redis.port)
        return count

    def test_multi_exec_answers_like_redis(self):
        script = b"DEL tx:%s\nMULTI\nSET tx:%s 1\nINCR tx:%s\nGET tx:%s\nEXEC\nGET tx:%s\nDISCARD\nEXEC\n"
        through = redis_cli(self.via, script.replace(b"%s", b"gw"))
        direct = redis_cli(self.redis.port, script.replace(b"%s", b"direct"))
        self.assertEqual(through, direct)
        self.assertIn(b"QUEUED", through[1])

    def test_watch_is_aborted_by_another_clients_write(self):
        other = harness.redis_client(self.via)
        for port in (self.via, self.redis.port):
            with harness.RespClient(port) as client:
                self.assertEqual(client.call("SET", "watched", "0"), "OK")
                self.assertEqual(client.call("WATCH", "watched"), "OK")
                other.set("watched", "changed by another client")
                self.assertEqual(client.call("MULTI"), "OK")
                self.assertEqual(client.call("SET", "watched", "mine"), "QUEUED")
                self.assertIsNone(client.call("EXEC"), "port %d" % port)  # aborted
        self.assertEqual(other.get("watched"), b"changed by another client")

    def test_requests_before_the_pin_are_answered_first_and_in_order(self):
        with harness.RespClient(self.via) as client:
            commands = [("SET", "pin:order", "before")] * 1 + [("INCR", "pin:n")] * 20 + [
                ("MULTI",), ("GET", "pin:order"), ("GET", "pin:n"), ("EXEC",)]
            client.call("DEL", "pin:n")
            client.send_raw(b"".join(harness.resp_command(*c) for c in commands))
            answers = [client.read(timeout=10) for _ in commands]
        self.assertEqual(answers[:21], ["OK"] + list(range(1, 21)))
        self.assertEqual(answers[21:24], ["OK", "QUEUED", "QUEUED"])
        self.assertEqual(answers[24], [b"before", b"20"])

    def test_blpop_is_released_by_another_client_while_others_are_not_delayed(self):
        harness.redis_client(self.via).delete("pin:queue")
        popped = {}

        def blocked():
            with harness.RespClient(self.via, timeout=10) as client:
                popped["answer"] = client.call("BLPOP", "pin:queue", "5")
                popped["at"] = time.monotonic()

        thread = threading.Thread(target=blocked)
        thread.start()
        time.sleep(0.3)
        reader = harness.redis_client(self.via)
        reader.set("pin:plain", "x")
        slowest = 0.0
        for _ in range(50):  # a third client's GETs while one client blocks
            start = time.monotonic()
            self.assertEqual(reader.get("pin:plain"), b"x")
            slowest = max(slowest, time.monotonic() - start)
        pushed_at = time.monotonic()
        self.assertEqual(harness.redis_client(self.via).lpush("pin:queue", "job"), 1)
        thread.join(10)
        self.assertEqual(popped.get("answer"), [b"pin:queue", b"job"])
        self.assertLess(popped["at"] - pushed_at, 0.5)
        # Held behind the blocked client, a GET would wait out the BLPOP's 5 s; a busy machine
        # (the sanitizers, a parallel build) has made one take 0.135 s, so the bound is 1 s.
        self.assertLess(slowest, 1.0)

    def test_subscribe_on_two_clients_and_publish_from_a_third(self):
        subscribers = [harness.RespClient(self.via), harness.RespClient(self.via)]
        try:
            for client in subscribers:
                self.assertEqual(client.call("SUBSCRIBE", "pin:news", "pin:other"), [b"subscribe", b"pin:news", 1])
                self.assertEqual(client.read(), [b"subscribe", b"pin:other", 2])
            receivers = harness.redis_client(self.via).publish("pin:news", "hello")
            self.assertEqual(receivers, 2)
            for client in subscribers:
                self.assertEqual(client.read(), [b"message", b"pin:news", b"hello"])
                self.assertEqual(client.call("PING"), [b"pong", b""])  # as Redis answers PING when subscribed
                self.assertEqual(client.call("UNSUBSCRIBE", "pin:news"), [b"unsubscribe", b"pin:news", 1])
        finally:
            for client in subscribers:
                client.close()

    def test_interactive_redis_cli_sessions_look_as_they_do_against_redis(self):
        for port in (self.via, self.redis.port):
            harness.redis_client(port).delete("pin:tty")
        sessions = {
            "multi": ["multi", "set pin:tty 1", "incr pin:tty", "exec", "get pin:tty"],
            "subscribe": ["subscribe pin:tty-news", lambda: harness.redis_client(self.redis.port).publish("pin:tty-news", "hi")],
            "monitor": ["monitor", lambda: harness.redis_client(self.redis.port).set("pin:tty", "seen")],
        }
        # MONITOR lines carry a time and the writer's address, which differ from run to run.
        normalize = lambda text: re.sub(r"\d+\.\d+ \[\d+ [^\]]+\]", "TIME [CLIENT]", text)
        transcripts = {}
        for name, steps in sessions.items():
            through = normalize(interactive_redis_cli(self.via, steps))
            harness.redis_client(self.redis.port).delete("pin:tty")
            direct = normalize(interactive_redis_cli(self.redis.port, steps))
            self.assertEqual(through, direct, name)
            transcripts[name] = through
        self.assertIn("PORT(TX)> exec", transcripts["multi"])
        self.assertIn("Reading messages", transcripts["subscribe"])
        self.assertIn('"hi"', transcripts["subscribe"])
        self.assertIn('TIME [CLIENT] "SET" "pin:tty" "seen"', transcripts["monitor"])

    def test_monitor_sees_a_command(self):
        with harness.RespClient(self.via) as monitor:
            self.assertEqual(monitor.call("MONITOR"), "OK")
            harness.redis_client(self.via).set("pin:monitored", "1")
            deadline = time.monotonic() + 5
            seen = b""
            while b"pin:monitored" not in seen and time.monotonic() < deadline:
                line = monitor.read(timeout=5)
                seen += line.encode() if isinstance(line, str) else bytes(line)
        self.assertIn(b'"set" "pin:monitored" "1"', seen.lower())

    def test_select_does_not_leak_into_another_clients_database(self):
        with harness.RespClient(self.via) as one, harness.RespClient(self.via) as zero:
            self.assertEqual(zero.call("SET", "pin:db", "in db 0"), "OK")
            self.assertEqual(one.call("SELECT", "1"), "OK")
            self.assertEqual(one.call("SET", "pin:db", "in db 1"), "OK")
            self.assertEqual(one.call("GET", "pin:db"), b"in db 1")
            self.assertEqual(zero.call("GET", "pin:db"), b"in db 0")
            self.assertEqual(zero.call("SELECT", "0"), "OK")  # answered locally: no pin needed
        direct = harness.redis_client(self.redis.port)
        self.assertEqual(direct.get("pin:db"), b"in db 0")
        with harness.RespClient(self.redis.port) as client:
            client.call("SELECT", "1")
            self.assertEqual(client.call("GET", "pin:db"), b"in db 1")
            client.call("DEL", "pin:db")
        direct.delete("pin:db")

    def test_client_name_is_kept_and_follows_the_client_onto_its_own_connection(self):
        with harness.RespClient(self.via) as client:
            self.assertEqual(client.call("CLIENT", "SETNAME", "pinned-app"), "OK")  # no pin yet
            self.assertEqual(client.call("CLIENT", "GETNAME"), b"pinned-app")
            client_id = client.call("CLIENT", "ID")                                  # pins
            self.assertIsInstance(client_id, int)
            self.assertEqual(client.call("CLIENT", "GETNAME"), b"pinned-app")        # Redis's answer now
            listing = harness.redis_client(self.redis.port).client_list()
            named = [entry for entry in listing if entry.get("name") == "pinned-app"]
            self.assertEqual(len(named), 1, listing)
            self.assertEqual(int(named[0]["id"]), client_id)

    def test_command_is_redis_own(self):
        with harness.RespClient(self.via) as through, harness.RespClient(self.redis.port) as direct:
            self.assertEqual(through.call("COMMAND", "COUNT"), direct.call("COMMAND", "COUNT"))
            self.assertGreater(through.call("COMMAND", "COUNT"), 100)
            self.assertEqual(through.call("COMMAND", "INFO", "get"), direct.call("COMMAND", "INFO", "get"))

    def test_pinned_connections_are_closed_with_their_clients(self):
        baseline = self.wait_clients(lambda n: True)
        clients = [harness.RespClient(self.via) for _ in range(200)]
        try:
            for client in clients:
                self.assertEqual(client.call("MULTI"), "OK")
            during = self.wait_clients(lambda n: n >= baseline + 200)
            self.assertGreaterEqual(during, baseline + 200)
            print("\nRedis connected_clients: %d before, %d with 200 clients inside MULTI" % (baseline, during))
        finally:
            for client in clients:
                client.close()
        closed_at = time.monotonic()
        after = self.wait_clients(lambda n: n <= baseline, timeout=1.5)
        print("Redis connected_clients: %d, %.2f s after they closed" % (after, time.monotonic() - closed_at))
        self.assertLessEqual(after, baseline)

    def test_many_plain_clients_share_few_upstream_connections(self):
        baseline = connected_clients(self.redis.port)
        clients = []
        try:
            for i in range(200):
                sock = harness.RespClient(self.via)
                clients.append(sock)
                self.assertEqual(sock.call("GET", "pin:shared:%d" % i), None)
            upstream = connected_clients(self.redis.port)
            print("\nRedis connected_clients: %d before, %d with 200 GET clients" % (baseline, upstream))
        finally:
            for client in clients:
                client.close()
        # 2 workers x max_connections 2 in the example, whatever was open before included.
        self.assertLessEqual(upstream, max(baseline, 1) + 4)

    def test_max_pinned_answers_overloaded(self):
        redis = harness.RedisServer().start()
        try:
            with harness.Gateway([{"name": "resp", "codec": "resp"}], handlers=[], log_level="info",
                                 extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                                            "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d],"
                                            " max_pinned: 2}\n" % redis.port) as gw:
                clients = [harness.RespClient(gw.port("resp")) for _ in range(3)]
                try:
                    answers = [client.call("MULTI") for client in clients]
                    self.assertEqual(answers[:2], ["OK", "OK"])
                    self.assertIsInstance(answers[2], harness.RespError)
                    self.assertTrue(str(answers[2]).startswith("OVERLOADED"), answers[2])
                    self.assertEqual(clients[2].call("GET", "x"), None)  # and the connection lives
                finally:
                    for client in clients:
                        client.close()
        finally:
            redis.stop()


def resp3_session(port, steps, quiet=0.25):
    """Sends HELLO 3, then each step (bytes to send, or a function to run), and returns what came
    back after the HELLO reply for each step, read until the connection has been quiet a while."""
    sock = harness.connect(port)
    answers = []
    try:
        for step in [b"HELLO 3\r\n"] + list(steps):
            if callable(step):
                step()
            else:
                sock.sendall(step)
            data = b""
            sock.settimeout(quiet)
            while True:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
            answers.append(data)
    finally:
        sock.close()
    return answers[1:]


class Resp3Test(harness.GatewayTestCase):
    """A client that switched to RESP3 gets Redis's RESP3 replies and pushes, byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = harness.ExampleGateway("redis-sidecar.yaml", {6379: cls.redis.port}).start()
        cls.gateways = (cls.gw,)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def test_resp3_replies_and_pushes_are_redis_own(self):
        writer = harness.redis_client(self.redis.port)
        writer.hset("r3:h", mapping={"a": "1", "b": "2"})
        steps = [
            harness.resp_command("HGETALL", "r3:h"),          # a map
            harness.resp_command("GET", "r3:missing"),        # RESP3 null
            harness.resp_command("CLIENT", "TRACKING", "on"),
            harness.resp_command("GET", "r3:tracked"),
            lambda: writer.set("r3:tracked", "changed"),       # an invalidation push arrives
            harness.resp_command("PING"),
            harness.resp_command("SUBSCRIBE", "r3:news"),     # pushes from here on
            lambda: writer.publish("r3:news", "hello"),
        ]
        writer.delete("r3:tracked")
        through = resp3_session(self.gw.port("resp"), steps)
        writer.delete("r3:tracked")
        direct = resp3_session(self.redis.port, steps)
        self.assertEqual(through, direct)
        self.assertTrue(through[0].startswith(b"%2\r\n"), through[0])
        self.assertEqual(through[1], b"_\r\n")
        self.assertTrue(through[4].startswith(b">2\r\n$10\r\ninvalidate"), through[4])
        self.assertIn(b">3\r\n$7\r\nmessage\r\n$7\r\nr3:news\r\n$5\r\nhello", through[7])


class SlowSubscriberTest(harness.GatewayTestCase):
    """Pub/sub messages keep coming whether or not a subscriber reads: one that never reads is
    cut off at its listener's output_limit, and nobody else notices."""

    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer().start()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp", "output_high_water": "64KiB", "output_limit": "1MiB"}],
            handlers=[], log_level="info",
            extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d]}\n" % cls.redis.port)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def test_a_subscriber_that_never_reads_is_disconnected_at_output_limit(self):
        deaf = harness.connect(self.gw.port("resp"))
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.sendall(harness.resp_command("SUBSCRIBE", "flood"))
        time.sleep(0.3)
        publisher = harness.redis_client(self.redis.port)
        message = "x" * 100_000
        rss_before = harness.rss_kib(self.gw.pid)
        for _ in range(300):  # 30 MB offered; the gateway may hold at most 1 MiB of it
            publisher.publish("flood", message)
        deadline = time.monotonic() + 10  # the subscriber reads nothing until the gateway gives up
        while "does not read its messages" not in self.gw.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("does not read its messages", self.gw.log_text())
        # The gateway's end of that connection is no longer established (it sent its FIN).
        client_port = deaf.getsockname()[1]
        states = tcp_states(self.gw.port("resp"), client_port)
        deaf.close()
        self.assertTrue(states and "01" not in states, "gateway side states: %r" % states)
        self.assertLess(harness.rss_kib(self.gw.pid) - rss_before, 16 * 1024)
        with harness.RespClient(self.gw.port("resp")) as other:
            self.assertEqual(other.call("SET", "still", "fine"), "OK")
            self.assertEqual(other.call("GET", "still"), b"fine")


class UpstreamAuthTest(harness.GatewayTestCase):
    """A Redis with requirepass: the cluster's password authenticates every upstream connection,
    pooled or pinned; a client's own AUTH is answered by rpcgate and never forwarded."""

    @classmethod
    def setUpClass(cls):
        cls.redis = harness.RedisServer("--requirepass", "s3cret").start()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}], handlers=[], log_level="info",
            extra_yaml="routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
                       "clusters:\n  - {name: cache, codec: resp, endpoints: [127.0.0.1:%d], password: s3cret}\n"
                       % cls.redis.port)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def test_pool_and_pinned_connections_are_authenticated(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("AUTH", "whatever"), "OK")  # rpcgate has no users yet
            self.assertEqual(client.call("SET", "auth:k", "v"), "OK")
            self.assertEqual(client.call("GET", "auth:k"), b"v")
            self.assertEqual(client.call("MULTI"), "OK")                # a pinned connection
            self.assertEqual(client.call("GET", "auth:k"), "QUEUED")
            self.assertEqual(client.call("EXEC"), [b"v"])
        with harness.RespClient(self.redis.port) as direct:
            self.assertTrue(str(direct.call("GET", "auth:k")).startswith("NOAUTH"))
        self.assertNotIn("s3cret", self.gw.log_text())


class UpstreamLoginRefusedTest(harness.GatewayTestCase):
    """A cluster whose login Redis refuses (WRONGPASS: no such user) is a failed upstream, logged
    with Redis's words and counted; nothing runs there as Redis's default user meanwhile. A cluster
    beside it with good credentials, and one that sends a password to a Redis without one, serve."""

    @classmethod
    def setUpClass(cls):
        # The default user has no password, as in a stock Redis: a refused login followed by
        # commands would run them as that user.
        cls.redis = harness.RedisServer("--user", "alice", "on", ">s3cret", "~*", "+@all").start()
        cls.plain = harness.RedisServer().start()
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp"}], handlers=[], log_level="info",
            extra_yaml="routes:\n"
                       "  - {match: {prefix: bad.}, cluster: wrong_user, rename: set}\n"
                       "  - {match: {prefix: good.}, cluster: alice, rename: set}\n"
                       "  - {match: {prefix: plain.}, cluster: needless_password, rename: set}\n"
                       "clusters:\n"
                       "  - {name: wrong_user, codec: resp, endpoints: [127.0.0.1:%d], username: bob, password: x}\n"
                       "  - {name: alice, codec: resp, endpoints: [127.0.0.1:%d], username: alice, password: s3cret}\n"
                       "  - {name: needless_password, codec: resp, endpoints: [127.0.0.1:%d], password: x}\n"
                       % (cls.redis.port, cls.redis.port, cls.plain.port))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()
        cls.plain.stop()

    def test_refused_login_fails_the_upstream_loudly(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            answer = client.call("bad.set", "login:bad", "1")
            self.assertIsInstance(answer, harness.RespError, answer)
            self.assertIn("login refused: WRONGPASS", str(answer))
            self.assertEqual(client.call("good.set", "login:good", "1"), "OK")
            info = client.call("info", "rpcgate-upstreams").decode()
        with harness.RespClient(self.redis.port) as direct:
            self.assertIsNone(direct.call("GET", "login:bad"), "the command ran as Redis's default user")
        self.assertRegex(info, r"(?m)^cluster_wrong_user:.*,login_failures=[1-9]")
        self.assertRegex(info, r"(?m)^cluster_alice:.*,login_failures=0")
        self.assertRegex(self.gw.log_text(), r"error .*cluster wrong_user: upstream 127\.0\.0\.1:%d refused the "
                         r"cluster's login .*WRONGPASS" % self.redis.port)
        self.assertNotIn("s3cret", self.gw.log_text())

    def test_password_sent_to_a_redis_without_one_is_a_warning(self):
        with harness.RespClient(self.gw.port("resp")) as client:
            self.assertEqual(client.call("plain.set", "login:plain", "1"), "OK")
        self.assertRegex(self.gw.log_text(), r"warn .*cluster needless_password: upstream .* has no password, yet "
                         r"the cluster sends one")


if __name__ == "__main__":
    harness.main()
