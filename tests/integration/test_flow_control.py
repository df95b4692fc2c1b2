"""Flow control: requests a connection has read but paused on (full pipeline, output over the
high-water mark) are answered without the client sending anything more, also when the client
half-closes and when the gateway drains. Small limits make the pauses happen with little data."""

import math
import signal
import socket
import threading
import time

import harness

PINGS = 3000
PIS = 60


class FlowControlTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = cls.start_gateway(
            [{"name": "resp", "codec": "resp", "output_high_water": 256, "output_limit": "1MiB"},
             {"name": "json", "codec": "json", "max_pipeline": 4}],
            process={"drain_timeout": "20s"}, log_level="info")

    def test_buffered_pings_answered_while_the_client_waits(self):
        # 3000 inline PINGs in one write: the answers pass the 256-byte high-water mark many
        # times, so most requests wait in the read buffer; the client sends nothing more.
        with harness.connect(self.gw.port("resp")) as sock:
            sock.sendall(b"PING\r\n" * PINGS)
            answers = harness.recv_exact(sock, len(b"+PONG\r\n") * PINGS, timeout=10)
        self.assertEqual(answers, b"+PONG\r\n" * PINGS)

    def test_half_closed_client_gets_every_answer_then_eof(self):
        with harness.connect(self.gw.port("resp")) as sock:
            sock.sendall(b"PING\r\n" * PINGS)
            sock.shutdown(socket.SHUT_WR)
            closed, data = harness.wait_closed(sock, timeout=10)
        self.assertTrue(closed, "the gateway should close after answering a half-closed client")
        self.assertEqual(data.count(b"+PONG\r\n"), PINGS, "%d bytes came back" % len(data))

    def pis(self):
        return b"".join(harness.frame({"in": "pi", "params": 1000 + i, "id": i}) for i in range(PIS))

    def check_pis(self, client):
        for i in range(PIS):
            answer = client.recv(timeout=10)
            self.assertEqual(answer.get("id"), i, "answer %d out of order: %r" % (i, answer))
            self.assertEqual(answer.get("out"), "pi_r")
            self.assertLess(abs(answer["result"] - math.pi), 1e-3)

    def test_full_pipeline_resumes_on_buffered_requests(self):
        # max_pipeline 4: 56 of the 60 thread-pool calls wait, undecoded, in the read buffer.
        with harness.JsonClient(self.gw.port("json")) as client:
            client.send_raw(self.pis())
            self.check_pis(client)
            client.sock.shutdown(socket.SHUT_WR)
            closed, rest = harness.wait_closed(client.sock)
        self.assertTrue(closed)
        self.assertEqual(rest, b"")


class DrainWithBufferedRequestsTest(harness.GatewayTestCase):
    def test_sigterm_answers_requests_read_but_not_yet_started(self):
        gw = self.start_gateway([{"name": "json", "codec": "json", "max_pipeline": 2}],
                                process={"drain_timeout": "20s"}, log_level="info")
        with harness.JsonClient(gw.port("json")) as client:
            client.send_raw(b"".join(harness.frame({"in": "pi", "params": 200000, "id": i}) for i in range(PIS)))
            time.sleep(0.1)
            gw.send_signal(signal.SIGTERM)
            for i in range(PIS):
                answer = client.recv(timeout=10)
                self.assertEqual((answer.get("id"), answer.get("out")), (i, "pi_r"), answer)
            closed, _ = harness.wait_closed(client.sock)
            self.assertTrue(closed, "the connection should close once everything read was answered")
        self.assertEqual(gw.wait(10), 0)


class DrainRaceTest(harness.GatewayTestCase):
    def test_requests_still_unread_at_sigterm_are_answered(self):
        # The client sends 8 MB of echo requests without reading the 8 MB of answers: the
        # socket buffers fill, the gateway pauses reading at output_high_water, and requests sit
        # unread in the kernel when SIGTERM arrives. The drain must go on reading them; closing
        # a socket with unread bytes would reset the connection and lose them.
        gw = self.start_gateway([{"name": "resp", "codec": "resp", "output_high_water": "64KiB",
                                  "output_limit": "64MiB"}],
                                process={"drain_timeout": "20s"}, log_level="info")
        count, size = 2000, 4096
        payload = b"x" * size
        request = b"*2\r\n$4\r\necho\r\n$%d\r\n%s\r\n" % (size, payload)
        answer = b"$%d\r\n%s\r\n" % (size, payload)
        with socket.socket() as sock:
            # A small fixed receive buffer (no autotuning): the answers back up into the gateway
            # after a few MB instead of filling tens of MB of client buffer.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.settimeout(20)
            sock.connect((harness.LOOPBACK, gw.port("resp")))
            sender = threading.Thread(target=harness.send_ignoring_reset, args=(sock, request * count))
            sender.start()
            time.sleep(0.5)  # the buffers fill and the gateway pauses
            gw.send_signal(signal.SIGTERM)
            closed, data = harness.wait_closed(sock, timeout=20)
            sender.join(20)
        self.assertTrue(closed)
        self.assertEqual(data.count(answer), count, "%d of %d bytes came back" % (len(data), len(answer) * count))
        self.assertEqual(gw.wait(10), 0)


class LogFloodTest(harness.GatewayTestCase):
    def test_a_flood_of_bad_clients_is_not_a_flood_of_log_lines(self):
        gw = self.start_gateway([{"name": "json", "codec": "json"}], log_level="info")
        for _ in range(50):
            with harness.connect(gw.port("json")) as sock:
                sock.sendall(b"\xff\xff\xff\xff")  # a length far past max_frame_bytes
                closed, answer = harness.wait_closed(sock)
                self.assertTrue(closed)
                self.assertIn(b"TOO_LARGE", answer)
        lines = [l for l in gw.log_text().splitlines() if "protocol error" in l]
        self.assertGreaterEqual(len(lines), 1)
        self.assertLess(len(lines), 10, "one line per second at most:\n" + "\n".join(lines))
        with harness.JsonClient(gw.port("json")) as client:
            self.assertEqual(client.call("stats")["result"]["protocol_errors"], 50)


if __name__ == "__main__":
    harness.main()
