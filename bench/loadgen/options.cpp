// Parsing and checking the load generator's options; every mistake gets a sentence, not a usage dump.
#include "bench/loadgen/options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace rpcgate::loadgen {
namespace {

constexpr std::string_view kUsage =
    R"(rpcgate-loadgen: a closed-loop load generator for rpcgate's three codecs. Every answer is checked.

usage: rpcgate-loadgen [--codec resp|json|protobuf] [--command NAME] [options]

  --codec C          resp (default), json or protobuf
  --command NAME     resp: ping (default), set, get; json: ping (default), pi; protobuf: ping
  --host IPV4        server address, an IPv4 literal (default 127.0.0.1)
  --port P           server port (default: the shipped conf/rpcgate.yaml's: resp 6380, json 8080,
                     protobuf 8081)
  --connections N    connections, opened once, never reopened (default 50, at most 10000)
  --pipeline P       requests each connection keeps outstanding (default 1, at most 65536)
  --requests N       requests to send in all (default 100000)
  --duration S       hard bound on the run in seconds, decimals allowed (default 60); whichever of
                     --requests and --duration comes first ends the run
  --key-space K      resp set/get: keys key:000000000000 .. key:K-1 (default 10000)
  --value-size B     resp set/get: value bytes (default 3, at most 1 MiB)
  --params JSON      json: ping sends these params and expects them back as the result (default
                     null); pi sends the integer n (default 1000) and expects the legacy value
                     sqrt(8 * sum_{i=0..n} 1/(2i+1)^2), exactly
  --out KIND         json: the "out" every answer must carry (default pong for ping, pi_r for pi);
                     rpcgate in front of a gRPC service answers "result"
  --json             print one JSON object on stdout instead of the summary
  --help             this text

What is sent and what must come back:
  resp ping          *1 $4 PING                   -> +PONG
  resp set           SET key:NNNNNNNNNNNN VALUE   -> +OK
  resp get           GET key:NNNNNNNNNNNN         -> the exact bulk string SET there
                     (a warm-up SETs every key of --key-space first; not timed)
  json ping/pi       4-byte little-endian length + {"in":"ping","params":...}
                     -> {"out": "pong", "result": <params>}, {"out": "pi_r", "result": <pi>}
  protobuf ping      4-byte big-endian length + rpcgate.v1.Request{id, method "ping"}
                     -> Response{same id, kind "pong"}, no result, payload or error
Request k uses key k mod --key-space; the value of a key starts with its last digits, then 'x'.

Each answer is checked: RESP byte for byte against the one expected; JSON fully parsed the first
time a body is seen, then compared byte for byte with the bodies already found good; protobuf
decoded field by field. A wrong answer, an error answer or a closed connection is an error.

Latency is from the write that sent a request to the read that brought its answer, per request,
in a histogram of ~1 % precision; reported as p50/p90/p99/p99.9/max with requests/s.

Exit status: 0 when every answer was right, 1 when any was wrong (the first one is shown), 2 for
a bad option or a failed connect.
)";

template <typename Number>
bool parse_number(std::string_view text, Number min, Number max, Number& out) {
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
  out = value;
  return true;
}

bool parse_seconds(std::string_view text, double& out) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value <= 0 ||
      value > 7 * 86400.0)
    return false;
  out = value;
  return true;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// The pairing of codec and command, and of options that only some pairs read.
bool check_combination(const Options& o, bool key_options, std::string& error) {
  bool fits = o.codec == Codec::kResp   ? o.command != Command::kPi
              : o.codec == Codec::kJson ? o.command == Command::kPing || o.command == Command::kPi
                                        : o.command == Command::kPing;
  if (!fits) {
    error = "--command " + std::string(command_name(o.command)) + " is not available with --codec " +
            std::string(codec_name(o.codec)) + " (see --help)";
    return false;
  }
  if (key_options && !(o.codec == Codec::kResp && o.command != Command::kPing)) {
    error = "--key-space and --value-size apply to --codec resp --command set|get only";
    return false;
  }
  if ((o.params || o.out) && o.codec != Codec::kJson) {
    error = "--params and --out apply to --codec json only";
    return false;
  }
  uint64_t request_bytes = 64 + static_cast<uint64_t>(o.value_size) + (o.params ? o.params->size() : 0);
  if (request_bytes * o.pipeline * o.connections > kMaxOutputBytes) {
    error = "--connections x --pipeline x request size would need more than 256 MiB of buffers";
    return false;
  }
  return true;
}

}  // namespace

std::string_view usage() { return kUsage; }

std::string_view codec_name(Codec codec) {
  switch (codec) {
    case Codec::kResp:
      return "resp";
    case Codec::kJson:
      return "json";
    case Codec::kProtobuf:
      return "protobuf";
  }
  return "?";
}

std::string_view command_name(Command command) {
  switch (command) {
    case Command::kPing:
      return "ping";
    case Command::kSet:
      return "set";
    case Command::kGet:
      return "get";
    case Command::kPi:
      return "pi";
  }
  return "?";
}

ParseOutcome parse_options(int argc, char** argv, Options& o, std::string& error) {
  bool key_options = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseOutcome::kHelp;
    if (arg == "--json") {
      o.json_output = true;
      continue;
    }
    std::string_view name = arg;
    std::string_view value;
    if (auto equals = arg.find('='); arg.starts_with("--") && equals != std::string_view::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      error = arg.starts_with("--") ? "option " + std::string(arg) + " needs a value"
                                    : "unexpected argument " + quoted(arg) + " (see --help)";
      return ParseOutcome::kError;
    }
    bool ok = true;
    if (name == "--codec") {
      if (value == "resp")
        o.codec = Codec::kResp;
      else if (value == "json")
        o.codec = Codec::kJson;
      else if (value == "protobuf")
        o.codec = Codec::kProtobuf;
      else
        ok = false;
    } else if (name == "--command") {
      if (value == "ping")
        o.command = Command::kPing;
      else if (value == "set")
        o.command = Command::kSet;
      else if (value == "get")
        o.command = Command::kGet;
      else if (value == "pi")
        o.command = Command::kPi;
      else
        ok = false;
    } else if (name == "--host") {
      in_addr address{};
      ok = inet_pton(AF_INET, std::string(value).c_str(), &address) == 1;
      if (ok) o.host = value;
    } else if (name == "--port") {
      ok = parse_number<uint16_t>(value, 1, 65535, o.port);
    } else if (name == "--connections") {
      ok = parse_number<uint32_t>(value, 1, kMaxConnections, o.connections);
    } else if (name == "--pipeline") {
      ok = parse_number<uint32_t>(value, 1, kMaxPipeline, o.pipeline);
    } else if (name == "--requests") {
      ok = parse_number<uint64_t>(value, 1, std::numeric_limits<int64_t>::max(), o.requests);
    } else if (name == "--duration") {
      ok = parse_seconds(value, o.duration_s);
    } else if (name == "--key-space") {
      key_options = true;
      ok = parse_number<uint64_t>(value, 1, kMaxKeySpace, o.key_space);
    } else if (name == "--value-size") {
      key_options = true;
      ok = parse_number<uint32_t>(value, 0, kMaxValueSize, o.value_size);
    } else if (name == "--params") {
      o.params = std::string(value);
    } else if (name == "--out") {
      o.out = std::string(value);
    } else {
      error = "unknown option " + quoted(name) + " (see --help)";
      return ParseOutcome::kError;
    }
    if (!ok) {
      error = "bad value " + quoted(value) + " for " + std::string(name) + " (see --help)";
      return ParseOutcome::kError;
    }
  }
  if (o.port == 0) o.port = o.codec == Codec::kResp ? 6380 : o.codec == Codec::kJson ? 8080 : 8081;
  return check_combination(o, key_options, error) ? ParseOutcome::kRun : ParseOutcome::kError;
}

}  // namespace rpcgate::loadgen
