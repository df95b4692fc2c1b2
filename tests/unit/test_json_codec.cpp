// The json codec, both sides: tables of valid and invalid frames, limits at N and N+1, both byte
// orders, every split point, pipelining, the legacy shapes byte for byte, and round trips.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codecs/framing.h"
#include "codecs/json/json_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace rpcgate;
using namespace rpcgate::codec;
using rpcgate::test::describe;
using rpcgate::test::lines;
using rpcgate::test::with_limits;

namespace {

// The json codec's byte order when the options name none.
const ByteOrder kDefaultOrder = CodecOptions{}.length_byte_order;

std::string frame(std::string_view body, ByteOrder order = kDefaultOrder) { return test::prefixed(body, order); }

// A frame's body, once its prefix is checked to announce exactly the rest.
std::string body_of(std::string_view frame_text, ByteOrder order = kDefaultOrder) {
  const auto body = test::prefixed_body(frame_text, order);
  REQUIRE(body.has_value());
  return std::string(*body);
}

CodecOptions options(ByteOrder order = kDefaultOrder) {
  CodecOptions o;
  o.length_byte_order = order;
  return o;
}

std::string feed_server(std::string_view stream, const test::Reads& reads, const CodecOptions& o = options()) {
  return test::transcript(*json::make_server_codec(o), stream, reads);
}

std::string feed_client(std::string_view stream, const test::Reads& reads, const CodecOptions& o = options()) {
  return test::transcript(*json::make_client_codec(o), stream, reads);
}

using Decoded = test::ServerDecoded;

Decoded decode_one(std::string_view input, const CodecOptions& o = options()) {
  return test::decode_once(*json::make_server_codec(o), input);
}

std::string encode_response(const Response& response, const CodecOptions& o = options()) {
  return test::encode(*json::make_server_codec(o), response);
}

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

}  // namespace

TEST_CASE("server: answers leave in request order (legacy clients have no ids)") {
  CHECK(json::make_server_codec(options())->answers_in_order());
}

TEST_CASE("server: valid requests, whatever the key order and spacing") {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"in": "ping", "params": "hello"})", R"(method=ping params="hello")"},
      {R"({"params": [1, 2], "in": "add"})", R"(method=add params=[1,2])"},
      {R"({"in": "noparams"})", "method=noparams params=null"},
      {R"({"in": "pi", "params": 1000})", "method=pi params=1000"},
      {" \t\n{\"in\":\"ws\"  ,\"params\" : 1.5 }\r\n", "method=ws params=1.5"},
      {R"({"in": "x", "params": {"b": {"c": [true, null, -1]}, "a": ""}})",
       R"(method=x params={"a":"","b":{"c":[true,null,-1]}})"},
      {R"({"meta": {"trace_id": "t1", "deadline_ms": "250"}, "id": 7, "params": null, "in": "m"})",
       "method=m params=null id=7 meta:deadline_ms=250 meta:trace_id=t1"},
      {R"({"in": "x", "id": 18446744073709551615})", "method=x params=null id=18446744073709551615"},
      {R"({"in": "x", "id": null, "meta": null})", "method=x params=null"},
      {R"({"in": "x", "meta": {}})", "method=x params=null"},
      {R"({"in": "x", "params": 1, "extension": {"ignored": true}})", "method=x params=1"},
      {R"({"in": "first", "in": "last"})", "method=last params=null"},  // last duplicate wins
      {R"({"in": ""})", "method= params=null"},                         // routed, then answered UNKNOWN_METHOD
      {R"({"in": "\u00e9t\u00e9", "params": "\ud83d\ude00 \u65e5\u672c"})",
       "method=\xc3\xa9t\xc3\xa9 params=\"\xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\""},
      {"{\"in\": \"\xc3\xa9\", \"params\": \"raw \xf0\x9f\x98\x80\"}",
       "method=\xc3\xa9 params=\"raw \xf0\x9f\x98\x80\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    std::string input = frame(c.body);
    Decoded d = decode_one(input);
    REQUIRE(d.result.status == DecodeStatus::kRequest);
    CHECK(d.result.consumed == input.size());
    CHECK(describe(d.request) == c.expected);
    CHECK(d.request.payload.empty());
  }
}

TEST_CASE("server: bad requests are answered BAD_REQUEST and the frame is consumed") {
  struct Case {
    std::string body;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"", "invalid JSON"},
      {R"({"in": "x")", "invalid JSON"},
      {R"({"in": "x"} {})", "invalid JSON"},
      {R"({"in": "x", "params": [1,]})", "invalid JSON"},
      {R"({"in": "x", "params": NaN})", "invalid JSON"},
      {R"({"in": "x", "params": 1e400})", "invalid JSON"},
      {R"({"in": 'x'})", "invalid JSON"},
      {"{\"in\": \"\xff\"}", "invalid JSON"},
      {R"({"in": "\ud800"})", "invalid JSON"},
      {std::string("{\"in\": \"x\"}\0", 12), "invalid JSON"},
      {R"([1, 2])", "JSON object"},
      {R"("ping")", "JSON object"},
      {"null", "JSON object"},
      {R"({"params": 1})", "\"in\""},
      {R"({"in": 5})", "\"in\""},
      {R"({"in": null})", "\"in\""},
      {R"({"in": ["ping"]})", "\"in\""},
      {R"({"in": "x", "meta": {"a": 1}})", "\"meta\""},
      {R"({"in": "x", "meta": ["a"]})", "\"meta\""},
      {R"({"in": "x", "meta": "a=b"})", "\"meta\""},
      {R"({"in": "x", "id": -1})", "\"id\""},
      {R"({"in": "x", "id": 1.5})", "\"id\""},
      {R"({"in": "x", "id": "7"})", "\"id\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    std::string input = frame(c.body);
    Decoded d = decode_one(input);
    REQUIRE(d.result.status == DecodeStatus::kAnswered);
    CHECK(d.result.consumed == input.size());
    CHECK(d.reply.error == ErrorCode::kBadRequest);
    CHECK(d.reply.message.find(c.message_part) != std::string::npos);
    CHECK_FALSE(d.reply.id.has_value());
  }
}

TEST_CASE("server: an error reply carries the request's id when the id itself was valid") {
  Decoded d = decode_one(frame(R"({"id": 9, "in": "x", "meta": 5})"));
  REQUIRE(d.result.status == DecodeStatus::kAnswered);
  CHECK(d.reply.id == 9u);
  CHECK(body_of(encode_response(d.reply)) == R"({"out": "error", "result": {"code": "BAD_REQUEST", )"
                                             R"("message": "\"meta\" must be an object of strings"}, "id": 9})");
}

TEST_CASE("server: an invalid JSON error is short, whatever the frame held") {
  std::string body = R"({"in": "x", "params": ")" + std::string(100000, 'a') + "\x01\"}";
  Decoded d = decode_one(frame(body));
  REQUIRE(d.result.status == DecodeStatus::kAnswered);
  CHECK(d.reply.message.size() < 300);
}

TEST_CASE("server: frame length at the limit and one past it") {
  std::string body = R"({"in": "ping"})";
  SUBCASE("N is decoded") {
    Decoded d = decode_one(frame(body), with_limits(body.size(), 64));
    CHECK(d.result.status == DecodeStatus::kRequest);
  }
  SUBCASE("N+1 breaks the connection the moment the prefix is read, body or not") {
    std::string input = frame(body).substr(0, kPrefixBytes);
    Decoded d = decode_one(input, with_limits(body.size() - 1, 64));
    CHECK(d.result.status == DecodeStatus::kBroken);
    CHECK(d.result.consumed == 0);
    CHECK(d.reply.error == ErrorCode::kTooLarge);
    CHECK(d.reply.message == "frame of 14 bytes exceeds the limit of 13 bytes");
  }
  SUBCASE("without options, the default limit holds at N and N+1") {
    const auto limit = static_cast<uint32_t>(Limits{}.max_frame_bytes);
    std::string prefix(kPrefixBytes, '\0');
    write_length(prefix.data(), limit, ByteOrder::kLittle);
    CHECK(decode_one(prefix).result.status == DecodeStatus::kNeedMore);
    write_length(prefix.data(), limit + 1, ByteOrder::kLittle);
    CHECK(decode_one(prefix).result.status == DecodeStatus::kBroken);
  }
  SUBCASE("fewer than 4 bytes is never an answer") {
    for (size_t n = 0; n < kPrefixBytes; ++n)
      CHECK(decode_one(std::string(n, '\xff')).result.status == DecodeStatus::kNeedMore);
  }
}

TEST_CASE("server: nesting at the limit and one past it") {
  // Depth counts containers inside the envelope: params [[[1]]] is 3 deep.
  for (size_t limit : {size_t{1}, size_t{3}, size_t{64}}) {
    CAPTURE(limit);
    auto o = with_limits(1 << 20, limit);
    std::string at = R"({"in": "x", "params": )" + nested_arrays(limit) + "}";
    std::string past = R"({"in": "x", "params": )" + nested_arrays(limit + 1) + "}";
    CHECK(decode_one(frame(at), o).result.status == DecodeStatus::kRequest);
    Decoded d = decode_one(frame(past), o);
    CHECK(d.result.status == DecodeStatus::kAnswered);
    CHECK(d.reply.error == ErrorCode::kBadRequest);
    CHECK(d.reply.message == "JSON nesting deeper than " + std::to_string(limit));
  }
  auto o = with_limits(1 << 20, 2);
  CHECK(decode_one(frame(R"({"in": "x", "params": {"a": [{}]}})"), o).result.status == DecodeStatus::kAnswered);
  CHECK(decode_one(frame(R"({"in": "x", "params": {"a": []}, "meta": {}})"), o).result.status ==
        DecodeStatus::kRequest);
  // Brackets inside strings are text, not nesting.
  CHECK(decode_one(frame(R"({"in": "x", "params": ["[[[[{{{{\"]]"]})"), o).result.status == DecodeStatus::kRequest);
}

TEST_CASE("server: a million open brackets cost one error, not the stack") {
  std::string body = R"({"in": "x", "params": )" + std::string(1'000'000, '[');
  Decoded d = decode_one(frame(body));
  CHECK(d.result.status == DecodeStatus::kAnswered);
  CHECK(d.reply.message == "JSON nesting deeper than " + std::to_string(Limits{}.max_depth));
}

TEST_CASE("server: both byte orders of the length prefix") {
  std::string body = R"({"in": "ping", "params": 1})";
  CHECK(decode_one(frame(body, ByteOrder::kLittle)).result.status == DecodeStatus::kRequest);
  CHECK(decode_one(frame(body, ByteOrder::kBig), options(ByteOrder::kBig)).result.status == DecodeStatus::kRequest);
  // Read in the wrong order, a 27-byte length announces 452 MiB: refused at once.
  const std::string wrong_order = frame(body, ByteOrder::kBig);
  REQUIRE(read_length(wrong_order.data(), ByteOrder::kLittle) > Limits{}.max_frame_bytes);
  CHECK(decode_one(wrong_order).result.status == DecodeStatus::kBroken);
  CHECK(frame("", ByteOrder::kBig).substr(0, kPrefixBytes) == std::string("\0\0\0\0", 4));
  CHECK(frame("ab", ByteOrder::kLittle).substr(0, kPrefixBytes) == std::string("\2\0\0\0", 4));
  CHECK(frame("ab", ByteOrder::kBig).substr(0, kPrefixBytes) == std::string("\0\0\0\2", 4));
}

TEST_CASE("server: the request object is overwritten, not merged, frame after frame") {
  auto codec = json::make_server_codec(options());
  Request request;
  Response reply;
  std::string first = frame(R"({"in": "a", "params": [1], "id": 3, "meta": {"k": "v"}})");
  REQUIRE(codec->decode(first, request, reply).status == DecodeStatus::kRequest);
  request.payload = "left over";
  REQUIRE(codec->decode(frame(R"({"in": "b"})"), request, reply).status == DecodeStatus::kRequest);
  CHECK(describe(request) == "method=b params=null");
  CHECK(request.payload.empty());
}

TEST_CASE("server: pipelined frames at every split point decode the same as whole") {
  std::string stream = frame(R"({"in": "ping", "params": "hello"})") + frame(R"({"in": "pi", "params": 10, "id": 1})") +
                       frame("not json") +
                       frame(R"({"params": {"k": [1, 2.5]}, "meta": {"trace_id": "abc"}, "in": "echo"})") +
                       frame(R"({"in": "\u00e9"})") + frame(R"({"in": "deep", "params": [[[1]]]})") +
                       frame(R"({"in": "tail")");  // incomplete at the end
  stream.resize(stream.size() - 3);
  auto feed_with = [](std::string_view s, const std::vector<size_t>& chunks) {
    return feed_server(s, chunks, with_limits(1024, 2));
  };
  auto whole = feed_with(stream, {});
  const std::vector<std::string> expected = {
      R"(request method=ping params="hello")",
      "request method=pi params=10 id=1",
      "answered error=BAD_REQUEST invalid JSON: parse error at line 1, column 2: syntax error "
      "while parsing value - invalid literal; last read: 'no'",
      R"(request method=echo params={"k":[1,2.5]} meta:trace_id=abc)",
      "request method=\xc3\xa9 params=null",
      "answered error=BAD_REQUEST JSON nesting deeper than 2",
      "waiting with 14 bytes",
  };
  CHECK(whole == lines(expected));
  CHECK(test::split_difference(stream, feed_with) == "");

  // A frame over the limit ends the stream: what follows it is never read.
  std::string broken = frame(R"({"in": "a"})") + frame(std::string(2000, ' ')) + frame(R"({"in": "b"})");
  auto events = feed_with(broken, {});
  CHECK(events == lines({"request method=a params=null",
                         "broken error=TOO_LARGE frame of 2000 bytes exceeds the limit of 1024 bytes"}));
  CHECK(test::split_difference(broken, feed_with) == "");
}

TEST_CASE("server: big-endian framing at every split point") {
  std::string stream =
      frame(R"({"in": "a", "params": 1})", ByteOrder::kBig) + frame(R"({"in": "b", "id": 2})", ByteOrder::kBig);
  auto feed_with = [](std::string_view s, const std::vector<size_t>& chunks) {
    return feed_server(s, chunks, options(ByteOrder::kBig));
  };
  CHECK(feed_with(stream, {}) == lines({"request method=a params=1", "request method=b params=null id=2"}));
  CHECK(test::split_difference(stream, feed_with) == "");
}

TEST_CASE("server: responses in the legacy shapes, byte for byte") {
  Response pong;
  pong.kind = "pong";
  pong.result = Json::parse(R"({"b": [1, "two"], "a": null})");
  CHECK(body_of(encode_response(pong)) == R"({"out": "pong", "result": {"a": null, "b": [1, "two"]}})");

  Response pi;
  pi.kind = "pi_r";
  pi.result = 3.141592653589793;
  CHECK(encode_response(pi) == frame(R"({"out": "pi_r", "result": 3.141592653589793})"));

  Response hello;
  hello.kind = "pong";
  hello.result = "hello";
  CHECK(encode_response(hello) == frame(R"({"out": "pong", "result": "hello"})"));
  CHECK(encode_response(hello, options(ByteOrder::kBig)) ==
        frame(R"({"out": "pong", "result": "hello"})", ByteOrder::kBig));
}

TEST_CASE("server: response details") {
  SUBCASE("no kind -> out \"result\"") {
    Response r;
    r.result = 1;
    CHECK(body_of(encode_response(r)) == R"({"out": "result", "result": 1})");
  }
  SUBCASE("the id is echoed after the result") {
    Response r;
    r.kind = "pong";
    r.id = 5;
    CHECK(body_of(encode_response(r)) == R"({"out": "pong", "result": null, "id": 5})");
  }
  SUBCASE("status and payload have no place here and are not written") {
    Response r;
    r.kind = "pong";
    r.result = "x";
    r.status = "PONG";
    r.payload = "bytes";
    CHECK(body_of(encode_response(r)) == R"({"out": "pong", "result": "x"})");
  }
  SUBCASE("errors") {
    Response r;
    r.kind = "ignored";
    r.result = "ignored";
    r.set_error(ErrorCode::kUnknownMethod, "no route for method 'x'");
    CHECK(body_of(encode_response(r)) == R"({"out": "error", "result": {"code": "UNKNOWN_METHOD", )"
                                         R"("message": "no route for method 'x'"}})");
  }
  SUBCASE("unicode is escaped as Python escapes it") {
    Response r;
    r.kind = "\xc3\xa9";
    r.result = "\xe6\x97\xa5 \xf0\x9f\x98\x80";
    CHECK(body_of(encode_response(r)) == R"({"out": "\u00e9", "result": "\u65e5 \ud83d\ude00"})");
  }
  SUBCASE("binary is base64, NaN is null") {
    Response r;
    r.result = Json::array({Json::binary({1, 2, 3}), std::nan("")});
    CHECK(body_of(encode_response(r)) == R"({"out": "result", "result": ["AQID", null]})");
  }
  SUBCASE("encoding appends to what is already queued") {
    auto codec = json::make_server_codec(options());
    Response a;
    a.kind = "a";
    Response b;
    b.kind = "b";
    std::string out;
    codec->encode(a, out);
    codec->encode(b, out);
    CHECK(out == frame(R"({"out": "a", "result": null})") + frame(R"({"out": "b", "result": null})"));
  }
}

TEST_CASE("client: requests are written as the legacy clients write them") {
  auto codec = json::make_client_codec(options());
  Request r;
  r.method = "pi";
  r.params = 1000;
  std::string out;
  codec->encode(r, out);
  CHECK(out == frame(R"({"in": "pi", "params": 1000})"));

  Request full;
  full.method = "user.get";
  full.params = Json::parse(R"({"id": 7})");
  full.id = 42;
  full.meta = {{"trace_id", "t"}, {"deadline_ms", "100"}};
  full.payload = "not written";
  out.clear();
  codec->encode(full, out);
  CHECK(body_of(out) == R"({"in": "user.get", "params": {"id": 7}, "id": 42, )"
                        R"("meta": {"trace_id": "t", "deadline_ms": "100"}})");

  auto big = json::make_client_codec(options(ByteOrder::kBig));
  out.clear();
  big->encode(r, out);
  CHECK(out == frame(R"({"in": "pi", "params": 1000})", ByteOrder::kBig));
}

TEST_CASE("client: responses, valid and invalid") {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"out": "pong", "result": "hello"})", R"(kind=pong result="hello")"},
      {R"({"result": 2.9814239699997196, "out": "pi_r"})", "kind=pi_r result=2.9814239699997196"},
      {R"({"out": "nothing"})", "kind=nothing result=null"},
      {R"({"out": "x", "result": [1], "id": 12})", "kind=x result=[1] id=12"},
      {R"({"out": "error", "result": {"code": "TIMEOUT", "message": "slow"}})", "error=TIMEOUT slow"},
      {R"({"out": "error", "result": {"message": "m", "code": "NOT_OURS"}, "id": 3})", "error=UPSTREAM_ERROR m id=3"},
      {R"({"out": "error", "result": {"code": "BAD_REQUEST"}})", "error=BAD_REQUEST "},
      // Not the {code, message} shape: an ordinary result whose kind happens to be "error".
      {R"({"out": "error", "result": "went wrong"})", R"(kind=error result="went wrong")"},
      {R"({"out": "error", "result": {"code": 5}})", R"(kind=error result={"code":5})"},
      {"garbage",
       "error=UPSTREAM_ERROR bad response from upstream: invalid JSON: parse error at "
       "line 1, column 1: syntax error while parsing value - invalid literal; last read: 'g'"},
      {R"([])", "error=UPSTREAM_ERROR bad response from upstream: a response must be a JSON object"},
      {R"({"result": 1})", "error=UPSTREAM_ERROR bad response from upstream: a response needs \"out\" as a string"},
      {R"({"out": "x", "id": "1"})",
       "error=UPSTREAM_ERROR bad response from upstream: \"id\" must be an unsigned integer"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto codec = json::make_client_codec(options());
    Response response;
    std::string input = frame(c.body);
    DecodeResult result = codec->decode(input, response);
    // A frame the codec cannot read means the upstream does not speak the protocol: the
    // connection is broken, whatever else it sends.
    bool bad = c.expected.find("bad response from upstream") != std::string::npos;
    REQUIRE(result.status == (bad ? DecodeStatus::kBroken : DecodeStatus::kAnswered));
    CHECK(result.consumed == (bad ? 0 : input.size()));
    CHECK(describe(response) == c.expected);
  }
}

TEST_CASE("client: limits, and pipelined responses at every split point") {
  auto feed_with = [](std::string_view s, const std::vector<size_t>& chunks) {
    return feed_client(s, chunks, with_limits(80, 1));
  };
  std::string stream = frame(R"({"out": "pong", "result": [1]})") +
                       frame(R"({"out": "error", "result": {"code": "OVERLOADED", "message": "busy"}})") +
                       frame(std::string(81, ' '));
  CHECK(feed_with(stream, {}) ==
        lines({"answered kind=pong result=[1]", "answered error=OVERLOADED busy",
               "broken error=TOO_LARGE upstream frame of 81 bytes exceeds the limit of 80 bytes"}));
  CHECK(test::split_difference(stream, feed_with) == "");
  // A reply deeper than the limit ends the stream: nothing after it is read.
  std::string deep = frame(R"({"out": "pong", "result": [1]})") + frame(R"({"out": "deep", "result": [[1]]})") +
                     frame(R"({"out": "pong", "result": 2})");
  CHECK(feed_with(deep, {}) ==
        lines({"answered kind=pong result=[1]",
               "broken error=UPSTREAM_ERROR bad response from upstream: JSON nesting deeper than 1"}));
}

TEST_CASE("round trip: client request -> server, server response -> client") {
  auto client = json::make_client_codec(options());
  auto server = json::make_server_codec(options());

  Request sent;
  sent.method = "user.get";
  sent.params = Json::parse(R"({"name": "\u00e9\ud83d\ude00", "n": [1, -2, 3.25, 1e300, true, null, {}],
                                "big": 18446744073709551615, "tiny": 5e-324})");
  sent.id = 77;
  sent.meta = {{"deadline_ms", "250"}, {"trace_id", "t-1"}};  // sorted, as the server reads them
  std::string wire;
  client->encode(sent, wire);
  client->encode(sent, wire);  // pipelined
  Request received;
  Response reply;
  for (int i = 0; i < 2; ++i) {
    DecodeResult result = server->decode(wire, received, reply);
    REQUIRE(result.status == DecodeStatus::kRequest);
    wire.erase(0, result.consumed);
    CHECK(received.method == sent.method);
    CHECK(received.params == sent.params);
    CHECK(received.id == sent.id);
    CHECK(received.meta == sent.meta);
  }
  CHECK(wire.empty());

  std::vector<Response> answers(3);
  answers[0].kind = "pong";
  answers[0].result = sent.params;
  answers[0].id = 77;
  answers[1].result = 3.141592653589793;
  answers[2].set_error(ErrorCode::kShuttingDown, "bye \xc3\xa9");
  for (const auto& answer : answers) server->encode(answer, wire);
  for (const auto& answer : answers) {
    Response got;
    DecodeResult result = client->decode(wire, got);
    REQUIRE(result.status == DecodeStatus::kAnswered);
    wire.erase(0, result.consumed);
    CHECK(got.kind == (answer.is_error() || !answer.kind.empty() ? answer.kind : "result"));
    CHECK(got.result == answer.result);
    CHECK(got.id == answer.id);
    CHECK(got.error == answer.error);
    CHECK(got.message == answer.message);
  }
}

TEST_CASE("round trip: every error code survives the wire by name") {
  auto client = json::make_client_codec(options());
  auto server = json::make_server_codec(options());
  for (ErrorCode code : test::every_error_code()) {
    CAPTURE(error_code_name(code));
    Response sent;
    sent.set_error(code, "m");
    std::string wire;
    server->encode(sent, wire);
    Response got;
    REQUIRE(client->decode(wire, got).status == DecodeStatus::kAnswered);
    CHECK(got.error == sent.error);
  }
}
