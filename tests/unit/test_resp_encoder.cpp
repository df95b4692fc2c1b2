// RESP server encoding: every JSON type in RESP2 and RESP3, status and error lines, double text,
// and the HELLO protocol switch taking effect in reply order.
#include <doctest/doctest.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "codecs/resp/resp_writer.h"
#include "tests/support/codec_driver.h"

using namespace std::string_literals;
using rpcgate::ErrorCode;
using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::DecodeStatus;
using rpcgate::codec::ServerCodec;
using rpcgate::test::encode;

namespace {

Response result(Json value) {
  Response r;
  r.result = std::move(value);
  return r;
}

std::unique_ptr<ServerCodec> resp3_codec() {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  REQUIRE(codec->decode("HELLO 3\r\n", request, reply).status == DecodeStatus::kAnswered);
  encode(*codec, reply);  // the switch happens when the HELLO reply is sent
  return codec;
}

std::string text(double value) {
  char buf[rpcgate::codec::resp::kDoubleTextMax];
  return std::string(buf, rpcgate::codec::resp::format_double(value, buf));
}

}  // namespace

TEST_CASE("RESP2 encodes each JSON type as docs/protocols.md says") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  struct Case {
    Json value;
    std::string wire;
  };
  const std::vector<Case> cases = {
      {nullptr, "$-1\r\n"},
      {true, ":1\r\n"},
      {false, ":0\r\n"},
      {0, ":0\r\n"},
      {-42, ":-42\r\n"},
      {std::numeric_limits<int64_t>::min(), ":-9223372036854775808\r\n"},
      {9223372036854775807ull, ":9223372036854775807\r\n"},
      {18446744073709551615ull, "$20\r\n18446744073709551615\r\n"},
      {3.0, "$3\r\n3.0\r\n"},
      {0.1, "$3\r\n0.1\r\n"},
      {1e20, "$5\r\n1e+20\r\n"},
      {"", "$0\r\n\r\n"},
      {"hello", "$5\r\nhello\r\n"},
      {"a\r\nb", "$4\r\na\r\nb\r\n"},
      {Json::binary({0xff, 0x00, 0x01}), "$3\r\n\xff\x00\x01\r\n"s},
      {Json::array(), "*0\r\n"},
      {Json::array({1, "two", nullptr, Json::array({true})}), "*4\r\n:1\r\n$3\r\ntwo\r\n$-1\r\n*1\r\n:1\r\n"},
      {Json{{"a", 1}}, "$7\r\n{\"a\":1}\r\n"},
      {Json::object(), "$2\r\n{}\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value.dump());
    CHECK(encode(*codec, result(c.value)) == c.wire);
  }
}

TEST_CASE("RESP3 after HELLO 3: null, booleans, doubles and maps get their own types") {
  auto codec = resp3_codec();
  struct Case {
    Json value;
    std::string wire;
  };
  const std::vector<Case> cases = {
      {nullptr, "_\r\n"},
      {true, "#t\r\n"},
      {false, "#f\r\n"},
      {7, ":7\r\n"},
      {2.5, ",2.5\r\n"},
      {18446744073709551615ull, "(18446744073709551615\r\n"},
      {"x", "$1\r\nx\r\n"},
      {Json::array({nullptr, 1.0}), "*2\r\n_\r\n,1.0\r\n"},
      {Json{{"a", 1}, {"b", Json{{"c", nullptr}}}}, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n%1\r\n$1\r\nc\r\n_\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value.dump());
    CHECK(encode(*codec, result(c.value)) == c.wire);
  }
}

TEST_CASE("status, error and payload replies") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Response pong;
  pong.status = "PONG";
  pong.result = "ignored";
  CHECK(encode(*codec, pong) == "+PONG\r\n");

  Response unknown;
  unknown.set_error(ErrorCode::kUnknownMethod, "no route for method 'x'");
  CHECK(encode(*codec, unknown) == "-UNKNOWN_METHOD no route for method 'x'\r\n");

  // A simple line cannot carry CR or LF: they become spaces.
  Response multiline;
  multiline.set_error(ErrorCode::kUpstreamError, "line one\r\nline two\n");
  multiline.status = "ignored";
  CHECK(encode(*codec, multiline) == "-UPSTREAM_ERROR line one  line two \r\n");
  Response status;
  status.status = "a\rb";
  CHECK(encode(*codec, status) == "+a b\r\n");

  Response bare;
  bare.error = ErrorCode::kTimeout;
  CHECK(encode(*codec, bare) == "-TIMEOUT\r\n");

  Response payload;
  payload.payload = "\x08\x01"s;
  CHECK(encode(*codec, payload) == "$2\r\n\x08\x01\r\n"s);

  // Invalid UTF-8 in an object's strings does not throw; nlohmann replaces it.
  Response bad_utf8 = result(Json{{"k", "\xff"}});
  CHECK(encode(*codec, bad_utf8) == "$11\r\n{\"k\":\"\xef\xbf\xbd\"}\r\n");
}

TEST_CASE("encode appends to the output buffer") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  std::string out = "+OK\r\n";
  codec->encode(result(1), out);
  codec->encode(result("a"), out);
  CHECK(out == "+OK\r\n:1\r\n$1\r\na\r\n");
}

TEST_CASE("HELLO 3 switches the encoding from the next request on, as Redis does") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response get_reply, hello_reply, after_reply;
  // GET, HELLO 3, GET pipelined. The gateway encodes an answer made on the spot as soon as the
  // request is decoded, so the first GET's null is encoded before HELLO 3 is decoded.
  std::string stream = "GET a\r\nHELLO 3\r\nGET b\r\n";
  auto r = codec->decode(stream, request, get_reply);
  REQUIRE(r.status == DecodeStatus::kRequest);
  CHECK(encode(*codec, result(nullptr)) == "$-1\r\n");
  stream.erase(0, r.consumed);
  r = codec->decode(stream, request, hello_reply);
  REQUIRE(r.status == DecodeStatus::kAnswered);
  stream.erase(0, r.consumed);
  r = codec->decode(stream, request, after_reply);
  REQUIRE(r.status == DecodeStatus::kRequest);

  std::string hello = encode(*codec, hello_reply);
  CHECK(hello.rfind("%7\r\n", 0) == 0);
  CHECK(encode(*codec, result(nullptr)) == "_\r\n");
  CHECK(encode(*codec, result(Json{{"k", true}})) == "%1\r\n$1\r\nk\r\n#t\r\n");

  // HELLO 2 goes back, and its own reply is the RESP2 flat array.
  r = codec->decode("HELLO 2\r\n", request, hello_reply);
  REQUIRE(r.status == DecodeStatus::kAnswered);
  CHECK(encode(*codec, hello_reply).rfind("*14\r\n", 0) == 0);
  CHECK(encode(*codec, result(nullptr)) == "$-1\r\n");
}

TEST_CASE("a failed HELLO does not switch the protocol") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  codec->decode("HELLO 4\r\n", request, reply);
  CHECK(reply.is_error());
  encode(*codec, reply);
  CHECK(encode(*codec, result(nullptr)) == "$-1\r\n");
}

TEST_CASE("COMMAND DOCS is an empty map in both protocols") {
  auto codec = resp3_codec();
  Request request;
  Response reply;
  codec->decode("COMMAND DOCS\r\n", request, reply);
  CHECK(encode(*codec, reply) == "%0\r\n");
}

TEST_CASE("double text: shortest round trip, in nlohmann's notation") {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1.0, "1.0"},
      {-2.0, "-2.0"},
      {100.0, "100.0"},
      {1e5, "100000.0"},
      {123456789012345.0, "123456789012345.0"},
      {1e14, "100000000000000.0"},
      {1e15, "1e+15"},
      {1e16, "1e+16"},
      {1.5e16, "1.5e+16"},
      {0.1, "0.1"},
      {0.001, "0.001"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.25e-7, "1.25e-07"},
      {3.14159, "3.14159"},
      {1e100, "1e+100"},
      {-1.5e-300, "-1.5e-300"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.30000000000000004, "0.30000000000000004"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.second);
    CHECK(text(c.first) == c.second);
    CHECK(Json(c.first).dump() == c.second);  // what the JSON codec would show
  }
  CHECK(text(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(text(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(text(std::numeric_limits<double>::quiet_NaN()) == "nan");

  // Random doubles: ours parses back exactly and is never longer than nlohmann's.
  std::mt19937_64 random(42);
  for (int i = 0; i < 100000; ++i) {
    uint64_t bits = random();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    if (!std::isfinite(value)) continue;
    std::string ours = text(value);
    double back = 0;
    auto [end, ec] = std::from_chars(ours.data(), ours.data() + ours.size(), back);
    REQUIRE(ec == std::errc());
    CHECK(end == ours.data() + ours.size());
    CHECK(std::memcmp(&back, &value, sizeof value) == 0);
    CHECK(ours.size() <= Json(value).dump().size());
  }
}
