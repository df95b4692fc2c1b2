// RESP client codec (towards a real Redis): request encoding, reply decoding, limits, split
// reads, and round trips with the server codec in both directions.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace std::string_literals;
using rpcgate::ErrorCode;
using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::ClientCodec;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;
using rpcgate::test::binary;

namespace {

std::string encode_request(std::string method, Json params) {
  Request request;
  request.method = std::move(method);
  request.params = std::move(params);
  return rpcgate::test::encode(*rpcgate::codec::resp::make_client_codec({}), request);
}

using Decoded = rpcgate::test::ClientDecoded;

Decoded decode_once(std::string_view input, const CodecOptions& options = {}) {
  return rpcgate::test::decode_once(*rpcgate::codec::resp::make_client_codec(options), input);
}

// The gateway's way of reading replies, in reads of `piece` bytes: a line per result.
std::string run(std::string_view stream, size_t piece, const CodecOptions& options,
                std::vector<Response>* responses = nullptr) {
  auto codec = rpcgate::codec::resp::make_client_codec(options);
  std::string events;
  rpcgate::test::Fed fed =
      rpcgate::test::feed_client(*codec, stream, {piece}, [&](DecodeResult r, const Response& response) {
        events += std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) + " " +
                  response.status + " " + std::string(rpcgate::error_code_name(response.error)) + " " +
                  response.message + " " + response.result.dump() + "\n";
        if (responses != nullptr && r.status != DecodeStatus::kBroken) responses->push_back(response);
      });
  REQUIRE(fed.breach == "");
  return events;
}

}  // namespace

TEST_CASE("requests encode as RESP arrays of bulk strings") {
  CHECK(encode_request("PING", nullptr) == "*1\r\n$4\r\nPING\r\n");
  CHECK(encode_request("get", "k") == "*2\r\n$3\r\nget\r\n$1\r\nk\r\n");
  CHECK(encode_request("set", Json::array({"k", "v"})) == "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n");
  CHECK(encode_request("incrby", Json::array({"k", -5})) == "*3\r\n$6\r\nincrby\r\n$1\r\nk\r\n$2\r\n-5\r\n");
  CHECK(encode_request("f", Json::array({1.5, 3.0, 18446744073709551615ull})) ==
        "*4\r\n$1\r\nf\r\n$3\r\n1.5\r\n$3\r\n3.0\r\n$20\r\n18446744073709551615\r\n");
  CHECK(encode_request("f", Json::array({true, nullptr, Json{{"a", 1}}, Json::array({1, 2})})) ==
        "*5\r\n$1\r\nf\r\n$4\r\ntrue\r\n$4\r\nnull\r\n$7\r\n{\"a\":1}\r\n$5\r\n[1,2]\r\n");
  CHECK(encode_request("set", Json::array({"k", binary("\x00\xff"s)})) ==
        "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\n\x00\xff\r\n"s);
  CHECK(encode_request("pi", 1000) == "*2\r\n$2\r\npi\r\n$4\r\n1000\r\n");
  CHECK(encode_request("user.get", Json{{"id", 7}}) == "*2\r\n$8\r\nuser.get\r\n$8\r\n{\"id\":7}\r\n");
  // The method goes out as it is: no case change.
  CHECK(encode_request("MyMethod", nullptr) == "*1\r\n$8\r\nMyMethod\r\n");
}

TEST_CASE("replies of every RESP2 type decode to responses") {
  struct Case {
    std::string input;
    std::string status;
    Json result;
  };
  const std::vector<Case> cases = {
      {"+OK\r\n", "OK", "OK"},
      {"+PONG\r\n", "PONG", "PONG"},
      {":42\r\n", "", 42},
      {":-9223372036854775808\r\n", "", std::numeric_limits<int64_t>::min()},
      {"$5\r\nhello\r\n", "", "hello"},
      {"$0\r\n\r\n", "", ""},
      {"$4\r\na\r\nb\r\n", "", "a\r\nb"},
      {"$2\r\n\xff\x00\r\n"s, "", binary("\xff\x00"s)},
      {"$-1\r\n", "", nullptr},
      {"*-1\r\n", "", nullptr},
      {"*0\r\n", "", Json::array()},
      {"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", "", Json::array({"a", 1, nullptr})},
      {"*2\r\n*1\r\n+QUEUED\r\n-ERR bad\r\n", "", Json::array({Json::array({"QUEUED"}), Json{{"error", "ERR bad"}}})},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    Decoded d = decode_once(c.input);
    REQUIRE(d.result.status == DecodeStatus::kAnswered);
    CHECK(d.result.consumed == c.input.size());
    CHECK_FALSE(d.response.is_error());
    CHECK(d.response.status == c.status);
    CHECK(d.response.result == c.result);
  }
}

TEST_CASE("error replies: Redis errors are UPSTREAM_ERROR, our own codes come back as themselves") {
  Decoded err = decode_once("-ERR unknown command 'x'\r\n");
  REQUIRE(err.result.status == DecodeStatus::kAnswered);
  CHECK(err.response.error == ErrorCode::kUpstreamError);
  CHECK(err.response.message == "ERR unknown command 'x'");
  Decoded wrongtype = decode_once("-WRONGTYPE Operation against a key\r\n");
  CHECK(wrongtype.response.error == ErrorCode::kUpstreamError);
  CHECK(wrongtype.response.message == "WRONGTYPE Operation against a key");
  Decoded timeout = decode_once("-TIMEOUT upstream took too long\r\n");
  CHECK(timeout.response.error == ErrorCode::kTimeout);
  CHECK(timeout.response.message == "upstream took too long");
  Decoded bare = decode_once("-UNAVAILABLE\r\n");
  CHECK(bare.response.error == ErrorCode::kUnavailable);
  CHECK(bare.response.message.empty());
}

TEST_CASE("malformed replies break the connection") {
  struct Case {
    std::string input;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"?\r\n", "Protocol error: got \"?\" as reply type byte"},
      {"$x\r\n", "Protocol error: invalid bulk length"},
      {"$-2\r\n", "Protocol error: invalid bulk length"},
      {"$1234567890123456789012345", "Protocol error: invalid bulk length"},
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*4294967297\r\n", "Protocol error: invalid multibulk length"},
      {"*12345678901234567890123456", "Protocol error: invalid multibulk length"},
      {":abc\r\n", "Protocol error: invalid integer"},
      {":12345678901234567890123456", "Protocol error: invalid integer"},
      {"$3\r\nabcXY", "Protocol error: bulk string not followed by CRLF"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto codec = rpcgate::codec::resp::make_client_codec({});
    Response response;
    DecodeResult r = codec->decode(c.input, response);
    REQUIRE(r.status == DecodeStatus::kBroken);
    CHECK(r.consumed == 0);
    CHECK(response.error == ErrorCode::kUpstreamError);
    CHECK(response.message == c.message);
    CHECK(codec->decode(c.input, response).status == DecodeStatus::kBroken);
  }
}

TEST_CASE("reply limits at N and N+1") {
  CodecOptions options;
  options.limits.max_frame_bytes = 5;
  options.limits.max_elements = 2;
  options.limits.max_depth = 2;
  options.limits.max_request_bytes = 20;
  CHECK(decode_once("$5\r\nhello\r\n", options).result.status == DecodeStatus::kAnswered);
  Decoded bulk = decode_once("$6\r\n", options);  // refused on the header
  CHECK(bulk.result.status == DecodeStatus::kBroken);
  CHECK(bulk.response.error == ErrorCode::kTooLarge);
  CHECK(bulk.response.message == "bulk length 6 exceeds the limit of 5");
  CHECK(decode_once("+hello\r\n", options).result.status == DecodeStatus::kAnswered);
  CHECK(decode_once("+hello!\r\n", options).response.message == "simple string longer than 5 bytes");
  CHECK(decode_once("+hello\r", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("+", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once(":1\r\n-", options).result.status == DecodeStatus::kAnswered);
  CHECK(decode_once("+hello!\r", options).response.error == ErrorCode::kTooLarge);

  CHECK(decode_once("*2\r\n:1\r\n:2\r\n", options).result.status == DecodeStatus::kAnswered);
  Decoded elements = decode_once("*3\r\n", options);
  CHECK(elements.response.error == ErrorCode::kTooLarge);
  CHECK(elements.response.message == "multibulk length 3 exceeds the limit of 2");

  CHECK(decode_once("*1\r\n*1\r\n:1\r\n", options).result.status == DecodeStatus::kAnswered);
  Decoded deep = decode_once("*1\r\n*1\r\n*1\r\n", options);
  CHECK(deep.response.error == ErrorCode::kUpstreamError);
  CHECK(deep.response.message == "Protocol error: reply nested too deeply");

  CHECK(decode_once("*2\r\n$3\r\nabc\r\n$1\r\nd\r\n", options).result.status == DecodeStatus::kAnswered);  // 20 bytes
  Decoded big = decode_once("*2\r\n$3\r\nabc\r\n$2\r\nde\r\n", options);                                   // 21 bytes
  CHECK(big.response.error == ErrorCode::kTooLarge);
  CHECK(big.response.message == "reply larger than 20 bytes");
}

TEST_CASE("hiredis caps reply nesting at 8 levels whatever max_depth says") {
  auto nested = [](int levels) {
    std::string s;
    for (int i = 0; i < levels; ++i) s += "*1\r\n";
    return s + ":1\r\n";
  };
  CHECK(decode_once(nested(8)).result.status == DecodeStatus::kAnswered);
  Decoded nine = decode_once(nested(9));
  CHECK(nine.result.status == DecodeStatus::kBroken);
  CHECK(nine.response.message == "Protocol error: reply nested too deeply");
}

TEST_CASE("reply streams give the same results however they are split") {
  const std::vector<std::string> streams = {
      "+OK\r\n:1\r\n$5\r\nhello\r\n$-1\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n-ERR x\r\n*0\r\n*-1\r\n",
      "+OK\r\n$3\r\nabcXY:1\r\n",
      ":1\r\n*1\r\n:12345678901234567890123456\r\n",
      "$1\r\na\r\n$1234567890123456789012345\r\n",
      "+OK\r\n$100\r\n" + std::string(50, 'x'),
      ":1\r\n+" + std::string(40, 'y') + "\r\n",  // over the small max_frame_bytes
      ":1\r\n-" + std::string(40, 'y') + "\r",
  };
  CodecOptions small;
  small.limits.max_frame_bytes = 6;
  small.limits.max_request_bytes = 30;
  for (const auto& stream : streams) {
    for (const CodecOptions& options : {CodecOptions{}, small}) {
      CAPTURE(stream);
      auto whole = run(stream, stream.size(), options);
      for (size_t piece = 1; piece < 12; ++piece) CHECK(run(stream, piece, options) == whole);
    }
  }
}

TEST_CASE("long reply pipelines keep every value intact across hiredis buffer trims") {
  std::string stream;
  std::vector<Json> expected;
  for (int i = 0; i < 400; ++i) {
    std::string value(static_cast<size_t>((i * 37) % 3000), static_cast<char>('a' + i % 26));
    stream += "*2\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n:" + std::to_string(i) + "\r\n";
    expected.push_back(Json::array({value, i}));
  }
  for (size_t piece : {stream.size(), size_t{1}, size_t{13}, size_t{1024}, size_t{5000}}) {
    CAPTURE(piece);
    std::vector<Response> responses;
    run(stream, piece, {}, &responses);
    REQUIRE(responses.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) CHECK(responses[i].result == expected[i]);
  }
}

TEST_CASE("round trip: client request -> server decode") {
  auto server = rpcgate::codec::resp::make_server_codec({});
  struct Case {
    std::string method;
    Json params;
    std::string decoded_method;
    Json decoded_params;
  };
  const std::vector<Case> cases = {
      {"PING", nullptr, "ping", nullptr},
      {"get", "k", "get", "k"},
      {"set", Json::array({"k", "v"}), "set", Json::array({"k", "v"})},
      {"f", Json::array({1, -2, 2.5, true, nullptr, "s"}), "f", Json::array({1, -2, 2.5, true, nullptr, "s"})},
      {"f", Json::array({Json{{"a", Json::array({1})}}, binary("\xff"s)}), "f",
       Json::array({Json{{"a", Json::array({1})}}, binary("\xff"s)})},
  };
  for (const auto& c : cases) {
    std::string wire = encode_request(c.method, c.params);
    Request request;
    Response reply;
    DecodeResult r = server->decode(wire, request, reply);
    REQUIRE(r.status == DecodeStatus::kRequest);
    server->complete_params(request);
    CHECK(r.consumed == wire.size());
    CHECK(request.method == c.decoded_method);
    CHECK(request.params == c.decoded_params);
  }
}

TEST_CASE("round trip: server response -> client decode") {
  auto server = rpcgate::codec::resp::make_server_codec({});
  struct Case {
    Response response;
    std::string status;
    Json result;
    ErrorCode error;
    std::string message;
  };
  auto with_result = [](Json v) {
    Response r;
    r.result = std::move(v);
    return r;
  };
  Response pong;
  pong.status = "PONG";
  Response failed;
  failed.set_error(ErrorCode::kUnknownMethod, "no route for method 'x'");
  const ErrorCode kNone = ErrorCode::kNone;
  const std::vector<Case> cases = {
      {pong, "PONG", "PONG", kNone, ""},
      {failed, "", nullptr, ErrorCode::kUnknownMethod, "no route for method 'x'"},
      {with_result(nullptr), "", nullptr, kNone, ""},
      {with_result(7), "", 7, kNone, ""},
      {with_result(true), "", 1, kNone, ""},
      {with_result("text"), "", "text", kNone, ""},
      {with_result(binary("\x00\xfe"s)), "", binary("\x00\xfe"s), kNone, ""},
      {with_result(2.5), "", "2.5", kNone, ""},
      {with_result(Json::array({1, "a", Json::array({nullptr})})), "", Json::array({1, "a", Json::array({nullptr})}),
       kNone, ""},
      {with_result(Json{{"a", 1}}), "", "{\"a\":1}", kNone, ""},
  };

  for (const auto& c : cases) {
    std::string wire;
    server->encode(c.response, wire);
    CAPTURE(wire);
    Decoded d = decode_once(wire);
    REQUIRE(d.result.status == DecodeStatus::kAnswered);
    CHECK(d.result.consumed == wire.size());
    CHECK(d.response.status == c.status);
    CHECK(d.response.error == c.error);
    CHECK(d.response.message == c.message);
    if (c.error == ErrorCode::kNone) CHECK(d.response.result == c.result);
  }
}

TEST_CASE("reply limits as large as size_t allows do not wrap around") {
  CodecOptions options;
  options.limits.max_frame_bytes = SIZE_MAX;
  options.limits.max_request_bytes = SIZE_MAX;
  options.limits.max_elements = SIZE_MAX;
  options.limits.max_depth = SIZE_MAX;
  CHECK(decode_once("+OK\r\n", options).response.status == "OK");
  CHECK(decode_once("+OK", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("$100\r\n", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("*1\r\n*1\r\n:1\r\n", options).response.result == Json::parse("[[1]]"));
}
