#!/usr/bin/env python3
"""The codec seam, proved by a codec built outside codecs/: tests/codec_plugin/ holds a line codec
("METHOD ARG ARG\\n" in, "+JSON\\n" or "-CODE message\\n" out) and a binary that is rpcgate plus one
register_codec() line. Nothing else in the tree names it, yet:
- its listener serves handlers, and an empty line (DecodeStatus::kConsumed) makes no request;
- the listener option it declares, `greeting`, is read from the config and written by the codec
  on its own (ServerCodec::take_output);
- a cluster of it is an upstream: a JSON client's call crosses json -> line -> line -> json;
- its options appear in GET /config, are refused on another codec's listener with the message
  every codec option gets, and its name is in --help;
- a line over its own `max_line_bytes` ends only that client's connection.
"""

import http.client as httpclient
import json
import os
import subprocess

import harness

PLUGIN_BIN = os.environ.get("RPCGATE_PLUGIN_BIN") or os.path.join(
    os.path.dirname(harness.BIN), "tests", "rpcgate-line-codec")
harness.BIN = PLUGIN_BIN


def line_call(sock, text):
    sock.sendall(text.encode() + b"\n")
    return read_line(sock)


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError("connection closed after %r" % data)
        data += chunk
    return data.decode()


class CodecPluginTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.admin_port = harness.free_port()
        cls.gw = cls.start_gateway(
            [{"name": "line", "codec": "line", "greeting": "hello from line", "max_line_bytes": 64},
             {"name": "json", "codec": "json"}],
            process={"model": "prefork", "workers": 1},
            log_level="info", handlers=[],
            extra_yaml="admin: {address: 127.0.0.1:%d}\n"
                       "routes:\n  - {match: {method: up.echo}, cluster: lines, rename: echo}\n"
                       "  - {match: {methods: [ping, echo]}, handler: echo}\n"
                       "clusters:\n  - {name: lines, codec: line, max_line_bytes: 128, endpoints: [127.0.0.1:PORT]}\n"
                       % cls.admin_port)
        harness.wait_listening([cls.admin_port], cls.gw.proc, describe="the admin port")

    @classmethod
    def start_gateway(cls, listeners, **kwargs):
        # The cluster's endpoint is the gateway's own line listener, whose port is chosen here.
        gw = harness.Gateway(listeners, **kwargs)
        gw.extra_yaml = gw.extra_yaml.replace("PORT", str(gw.port("line")))
        gw.start()
        cls.gateways = (gw,)
        return gw

    def test_a_keepalive_makes_no_request_and_the_greeting_comes_first(self):
        with harness.connect(self.gw.port("line")) as sock:
            sock.sendall(b"\n")
            self.assertEqual(read_line(sock), "*hello from line\n")
            self.assertEqual(line_call(sock, "echo a b"), '+["a","b"]\n')
            self.assertEqual(line_call(sock, "nosuch"), "-UNKNOWN_METHOD no route for method 'nosuch'\n")

    def test_a_json_call_crosses_a_cluster_of_the_plugin_codec(self):
        client = harness.JsonClient(self.gw.port("json"))
        answer = client.call("up.echo", ["x", "y"])
        self.assertEqual(answer.get("result"), ["x", "y"], answer)
        client.close()

    def test_a_long_line_ends_its_own_connection_only(self):
        bystander = harness.connect(self.gw.port("line"))
        bystander.sendall(b"\n")
        read_line(bystander)
        with harness.connect(self.gw.port("line")) as sock:
            sock.sendall(b"echo " + b"z" * 100 + b"\n")
            self.assertEqual(read_line(sock), "*hello from line\n")
            self.assertTrue(read_line(sock).startswith("-TOO_LARGE line longer than 64 bytes"))
            harness.wait_closed(sock)
        self.assertEqual(line_call(bystander, "echo still"), '+["still"]\n')
        bystander.close()

    def test_its_options_are_in_the_effective_config(self):
        connection = httpclient.HTTPConnection(harness.LOOPBACK, self.admin_port, timeout=harness.IO_TIMEOUT)
        connection.request("GET", "/config")
        config = json.loads(connection.getresponse().read())
        connection.close()
        listener = [item for item in config["listeners"] if item["name"] == "line"][0]
        self.assertEqual((listener["greeting"], listener["max_line_bytes"]), ("hello from line", 64))
        self.assertEqual(config["clusters"][0]["max_line_bytes"], 128)
        self.assertNotIn("greeting", config["clusters"][0])

    def test_its_options_are_checked_like_any_codecs(self):
        bad = harness.Gateway([{"name": "json", "codec": "json", "greeting": "hi"},
                               {"name": "line", "codec": "line", "max_line_bytes": 1}])
        with open(bad.config_path, "w") as f:
            f.write(bad.config_text())
        result = subprocess.run([PLUGIN_BIN, "-t", "-c", bad.config_path], capture_output=True, text=True, timeout=30)
        bad.remove_log()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("greeting applies to the line codec only; this listener's codec is json", result.stderr)
        self.assertIn("listeners[1].max_line_bytes", result.stderr)
        usage = subprocess.run([PLUGIN_BIN, "--help"], capture_output=True, text=True, timeout=30).stdout
        self.assertIn("Codecs: json, resp, protobuf, grpc, line.", usage)


if __name__ == "__main__":
    harness.main()
