"""The master and its preforked workers, with real processes and real signals: the worker count,
respawn after kill -9 under load, drain on SIGTERM, workers that never outlive a killed master,
a crash loop that is not respawned forever, and both codecs served by every model."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import harness

WORKERS = 3


children = harness.children


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


wait_for = harness.wait_for


class PingLoad:
    """Clients on their own connections pinging in a loop. Each first asks which worker serves it
    (INFO's process_id); answers and errors are kept per client."""

    def __init__(self, port, clients=4, duration=3.0):
        self.port, self.duration = port, duration
        self.worker = [None] * clients
        self.answers = [0] * clients
        self.errors = [[] for _ in range(clients)]
        self.ready = threading.Barrier(clients + 1, timeout=10)
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]

    def run(self, i):
        end = time.monotonic() + self.duration
        try:
            with harness.JsonClient(self.port) as client:
                info = client.call("info", "server")["result"]
                self.worker[i] = int(info.split("process_id:")[1].split("\r\n")[0])
                self.ready.wait()
                while time.monotonic() < end:
                    answer = client.call("ping", 1)
                    if answer != {"out": "pong", "result": 1}:
                        raise AssertionError("bad answer %r" % answer)
                    self.answers[i] += 1
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.errors[i].append(repr(error))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        self.ready.wait()
        return self

    def __exit__(self, *exc):
        for thread in self.threads:
            thread.join(self.duration + 10)
        return False


class PreforkTest(harness.GatewayTestCase):
    def start(self, model="prefork", workers=WORKERS, drain_timeout="5s", **listener_options):
        gw = self.start_gateway(
            [{"name": "json", "codec": "json", **listener_options}, {"name": "resp", "codec": "resp"}],
            process={"model": model, "workers": workers, "drain_timeout": drain_timeout}, log_level="info")
        self.assertTrue(wait_for(lambda: len(children(gw.pid)) == workers, 5),
                        "expected %d workers, found %r" % (workers, children(gw.pid)))
        return gw

    def setUp(self):
        self.__class__.gateways = ()

    def tearDown(self):
        # Stopped, but kept: a failure report appends each one's log tail after tearDown.
        for gw in self.gateways:
            gw.__exit__(None, None, None)

    def test_worker_count_matches_the_config(self):
        gw = self.start(workers=WORKERS)
        self.assertEqual(len(children(gw.pid)), WORKERS)
        self.assertTrue(wait_for(lambda: gw.log_text().count("serving as worker") == WORKERS, 5), gw.log_text())

    def test_info_totals_every_worker(self):
        gw = self.start()
        per_connection = 50
        clients = [harness.JsonClient(gw.port("json")) for _ in range(12)]
        try:
            for client in clients:
                for i in range(per_connection):
                    self.assertEqual(client.call("ping", i), {"out": "pong", "result": i})
            with harness.connect(gw.port("resp")) as sock:
                sock.sendall(b"INFO\r\n")
                header = b""
                while not header.endswith(b"\r\n"):
                    header += harness.recv_exact(sock, 1)
                text = harness.recv_exact(sock, int(header[1:-2]) + 2).decode()
        finally:
            for client in clients:
                client.close()
        fields = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        workers = {k: dict(kv.split("=") for kv in v.split(",")) for k, v in fields.items() if k.startswith("worker_")}
        self.assertEqual(len(workers), WORKERS, text)
        self.assertEqual(sorted(int(w["pid"]) for w in workers.values()), sorted(children(gw.pid)))
        processed = sum(int(w["commands_processed"]) for w in workers.values())
        self.assertEqual(int(fields["total_commands_processed"]), processed, text)
        # 600 pings on the json listener, plus this INFO on the resp one
        self.assertGreaterEqual(processed, 12 * per_connection + 1)
        self.assertIn("requests=%d" % (12 * per_connection), fields["listener_json"])
        self.assertGreater(sum(1 for w in workers.values() if int(w["commands_processed"]) > 0), 0)

    def test_info_counts_per_route(self):
        gw = self.start_gateway([{"name": "json", "codec": "json"}], process={"model": "prefork", "workers": 2},
                                extra_yaml="routes:\n  - {match: {prefix: 'x.'}, handler: upper}\n"
                                           "  - {match: {glob: '*.echo'}, handler: echo}\n")
        with harness.JsonClient(gw.port("json")) as client:
            for _ in range(5):
                self.assertEqual(client.call("x.up", "a")["result"], "A")
            self.assertEqual(client.call("x.up", 1)["result"]["code"], "BAD_REQUEST")
            for _ in range(3):
                self.assertEqual(client.call("a.echo", 2)["result"], 2)
            text = client.call("info", "routes")["result"]
        self.assertIn("route_0:match=prefix:x.,target=handler:upper,requests=6,errors=1", text)
        self.assertIn("route_1:match=glob:*.echo,target=handler:echo,requests=3,errors=0", text)

    def test_kill_9_of_a_worker_under_load(self):
        for model in ("prefork", "fdpass"):
            with self.subTest(model=model):
                self.kill_9_under_load(model)

    def kill_9_under_load(self, model):
        gw = self.start(model=model)
        with PingLoad(gw.port("json"), clients=6, duration=3.0) as load:
            # The victim is never the first client's worker, so some client always survives.
            victim = next(p for p in children(gw.pid) if p != load.worker[0])
            time.sleep(0.3)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            replaced = wait_for(lambda: len([p for p in children(gw.pid) if p != victim]) == WORKERS, 1.0, 0.005)
            respawn_ms = (time.monotonic() - killed_at) * 1000
        self.assertTrue(replaced, "the killed worker was not replaced within 1 s: %r" % children(gw.pid))
        print("respawned in %.1f ms" % respawn_ms)
        for i, worker in enumerate(load.worker):
            if worker != victim:
                self.assertEqual(load.errors[i], [], "client %d on surviving worker %d saw errors" % (i, worker))
                self.assertGreater(load.answers[i], 10)
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("ping", 2), {"out": "pong", "result": 2})

    def test_sigterm_drains_pipelined_load_then_exits_0(self):
        gw = self.start(drain_timeout="10s")
        clients = [harness.JsonClient(gw.port("json"), timeout=10) for _ in range(4)]
        try:
            batch = 200
            for client in clients:
                client.send_raw(b"".join(harness.frame({"in": "pi", "params": 20000, "id": i})
                                         for i in range(batch)))
            time.sleep(0.05)
            gw.send_signal(signal.SIGTERM)
            for client in clients:
                for i in range(batch):
                    answer = client.recv(timeout=10)
                    self.assertEqual((answer.get("id"), answer.get("out")), (i, "pi_r"), answer)
                closed, rest = harness.wait_closed(client.sock, timeout=10)
                self.assertTrue(closed, "connection still open after its answers during the drain")
        finally:
            for client in clients:
                client.close()
        self.assertEqual(gw.wait(15), 0, "the master should exit 0 once its workers drained")
        self.assertIn("every worker has exited", gw.log_text())

    def test_sigkill_of_the_master_leaves_no_worker(self):
        gw = self.start(drain_timeout="2s")
        workers = children(gw.pid)
        os.kill(gw.pid, signal.SIGKILL)
        gw.wait(5)
        gone = wait_for(lambda: not any(alive(p) for p in workers), 4.0)
        self.assertTrue(gone, "workers %r outlived the killed master" % [p for p in workers if alive(p)])

    def test_both_codecs_and_redis_benchmark(self):
        for model in ("prefork", "reuseport", "fdpass"):
            with self.subTest(model=model):
                gw = self.start(model=model)
                out = subprocess.run(["redis-benchmark", "-h", harness.LOOPBACK, "-p", str(gw.port("resp")),
                                      "-t", "ping", "-n", "20000", "-c", "20", "-q"],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(out.stdout.count("requests per second"), 2, out.stdout)
                self.assertNotIn("rror", out.stdout + out.stderr)
                with harness.JsonClient(gw.port("json")) as client:
                    for i in range(50):
                        self.assertEqual(client.call("ping", i), {"out": "pong", "result": i})
                gw.__exit__(None, None, None)
                self.assertEqual(gw.returncode, 0)
                self.__class__.gateways = ()

    def test_reuseport_refuses_a_taken_port_at_start(self):
        with harness.occupied_port() as port:
            gw = harness.Gateway([{"name": "json", "codec": "json"}],
                                 process={"model": "reuseport", "workers": 2}, log_level="info")
            gw.listeners[0]["address"] = "%s:%d" % (harness.LOOPBACK, port)
            with open(gw.config_path, "w") as f:
                f.write(gw.config_text())
            out = subprocess.run([harness.BIN, "-c", gw.config_path], capture_output=True, text=True, timeout=10)
            gw.dir.cleanup()
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("Address already in use", out.stderr)

    def test_pid_file_and_log_reopening(self):
        directory = tempfile.mkdtemp(prefix="rpcgate-pid-")
        pid_file = os.path.join(directory, "rpcgate.pid")
        log_file = os.path.join(directory, "rpcgate.log")
        try:
            gw = self.start_gateway([{"name": "json", "codec": "json"}],
                                    process={"model": "prefork", "workers": 2, "pid_file": pid_file},
                                    extra={"logging": {"level": "info", "file": log_file}})
            self.assertTrue(wait_for(lambda: os.path.exists(pid_file), 5))
            with open(pid_file) as f:
                self.assertEqual(int(f.read()), gw.pid)
            # logrotate's way: move the file away, then SIGUSR1 makes every process reopen it.
            os.rename(log_file, log_file + ".1")
            gw.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            gw.send_signal(signal.SIGHUP)  # something for the master to log into the new file
            self.assertTrue(wait_for(lambda: os.path.exists(log_file) and "reloading" in open(log_file).read(), 5))
            gw.stop()
            self.assertEqual(gw.returncode, 0)
            self.assertFalse(os.path.exists(pid_file), "the master should remove its pid file on exit")
            with open(log_file) as f:
                self.assertIn("exiting with status 0", f.read(), "workers should log into the reopened file")
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def test_crash_loop_is_not_respawned_forever(self):
        # A worker that dies within a second of starting, again and again (killed here as soon
        # as it appears): the master backs off, gives the slot up after 5 deaths, and exits 1
        # since no worker is left.
        gw = self.start(workers=1)
        killed = []
        deadline = time.monotonic() + 20
        # Stop once the master gave up: a sanitized master's leak check at exit runs in a child
        # task of its own, which must not be mistaken for a worker.
        while gw.alive() and time.monotonic() < deadline and "not respawning" not in gw.log_text():
            for pid in children(gw.pid):
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.005)
        status = gw.wait(5)
        self.assertEqual(status, 1, "the master should give up and exit 1, got %r" % status)
        self.assertEqual(len(killed), 5, "expected 5 starts before giving up: %r" % killed)
        log = gw.log_text()
        self.assertIn("not respawning", log)
        self.assertIn("respawning in 0 ms", log)    # the first early death may be bad luck
        self.assertIn("respawning in 400 ms", log)  # then the backoff grows: 100, 200, 400


if __name__ == "__main__":
    harness.main()
