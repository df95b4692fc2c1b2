"""The pieces of bench/run.py's grpc section (docs/benchmarks.md, "7. gRPC"): the one unary call
h2load sends, the peers' configurations (nginx grpc_pass, the C++ gRPC server), reading h2load's
figures, and the probes that check one answer of each path, bit for bit, before anything is
measured.

The call is the book's pi.PiCalculator/Calc (conf/examples/pi.proto) with n = PI_TERMS: small, so
that the figures are about carrying a call, not computing pi. Every answer must be the legacy
service's value: legacy_server.compute_pi(n) is the reference, and the probes compare the bytes of
the double.
"""
import collections
import os
import pwd
import re
import struct
import subprocess

from legacy_server import compute_pi

HERE = os.path.dirname(os.path.abspath(__file__))
PI_PROTO = os.path.join(HERE, "..", "conf", "examples", "pi.proto")
METHOD_PATH = "/pi.PiCalculator/Calc"
PI_TERMS = 100


# ----------------------------------------------------------------------------- the call

def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pi_request(n):
    """PiRequest{n} as protobuf bytes: field 1, varint (n >= 0 here)."""
    return b"\x08" + varint(n) if n else b""


def pi_response(value):
    """PiResponse{value} as protobuf bytes: field 1, 64-bit (a double), little-endian."""
    return b"\x09" + struct.pack("<d", value) if value else b""


def grpc_framed(message):
    """A gRPC length-prefixed message: not compressed (0), 4-byte big-endian length, the bytes."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def write_request_file(directory, n=PI_TERMS):
    """The body h2load posts (-d): one framed PiRequest. Returns (path, the bytes of the framed
    answer every call must bring back)."""
    path = os.path.join(directory, "pi-request.bin")
    with open(path, "wb") as f:
        f.write(grpc_framed(pi_request(n)))
    return path, grpc_framed(pi_response(compute_pi(n)))


def descriptor_set(directory):
    """pi.proto's FileDescriptorSet, made by protoc now, for rpcgate's `descriptors`."""
    path = os.path.join(directory, "pi.pb")
    proto = os.path.abspath(PI_PROTO)
    subprocess.run(["protoc", "--proto_path=" + os.path.dirname(proto), "--include_imports",
                    "--descriptor_set_out=" + path, proto], check=True, capture_output=True, timeout=30)
    return path


# ----------------------------------------------------------------------------- probes

def grpc_probe(port, n=PI_TERMS, timeout=5.0):
    """One call through Python's gRPC (python3-grpcio), its messages as raw bytes: "ok" when the
    answer is PiResponse{compute_pi(n)} to the bit, or what went wrong."""
    try:
        import grpc  # only the probes need it; imported here so that the rest works without it
    except ImportError:
        return "Python's gRPC is not installed (python3-grpcio; scripts/install-deps.sh --with-bench)"
    expected = pi_response(compute_pi(n))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            answer = channel.unary_unary(METHOD_PATH)(pi_request(n), timeout=timeout)
    except grpc.RpcError as e:
        return f"{e.code().name}: {e.details()}"
    return "ok" if answer == expected else f"answered {answer.hex()}, expected {expected.hex()}"


# ----------------------------------------------------------------------------- peers

def nginx_config(directory, port, upstream_port):
    """nginx as a grpc_pass proxy shaped like rpcgate `model: single`: one worker, every path under
    `directory`, upstream connections kept alive and reused. nginx carries one call per upstream
    connection at a time, so it needs as many as there are calls in flight (50 x 16 at most here):
    beyond `keepalive` idle ones it would close and reconnect once per call."""
    # As root, the workers would otherwise switch to `nobody`, who cannot read the directory.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "".join(f"  {kind}_temp_path {directory}/nginx-{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = (user + "worker_processes 1;\n"
            f"pid {directory}/nginx.pid;\n"
            f"error_log {directory}/nginx-error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "  access_log off;\n"
            + temp +
            # A client connection takes any number of calls: the default ends it after 1,000.
            "  keepalive_requests 100000000;\n"
            "  keepalive_timeout 300s;\n"
            "  upstream pi_grpc {\n"
            f"    server 127.0.0.1:{upstream_port};\n"
            "    keepalive 1024;\n"
            "    keepalive_requests 100000000;\n"
            "  }\n"
            "  server {\n"
            f"    listen 127.0.0.1:{port} http2;\n"
            "    location / { grpc_pass grpc://pi_grpc; }\n"
            "  }\n"
            "}\n")
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as f:
        f.write(text)
    return path, text


def nginx_command(config, directory):
    """nginx in the foreground (its master, as our child, stopped by PID), the start-up error log
    (-e) in `directory` too, not /var/log/nginx."""
    return ["nginx", "-p", directory, "-c", config, "-e", os.path.join(directory, "nginx-error.log"),
            "-g", "daemon off;"]


# ----------------------------------------------------------------------------- h2load

def h2load_command(port, requests, clients, streams, request_file, log_file):
    return ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams), "-t", "1",
            "-d", request_file, "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--log-file", log_file, f"http://127.0.0.1:{port}{METHOD_PATH}"]


def parse_h2load(out):
    """h2load's summary: {rps, done, succeeded, failed, errored, data_bytes}, or None."""
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored", out)
    data = re.search(r"\((\d+)\) data", out)
    if not (rate and counts and data):
        return None
    return {"rps": float(rate.group(1)), "done": int(counts.group(3)), "succeeded": int(counts.group(4)),
            "failed": int(counts.group(5)), "errored": int(counts.group(6)), "data_bytes": int(data.group(1))}


def latency_percentiles(log_file):
    """(p50 ms, p99 ms, {HTTP status: calls}) from h2load's --log-file (start µs, status, µs until
    the end of the response, one call a line). h2load prints no percentiles of its own."""
    times, statuses = [], collections.Counter()
    with open(log_file) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) >= 3:
                statuses[int(fields[1])] += 1
                times.append(int(fields[2]))
    if not times:
        return None, None, dict(statuses)
    times.sort()
    at = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000  # noqa: E731
    return at(0.50), at(0.99), dict(statuses)


def check_h2load(summary, statuses, requests, answer_bytes):
    """Why an h2load run is not valid, or None. h2load knows HTTP, not gRPC: a gRPC error comes as
    HTTP 200 with no message. So every call must have brought back exactly one framed PiResponse
    of the expected size (the probe checked its value before measuring)."""
    if summary is None:
        return "no h2load summary"
    if summary["done"] != requests or summary["succeeded"] != requests or summary["errored"]:
        return (f"h2load: {summary['done']} done, {summary['succeeded']} succeeded, {summary['errored']} errored "
                f"of {requests}")
    if summary["data_bytes"] != requests * answer_bytes:
        return (f"h2load received {summary['data_bytes']} bytes of messages, expected {requests} x {answer_bytes}: "
                "some calls were answered with an error status")
    if statuses != {200: requests}:
        return f"HTTP statuses in h2load's log: {statuses}"
    return None
