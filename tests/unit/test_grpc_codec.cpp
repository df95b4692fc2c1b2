// The grpc codec's server side against nghttp2's own client session: unary calls translated
// through descriptors (unwrap both ways), a captured python-grpc request cut at every byte,
// limits at N and N+1 (message size, header list, concurrent streams, resets), gzip, health,
// protocol errors, drain, and the status mapping.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "codecs/grpc/grpc_codec.h"
#include "codecs/grpc/grpc_status.h"
#include "codecs/grpc/reflection.h"
#include "tests/support/codec_driver.h"
#include "tests/support/grpc_peer.h"
#include "tests/support/pi_descriptors.h"

using namespace rpcgate;
using namespace rpcgate::codec;
using rpcgate::test::GrpcPeer;

namespace {

const std::string kCapturedCall = test::from_hex(test::kCapturedPythonCallHex);

// Written once per run, removed at exit.
const std::string& descriptor_file() {
  REQUIRE(!test::pi_descriptor_file().empty());
  return test::pi_descriptor_file();
}

CodecOptions grpc_options(Json extra = Json::object(), bool with_descriptors = true) {
  CodecOptions options;
  if (!extra.is_null()) options.extra = std::move(extra);
  options.extra["unwrap"] = options.extra.value("unwrap", true);
  if (with_descriptors) {
    options.extra["descriptors"] = {descriptor_file()};
    const auto loaded = grpc::kInfo.load(options);  // no structured binding: clang 14 cannot capture one
    REQUIRE_MESSAGE(loaded.first.empty(), loaded.second);
  }
  return options;
}

std::string pi_request(int n) {
  std::string message;
  if (n != 0) {  // field 1, varint
    message += '\x08';
    for (auto v = static_cast<uint32_t>(n);; v >>= 7) {
      if (v < 0x80) {
        message += static_cast<char>(v);
        break;
      }
      message += static_cast<char>((v & 0x7F) | 0x80);
    }
  }
  return GrpcPeer::prefixed(message);
}

// The gateway's loop in miniature: decodes what arrives, answers each request with `handler`.
struct Server {
  explicit Server(const CodecOptions& options) : codec(grpc::make_server_codec(options)) {}

  void feed(std::string_view bytes) {
    codec->take_output(out);
    unread += bytes;
    while (!broken && !hung_up && !unread.empty()) {
      Request request;
      Response reply;
      DecodeResult result = codec->decode(unread, request, reply);
      if (result.status == DecodeStatus::kNeedMore) break;
      if (result.status == DecodeStatus::kHangUp) {
        hung_up = true;
        break;
      }
      unread.erase(0, result.consumed);
      if (result.status == DecodeStatus::kRequest) {
        requests.push_back(test::describe(request));
        Response response;
        response.id = request.id;
        if (hold) {
          held.push_back(response);
          continue;
        }
        handler(request, response);
        codec->encode(response, out);
      } else if (result.status == DecodeStatus::kAnswered || result.status == DecodeStatus::kBroken) {
        answered.push_back(test::describe(reply));
        broken = result.status == DecodeStatus::kBroken;
        codec->encode(reply, out);
      }
    }
    codec->take_output(out);
  }

  std::string take() { return std::exchange(out, {}); }

  std::unique_ptr<ServerCodec> codec;
  std::function<void(const Request&, Response&)> handler = [](const Request& request, Response& response) {
    response.result = request.params.is_number() ? Json(request.params.get<double>() / 1000) : request.params;
  };
  std::string unread, out;
  std::vector<std::string> requests, answered;
  std::vector<Response> held;
  bool hold = false, broken = false, hung_up = false;
};

// Bytes back and forth until neither side has more to say.
void exchange(GrpcPeer& peer, Server& server) {
  for (int round = 0; round < 20; ++round) {
    std::string to_server = peer.output();
    server.feed(to_server);
    std::string to_peer = server.take();
    if (!to_peer.empty()) peer.input(to_peer);
    if (to_server.empty() && to_peer.empty()) return;
  }
}

std::string status_of(const GrpcPeer::Answer& answer) {
  auto it = answer.headers.find("grpc-status");
  return it == answer.headers.end() ? "none" : it->second;
}

}  // namespace

TEST_CASE("a unary call is translated through the descriptors, unwrapped both ways") {
  GrpcPeer peer;
  Server server(grpc_options());
  int32_t id = peer.call("/pi.PiCalculator/Calc", pi_request(1000), {{"grpc-timeout", "250m"}, {"x-trace", "t1"}});
  exchange(peer, server);
  REQUIRE(server.requests.size() == 1);
  CHECK(server.requests[0] == "method=pi.PiCalculator/Calc params=1000 id=1 meta:timeout_ms=250 meta:x-trace=t1");
  const auto& answer = peer.answers[id];
  CHECK(answer.closed);
  CHECK(answer.headers.at(":status") == "200");
  CHECK(answer.headers.at("content-type") == "application/grpc");
  CHECK(status_of(answer) == "0");
  // PiResponse{value: 1.0}: field 1, fixed64, the double 1.0.
  CHECK(answer.data == GrpcPeer::prefixed(std::string("\x09\x00\x00\x00\x00\x00\x00\xf0\x3f", 9)));
}

TEST_CASE("without unwrap a message is its proto3 JSON object, and a result object is the message") {
  GrpcPeer peer;
  Server server(grpc_options({{"unwrap", false}}));
  server.handler = [](const Request& request, Response& response) {
    response.result = {{"count", request.params.value("count", 0) + 1}, {"label", "x"}};
  };
  int32_t id = peer.call("/pi.PiCalculator/Swap", GrpcPeer::prefixed(std::string("\x08\x02\x12\x01y", 5)));
  int32_t bare = peer.call("/pi.PiCalculator/Calc", pi_request(3));
  exchange(peer, server);
  REQUIRE(server.requests.size() == 2);
  CHECK(server.requests[0] == R"(method=pi.PiCalculator/Swap params={"count":2,"label":"y"} id=1)");
  CHECK(server.requests[1] == R"(method=pi.PiCalculator/Calc params={"n":3} id=3)");
  CHECK(status_of(peer.answers[id]) == "0");
  CHECK(peer.answers[id].data == GrpcPeer::prefixed(std::string("\x08\x03\x12\x01x", 5)));
  // {"count": 4, "label": "x"} does not fit PiResponse: the call fails, the connection goes on.
  CHECK(status_of(peer.answers[bare]) == "13");
}

TEST_CASE("a captured python-grpc call decodes the same at every cut") {
  auto run = [](const test::Reads& reads) {
    auto codec = grpc::make_server_codec(grpc_options());
    std::vector<std::string> seen;
    test::Fed fed = test::feed_server(
        *codec, kCapturedCall, reads, [&](DecodeResult result, const Request& request, const Response&) {
          if (result.status == DecodeStatus::kRequest) seen.push_back(test::describe(request));
          if (result.status != DecodeStatus::kRequest && result.status != DecodeStatus::kConsumed)
            seen.push_back("status " + std::to_string(static_cast<int>(result.status)));
        });
    CHECK(fed.breach.empty());
    CHECK(fed.left == 0);
    return seen;
  };
  const auto whole = run({});
  REQUIRE(whole.size() == 1);
  CHECK(whole[0] == "method=pi.PiCalculator/Calc params=1000 id=1 meta:timeout_ms=1480 meta:x-trace=t1");
  for (size_t cut = 1; cut < kCapturedCall.size(); ++cut) {
    CAPTURE(cut);
    CHECK(run({cut, kCapturedCall.size()}) == whole);
  }
  CHECK(run({1}) == whole);
}

TEST_CASE("unknown and streaming methods are UNIMPLEMENTED; without descriptors the bytes are the payload") {
  GrpcPeer peer;
  Server server(grpc_options());
  int32_t unknown = peer.call("/pi.PiCalculator/Nope", pi_request(1));
  int32_t streaming = peer.call("/pi.PiCalculator/Digits", pi_request(1));
  exchange(peer, server);
  CHECK(server.requests.empty());
  CHECK(status_of(peer.answers[unknown]) == "12");
  CHECK(peer.answers[unknown].headers.at("grpc-message") ==
        "method 'pi.PiCalculator/Nope' is not in the listener's descriptors");
  CHECK(status_of(peer.answers[streaming]) == "12");

  GrpcPeer raw;
  Server plain(grpc_options({}, false));
  plain.handler = [](const Request& request, Response& response) { response.payload = request.payload + "!"; };
  int32_t id = raw.call("/any.Service/Method", GrpcPeer::prefixed("abc"));
  exchange(raw, plain);
  CHECK(plain.requests == std::vector<std::string>{"method=any.Service/Method params=null id=1 payload=abc"});
  CHECK(raw.answers[id].data == GrpcPeer::prefixed("abc!"));
}

TEST_CASE("errors map to grpc-status, trailers only, the message percent-encoded") {
  GrpcPeer peer;
  Server server(grpc_options());
  server.handler = [](const Request&, Response& response) { response.set_error(ErrorCode::kTimeout, "late: 100% é"); };
  int32_t id = peer.call("/pi.PiCalculator/Calc", pi_request(5));
  exchange(peer, server);
  const auto& answer = peer.answers[id];
  CHECK(status_of(answer) == "4");
  CHECK(answer.headers.at("grpc-message") == "late: 100%25 %C3%A9");
  CHECK(answer.data.empty());

  using grpc::Status;
  const std::pair<ErrorCode, Status> both_ways[] = {
      {ErrorCode::kUnknownMethod, Status::kUnimplemented}, {ErrorCode::kTimeout, Status::kDeadlineExceeded},
      {ErrorCode::kUnavailable, Status::kUnavailable},     {ErrorCode::kOverloaded, Status::kResourceExhausted},
      {ErrorCode::kBadRequest, Status::kInvalidArgument},  {ErrorCode::kInternal, Status::kInternal},
      {ErrorCode::kNoAuth, Status::kUnauthenticated}};
  for (auto [code, status] : both_ways) {
    CHECK(grpc::status_of(code) == status);
    CHECK(grpc::error_of(static_cast<uint32_t>(status)) == code);
  }
  CHECK(grpc::status_of(ErrorCode::kUpstreamError) == Status::kUnknown);
  CHECK(grpc::status_of(ErrorCode::kTooLarge) == Status::kResourceExhausted);
  CHECK(grpc::status_of(ErrorCode::kShuttingDown) == Status::kUnavailable);
  CHECK(grpc::error_of(2) == ErrorCode::kUpstreamError);
  for (ErrorCode code : test::every_error_code()) CHECK(grpc::status_of(code) != Status::kOk);
  CHECK(grpc::percent_decode(grpc::percent_encode("a%b\n\xC3\xA9")) == "a%b\n\xC3\xA9");
  CHECK(grpc::percent_decode("100%") == "100%");
}

TEST_CASE("grpc-timeout in every unit, rounded up to whole milliseconds") {
  CHECK(grpc::parse_timeout_ms("1H") == 3'600'000u);
  CHECK(grpc::parse_timeout_ms("2M") == 120'000u);
  CHECK(grpc::parse_timeout_ms("3S") == 3000u);
  CHECK(grpc::parse_timeout_ms("250m") == 250u);
  CHECK(grpc::parse_timeout_ms("1500u") == 2u);
  CHECK(grpc::parse_timeout_ms("1n") == 1u);
  CHECK(grpc::parse_timeout_ms("99999999S") == 99'999'999'000u);
  CHECK_FALSE(grpc::parse_timeout_ms("123456789S"));  // nine digits
  CHECK_FALSE(grpc::parse_timeout_ms("5s"));
  CHECK_FALSE(grpc::parse_timeout_ms("S"));
  CHECK_FALSE(grpc::parse_timeout_ms("-1S"));
}

TEST_CASE("max_message_bytes: N is served, N+1 is RESOURCE_EXHAUSTED and the connection goes on") {
  constexpr size_t kMax = 100;
  GrpcPeer peer;
  Server server(grpc_options({{"max_message_bytes", kMax}}));
  // PiRequest{n: 7} padded with an unknown bytes field 2 to exactly N bytes, then N+1.
  auto padded = [](size_t size) {
    std::string message = "\x08\x07\x12";
    message += static_cast<char>(size - 4);
    message.append(size - 4, 'p');
    return GrpcPeer::prefixed(message);
  };
  int32_t at_limit = peer.call("/pi.PiCalculator/Calc", padded(kMax));
  int32_t over = peer.call("/pi.PiCalculator/Calc", padded(kMax + 1));
  exchange(peer, server);
  CHECK(status_of(peer.answers[at_limit]) == "0");
  CHECK(status_of(peer.answers[over]) == "8");
  CHECK(peer.answers[over].headers.at("grpc-message") == "message larger than 100 bytes (max_message_bytes)");
  int32_t after = peer.call("/pi.PiCalculator/Calc", pi_request(1));
  exchange(peer, server);
  CHECK(status_of(peer.answers[after]) == "0");
  CHECK_FALSE(server.broken);
}

TEST_CASE("max_pending_bytes: N bytes of unfinished messages are held, byte N+1 is RESOURCE_EXHAUSTED") {
  GrpcPeer peer;
  Server server(grpc_options({{"max_message_bytes", 100}, {"max_pending_bytes", 150}}));
  auto padded = [](size_t size) {  // PiRequest{n: 7} padded to `size` bytes, as above
    std::string message = "\x08\x07\x12";
    message += static_cast<char>(size - 4);
    message.append(size - 4, 'p');
    return GrpcPeer::prefixed(message);
  };
  int32_t first = peer.call("/pi.PiCalculator/Calc", padded(100));
  peer.hold(first, 100);  // 100 of its 105 bytes
  int32_t second = peer.call("/pi.PiCalculator/Calc", padded(100));
  peer.hold(second, 50);  // 150 held in all: N
  exchange(peer, server);
  CHECK(server.requests.empty());
  CHECK(peer.answers.empty());
  int32_t third = peer.call("/pi.PiCalculator/Calc", padded(100));
  peer.hold(third, 1);  // N+1
  exchange(peer, server);
  CHECK(status_of(peer.answers[third]) == "8");
  CHECK(peer.answers[third].headers.at("grpc-message").find("(max_pending_bytes)") != std::string::npos);
  // The first call given up frees its bytes: the second now has room to finish.
  peer.reset(first);
  peer.release(second);
  exchange(peer, server);
  CHECK(status_of(peer.answers[second]) == "0");
  CHECK(server.requests.size() == 1);
}

TEST_CASE("the server's settings are the listener's options") {
  GrpcPeer peer;
  Server server(
      grpc_options({{"max_concurrent_streams", 7}, {"initial_window_bytes", 70000}, {"max_header_list_bytes", 4096}}));
  exchange(peer, server);
  CHECK(peer.server_setting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) == 7);
  CHECK(peer.server_setting(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) == 70000);
  CHECK(peer.server_setting(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE) == 4096);
  CHECK(peer.server_setting(NGHTTP2_SETTINGS_ENABLE_PUSH) == 0);
}

TEST_CASE("max_header_list_bytes: N is served, N+1 is RESOURCE_EXHAUSTED") {
  // The request's headers as HTTP/2 counts them: name + value + 32 each.
  const std::vector<std::pair<std::string, std::string>> sent = {{":method", "POST"},
                                                                 {":scheme", "http"},
                                                                 {":path", "/pi.PiCalculator/Calc"},
                                                                 {":authority", "test"},
                                                                 {"content-type", "application/grpc"},
                                                                 {"te", "trailers"},
                                                                 {"x-pad", "0123456789"}};
  size_t size = 0;
  for (const auto& [name, value] : sent) size += name.size() + value.size() + 32;
  for (size_t limit : {size, size - 1}) {
    CAPTURE(limit);
    GrpcPeer peer;
    Server server(grpc_options({{"max_header_list_bytes", limit}}));
    int32_t id = peer.call("/pi.PiCalculator/Calc", pi_request(1), {{"x-pad", "0123456789"}});
    exchange(peer, server);
    CHECK(status_of(peer.answers[id]) == (limit == size ? "0" : "8"));
  }
}

TEST_CASE("a header list over the limit, cut in CONTINUATION frames, is answered once it has ended") {
  GrpcPeer peer;
  // max_header_list_bytes 16 KiB; 40000 bytes (30000 once Huffman-coded) take three frames.
  Server server(grpc_options());
  int32_t big = peer.call("/pi.PiCalculator/Calc", pi_request(1), {{"x-big", std::string(40000, 'b')}});
  exchange(peer, server);
  CHECK(status_of(peer.answers[big]) == "8");
  CHECK(server.requests.empty());
  int32_t after = peer.call("/pi.PiCalculator/Calc", pi_request(1));
  exchange(peer, server);
  CHECK(status_of(peer.answers[after]) == "0");
  CHECK_FALSE(server.broken);
}

TEST_CASE("max_concurrent_streams: N calls are taken, call N+1 is refused with REFUSED_STREAM") {
  GrpcPeer peer;
  Server server(grpc_options({{"max_concurrent_streams", 2}}));
  server.hold = true;  // nothing is answered: the calls stay open
  // Sent before the client has read the server's SETTINGS, as a client may.
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(peer.call("/pi.PiCalculator/Calc", pi_request(i + 1)));
  exchange(peer, server);
  CHECK(server.requests.size() == 2);
  CHECK(peer.answers[ids[2]].reset_code == NGHTTP2_REFUSED_STREAM);
  CHECK_FALSE(server.broken);
}

TEST_CASE("max_resets: N resets are borne, reset N+1 ends the connection with GOAWAY") {
  for (int resets : {5, 6}) {
    CAPTURE(resets);
    GrpcPeer peer;
    Server server(grpc_options({{"max_resets", 5}, {"resets_per_second", 0}}));
    server.hold = true;
    // Each call reaches the server before it is reset: a call still queued would just be dropped.
    for (int i = 0; i < resets; ++i) {
      int32_t id = peer.call("/pi.PiCalculator/Calc", pi_request(1));
      exchange(peer, server);
      peer.reset(id);
    }
    exchange(peer, server);
    CHECK(server.broken == (resets == 6));
    CHECK(peer.goaway == (resets == 6));
    // nghttp2's own limiter (its fix for CVE-2023-44487) says goodbye with INTERNAL_ERROR.
    if (resets == 6) CHECK(peer.goaway_code == NGHTTP2_INTERNAL_ERROR);
  }
}

TEST_CASE("a gzip message is inflated, bounded by max_message_bytes") {
  auto gzip = [](std::string_view text) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(compressBound(text.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  };
  GrpcPeer peer;
  Server server(grpc_options({{"max_message_bytes", 64}}));
  const std::string small = pi_request(1000).substr(5);
  std::string bomb = "\x08\x01\x12\x3C" + std::string(60, 'z');  // 64 bytes: at the limit
  int32_t ok = peer.call("/pi.PiCalculator/Calc", GrpcPeer::prefixed(gzip(small), true), {{"grpc-encoding", "gzip"}});
  int32_t at_limit =
      peer.call("/pi.PiCalculator/Calc", GrpcPeer::prefixed(gzip(bomb), true), {{"grpc-encoding", "gzip"}});
  bomb[3] = '\x3D';
  bomb += 'z';  // 65 bytes
  int32_t over = peer.call("/pi.PiCalculator/Calc", GrpcPeer::prefixed(gzip(bomb), true), {{"grpc-encoding", "gzip"}});
  int32_t unknown = peer.call("/pi.PiCalculator/Calc", GrpcPeer::prefixed(small, true), {{"grpc-encoding", "snappy"}});
  int32_t bad = peer.call("/pi.PiCalculator/Calc", GrpcPeer::prefixed("not gzip", true), {{"grpc-encoding", "gzip"}});
  exchange(peer, server);
  CHECK(server.requests.size() == 2);
  CHECK(server.requests[0] == "method=pi.PiCalculator/Calc params=1000 id=1");
  CHECK(status_of(peer.answers[ok]) == "0");
  CHECK(status_of(peer.answers[at_limit]) == "0");
  CHECK(status_of(peer.answers[over]) == "8");
  CHECK(status_of(peer.answers[unknown]) == "12");
  CHECK(status_of(peer.answers[bad]) == "3");
}

TEST_CASE("a health check is the gateway's request; its answer a HealthCheckResponse; an unknown service NOT_FOUND") {
  GrpcPeer peer;
  Server server(grpc_options());
  server.handler = [](const Request& request, Response& response) {
    response.result = request.params == "pi.PiCalculator" ? "NOT_SERVING" : "SERVING";
  };
  int32_t whole = peer.call("/grpc.health.v1.Health/Check", GrpcPeer::prefixed(""));
  int32_t known = peer.call("/grpc.health.v1.Health/Check", GrpcPeer::prefixed("\x0a\x0fpi.PiCalculator"));
  int32_t unknown = peer.call("/grpc.health.v1.Health/Check", GrpcPeer::prefixed("\x0a\x03no."));
  int32_t garbled = peer.call("/grpc.health.v1.Health/Check", GrpcPeer::prefixed("\x08\x01"));
  exchange(peer, server);
  REQUIRE(server.requests.size() == 2);  // the gateway answers from its readiness (the health handler)
  CHECK(server.requests[0] == "method=grpc.health.v1.Health/Check params=\"\" id=" + std::to_string(whole));
  CHECK(server.requests[1] ==
        "method=grpc.health.v1.Health/Check params=\"pi.PiCalculator\" id=" + std::to_string(known));
  CHECK(peer.answers[whole].data == GrpcPeer::prefixed("\x08\x01"));
  CHECK(peer.answers[known].data == GrpcPeer::prefixed("\x08\x02"));
  CHECK(status_of(peer.answers[whole]) == "0");
  CHECK(status_of(peer.answers[unknown]) == "5");
  CHECK(peer.answers[unknown].data.empty());
  CHECK(status_of(peer.answers[garbled]) == "3");
}

TEST_CASE("health Watch is the listener's own: the status at once, then each change of readiness, once") {
  GrpcPeer peer;
  Server server(grpc_options());
  const int32_t whole = peer.call("/grpc.health.v1.Health/Watch", GrpcPeer::prefixed(""));
  const int32_t unknown = peer.call("/grpc.health.v1.Health/Watch", GrpcPeer::prefixed("\x0a\x03no."));
  exchange(peer, server);
  CHECK(server.requests.empty());
  CHECK(peer.answers[whole].data == GrpcPeer::prefixed("\x08\x01"));    // SERVING
  CHECK(peer.answers[unknown].data == GrpcPeer::prefixed("\x08\x03"));  // SERVICE_UNKNOWN
  CHECK_FALSE(peer.answers[whole].closed);
  server.codec->set_serving(false);
  server.codec->set_serving(false);  // no change: nothing more said
  server.codec->begin_drain();
  exchange(peer, server);
  CHECK(peer.answers[whole].data == GrpcPeer::prefixed("\x08\x01") + GrpcPeer::prefixed("\x08\x02"));
  CHECK(peer.answers[unknown].data == GrpcPeer::prefixed("\x08\x03"));
  CHECK(peer.goaway);
}

TEST_CASE("reflection is the listener's own: thousands of requests on one stream, answered in order; garbage ends it") {
  GrpcPeer peer;
  Server server(grpc_options());
  const std::string list = GrpcPeer::prefixed(std::string("\x3a\x00", 2));  // list_services: ""
  std::string body;
  for (int i = 0; i < 20000; ++i) body += list;  // 140 kB, answered with 2.5 times that
  const int32_t many = peer.call("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", body);
  const int32_t bad =
      peer.call("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", list + GrpcPeer::prefixed("\xff"));
  for (int round = 0; round < 500 && !(peer.answers[many].closed && peer.answers[bad].closed); ++round)
    exchange(peer, server);
  CHECK(server.requests.empty());  // nothing reached the gateway
  std::string expected_one;
  grpc::answer_reflection(*std::static_pointer_cast<const grpc::Descriptors>(grpc_options().state),
                          std::string_view(list).substr(5), expected_one);
  CHECK(expected_one.find("pi.PiCalculator") != std::string::npos);
  std::string expected;
  for (int i = 0; i < 20000; ++i) expected += GrpcPeer::prefixed(expected_one);
  CHECK(peer.answers[many].data == expected);
  CHECK(status_of(peer.answers[many]) == "0");
  CHECK(peer.answers[bad].data == GrpcPeer::prefixed(expected_one));  // the first was answered
  CHECK(status_of(peer.answers[bad]) == "3");
}

TEST_CASE("protocol errors: HTTP/1 is hung up on, a bad frame ends the connection with GOAWAY") {
  Server http(grpc_options());
  http.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(http.hung_up);

  GrpcPeer peer;
  Server server(grpc_options());
  exchange(peer, server);
  // A DATA frame on stream 0 is a connection error (RFC 9113, 6.1).
  server.feed(std::string("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10));
  CHECK(server.broken);
  CHECK(peer.input(server.take()));
  CHECK(peer.goaway);
  CHECK(peer.goaway_code == NGHTTP2_PROTOCOL_ERROR);

  Server big(grpc_options());
  big.feed(std::string(kCapturedCall.substr(0, 24)) + std::string("\x00\x40\x01\x00\x00\x00\x00\x00\x00", 9));
  CHECK(big.broken);  // 16385 bytes announced: refused on its header, not buffered
  CHECK(big.answered.back().find("FRAME_SIZE_ERROR") != std::string::npos);
}

TEST_CASE("a connection refused (too many connections) is told so with GOAWAY") {
  // What Connection::start does over max_connections: an OVERLOADED answer to no call.
  GrpcPeer peer;
  Server server(grpc_options());
  Response refused;
  refused.set_error(ErrorCode::kOverloaded, "too many connections");
  server.codec->encode(refused, server.out);
  peer.output();
  CHECK(peer.input(server.take()));
  CHECK(peer.goaway);
  CHECK(peer.goaway_code == NGHTTP2_REFUSED_STREAM);
}

TEST_CASE("drain sends GOAWAY and still answers the calls in flight") {
  GrpcPeer peer;
  Server server(grpc_options());
  server.hold = true;
  int32_t id = peer.call("/pi.PiCalculator/Calc", pi_request(2000));
  exchange(peer, server);
  REQUIRE(server.held.size() == 1);
  server.codec->begin_drain();
  server.feed("");
  peer.input(server.take());
  CHECK(peer.goaway);
  CHECK(peer.goaway_code == NGHTTP2_NO_ERROR);
  Response late = server.held[0];
  late.result = 2.0;
  server.codec->encode(late, server.out);
  exchange(peer, server);
  CHECK(status_of(peer.answers[id]) == "0");
}

TEST_CASE("descriptor files that cannot be loaded are named with the reason") {
  CodecOptions missing;
  missing.extra["descriptors"] = {"/nonexistent/pi.pb"};
  auto [key, problem] = grpc::kInfo.load(missing);
  CHECK(key == "descriptors");
  CHECK(problem.find("cannot read /nonexistent/pi.pb") == 0);

  char path[] = "/tmp/rpcgate-grpc-bad-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "\xff\xff\xff", 3) == 3);
  close(fd);
  CodecOptions garbage;
  garbage.extra["descriptors"] = {path};
  auto [key2, problem2] = grpc::kInfo.load(garbage);
  CHECK(key2 == "descriptors");
  CHECK(problem2 == std::string(path) +
                        " is not a FileDescriptorSet (make it with protoc --include_imports "
                        "--descriptor_set_out)");
  std::remove(path);

  // A cluster's options are checked as a listener's: grpc clusters are served (grpc_client.cpp).
  const bool no_cluster_mark = grpc::kInfo.cluster_defaults == nullptr;
  CHECK(no_cluster_mark);
  CHECK(grpc::kInfo.check(CodecOptions()).first.empty());
}
