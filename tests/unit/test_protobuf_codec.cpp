// The protobuf codec, both sides: tables of valid and bad frames, big-endian framing, limits at N
// and N+1, every split point, pipelining, payload and binary mapping, and round trips.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codecs/framing.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "codecs/protobuf/wire.h"
#include "rpcgate.pb.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace rpcgate;
using namespace rpcgate::codec;
namespace v1 = rpcgate::v1;
using rpcgate::test::describe;
using rpcgate::test::lines;
using rpcgate::test::with_limits;

namespace {

std::string frame(std::string_view body, ByteOrder order = protobuf::kByteOrder) { return test::prefixed(body, order); }

std::string frame(const google::protobuf::MessageLite& message) { return frame(message.SerializeAsString()); }

template <typename Message>
Message parse_frame(std::string_view frame_text) {
  const auto body = test::prefixed_body(frame_text, protobuf::kByteOrder);
  REQUIRE(body.has_value());
  Message message;
  REQUIRE(message.ParseFromArray(body->data(), static_cast<int>(body->size())));
  return message;
}

std::string feed_server(std::string_view stream, const test::Reads& reads, const CodecOptions& o) {
  return test::transcript(*protobuf::make_server_codec(o), stream, reads);
}

std::string feed_client(std::string_view stream, const test::Reads& reads, const CodecOptions& o) {
  return test::transcript(*protobuf::make_client_codec(o), stream, reads);
}

using Decoded = test::ServerDecoded;

Decoded decode_one(std::string_view input, const CodecOptions& o = {}) {
  return test::decode_once(*protobuf::make_server_codec(o), input);
}

std::string encode_response(const Response& response) {
  return test::encode(*protobuf::make_server_codec({}), response);
}

v1::Request request_named(std::string method) {
  v1::Request r;
  r.set_method(std::move(method));
  return r;
}

// Builds a Value the way a client library would, independently of the codec under test.
void set_json(google::protobuf::Value& value, const Json& source) {
  if (source.is_null())
    value.set_null_value(google::protobuf::NULL_VALUE);
  else if (source.is_boolean())
    value.set_bool_value(source.get<bool>());
  else if (source.is_number())
    value.set_number_value(source.get<double>());
  else if (source.is_string())
    value.set_string_value(source.get<std::string>());
  else if (source.is_array()) {
    for (const auto& element : source) set_json(*value.mutable_list_value()->add_values(), element);
  } else {
    for (const auto& [key, member] : source.items())
      set_json((*value.mutable_struct_value()->mutable_fields())[key], member);
  }
}

v1::Request with_params(std::string method, const char* params_json) {
  v1::Request r = request_named(std::move(method));
  set_json(*r.mutable_params(), Json::parse(params_json));
  return r;
}

Json nested_arrays(size_t depth) {
  Json value = 1;
  for (size_t i = 0; i < depth; ++i) value = Json::array({value});
  return value;
}

Json nested_objects(size_t depth) {
  Json value = 1;
  for (size_t i = 0; i < depth; ++i) value = Json{{"k", value}};
  return value;
}

}  // namespace

TEST_CASE("server: answers leave in completion order, matched by id") {
  CHECK_FALSE(protobuf::make_server_codec({})->answers_in_order());
}

TEST_CASE("server: valid requests") {
  struct Case {
    std::string frame;
    std::string expected;
  };
  v1::Request full = with_params("user.get", R"({"id": 7, "tags": ["a", 1.5, -2, true, null]})");
  full.set_id(42);
  (*full.mutable_meta())["trace_id"] = "t1";
  (*full.mutable_meta())["deadline_ms"] = "250";
  full.set_payload(std::string("\x00\xff", 2));
  v1::Request unknown_field = request_named("x");
  unknown_field.GetReflection()->MutableUnknownFields(&unknown_field)->AddVarint(15, 1);
  const std::vector<Case> cases = {
      {frame(request_named("ping")), "method=ping params=null id=0"},
      {frame(with_params("ping", R"("hello")")), R"(method=ping params="hello" id=0)"},
      {frame(with_params("pi", "1000")), "method=pi params=1000 id=0"},
      {frame(with_params("f", "0.5")), "method=f params=0.5 id=0"},
      {frame(full), R"(method=user.get params={"id":7,"tags":["a",1.5,-2,true,null]} id=42)"
                    " meta:deadline_ms=250 meta:trace_id=t1 payload=" +
                        std::string("\x00\xff", 2)},
      {frame(request_named("\xc3\xa9t\xc3\xa9")), "method=\xc3\xa9t\xc3\xa9 params=null id=0"},
      {frame(unknown_field), "method=x params=null id=0"},  // newer fields are skipped
      // By hand: id 1 (field 1, varint), method "ping" (field 2, length-delimited).
      {frame(std::string("\x08\x01\x12\x04ping", 8)), "method=ping params=null id=1"},
      // Fields in any order; a repeated scalar field: the last one wins.
      {frame(std::string("\x12\x01x\x08\x01\x08\x02", 7)), "method=x params=null id=2"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expected);
    Decoded d = decode_one(c.frame);
    REQUIRE(d.result.status == DecodeStatus::kRequest);
    CHECK(d.result.consumed == c.frame.size());
    CHECK(describe(d.request) == c.expected);
  }
}

TEST_CASE("server: a bad frame is answered with id 0 and breaks the connection") {
  std::string ping = request_named("ping").SerializeAsString();
  struct Case {
    std::string body;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"\xff\xff\xff", "not a valid rpcgate.v1.Request"},
      {ping.substr(0, ping.size() - 1), "not a valid rpcgate.v1.Request"},     // truncated field
      {ping + std::string(1, '\0'), "not a valid rpcgate.v1.Request"},         // a zero tag
      {ping + "\x0c", "not a valid rpcgate.v1.Request"},                       // an end-group tag
      {std::string("\x12\x01\xff", 3), "not a valid rpcgate.v1.Request"},      // method not UTF-8
      {std::string("\x08", 1), "not a valid rpcgate.v1.Request"},              // varint cut short
      {std::string("\x1a\x05\x0a\x03", 4), "not a valid rpcgate.v1.Request"},  // params cut short
  };
  for (const auto& c : cases) {
    CAPTURE(c.message_part);
    Decoded d = decode_one(frame(c.body) + frame(ping));
    REQUIRE(d.result.status == DecodeStatus::kBroken);
    CHECK(d.result.consumed == 0);
    CHECK(d.reply.error == ErrorCode::kBadRequest);
    CHECK(d.reply.id == 0u);
    CHECK(d.reply.message.find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("server: a frame that parses but asks badly is answered with its id; the connection goes on") {
  v1::Request no_method;
  no_method.set_id(5);
  v1::Request deep = request_named("deep");
  deep.set_id(6);
  set_json(*deep.mutable_params(), nested_arrays(3));
  std::string stream = frame("") + frame(no_method) + frame(deep) + frame(request_named("ping"));
  CHECK(feed_server(stream, {}, with_limits(1024, 2)) ==
        lines({"answered error=BAD_REQUEST request has no method id=0",
               "answered error=BAD_REQUEST request has no method id=5",
               "answered error=BAD_REQUEST params nested deeper than 2 id=6", "request method=ping params=null id=0"}));
}

TEST_CASE("server: frame length at the limit and one past it") {
  std::string body = request_named("ping").SerializeAsString();
  CHECK(decode_one(frame(body), with_limits(body.size(), 64)).result.status == DecodeStatus::kRequest);
  Decoded d = decode_one(frame(body).substr(0, kPrefixBytes), with_limits(body.size() - 1, 64));
  CHECK(d.result.status == DecodeStatus::kBroken);
  CHECK(d.reply.error == ErrorCode::kTooLarge);
  CHECK(d.reply.id == 0u);
  CHECK(d.reply.message == "frame of 6 bytes exceeds the limit of 5 bytes");

  // Without options, the default limit holds at N and N+1.
  const auto limit = static_cast<uint32_t>(Limits{}.max_frame_bytes);
  std::string prefix(kPrefixBytes, '\0');
  write_length(prefix.data(), limit, ByteOrder::kBig);
  CHECK(decode_one(prefix).result.status == DecodeStatus::kNeedMore);
  write_length(prefix.data(), limit + 1, ByteOrder::kBig);
  CHECK(decode_one(prefix).result.status == DecodeStatus::kBroken);
  for (size_t n = 0; n < kPrefixBytes; ++n)
    CHECK(decode_one(std::string(n, '\xff')).result.status == DecodeStatus::kNeedMore);
}

TEST_CASE("server: the length is big-endian, whatever the options say") {
  std::string body = request_named("ping").SerializeAsString();
  CodecOptions little;
  little.length_byte_order = ByteOrder::kLittle;
  CHECK(decode_one(frame(body, ByteOrder::kBig), little).result.status == DecodeStatus::kRequest);
  // Read as big-endian, a little-endian 6 announces 96 MiB: refused at once.
  const std::string wrong_order = frame(body, ByteOrder::kLittle);
  REQUIRE(read_length(wrong_order.data(), ByteOrder::kBig) > Limits{}.max_frame_bytes);
  CHECK(decode_one(wrong_order).result.status == DecodeStatus::kBroken);
}

TEST_CASE("server: params depth at the limit and one past it") {
  for (size_t limit : {size_t{0}, size_t{1}, size_t{4}, size_t{64}}) {
    CAPTURE(limit);
    auto o = with_limits(1 << 20, limit);
    for (auto nested : {&nested_arrays, &nested_objects}) {
      v1::Request at = request_named("x");
      set_json(*at.mutable_params(), nested(limit));
      Decoded ok = decode_one(frame(at), o);
      REQUIRE(ok.result.status == DecodeStatus::kRequest);
      CHECK(ok.request.params == nested(limit));

      v1::Request past = request_named("x");
      past.set_id(9);
      set_json(*past.mutable_params(), nested(limit + 1));
      Decoded bad = decode_one(frame(past), o);
      CHECK(bad.result.status == DecodeStatus::kAnswered);  // a request-level error
      CHECK(bad.result.consumed == frame(past).size());
      CHECK(bad.reply.error == ErrorCode::kBadRequest);
      CHECK(bad.reply.id == 9u);
    }
  }
}

TEST_CASE("server: nesting far past the limit stops protobuf's own recursion") {
  // 5000 nested lists: 10,000 message levels, far beyond the recursion limit protobuf is given.
  constexpr int kLists = 5000;
  REQUIRE(2 * kLists > protobuf::recursion_limit(Limits{}.max_depth));
  google::protobuf::Value deep;
  deep.set_bool_value(true);
  for (int i = 0; i < kLists; ++i) {
    google::protobuf::Value outer;
    *outer.mutable_list_value()->add_values() = std::move(deep);
    deep = std::move(outer);
  }
  v1::Request r = request_named("x");
  *r.mutable_params() = std::move(deep);
  Decoded d = decode_one(frame(r));
  CHECK(d.result.status == DecodeStatus::kBroken);
  CHECK(d.reply.error == ErrorCode::kBadRequest);
}

TEST_CASE("server: one codec's reused message leaves nothing behind between frames") {
  auto codec = protobuf::make_server_codec({});
  Request request;
  Response reply;
  v1::Request full = with_params("a", "[1, {\"k\": \"v\"}]");
  full.set_id(9);
  (*full.mutable_meta())["m"] = "v";
  full.set_payload("bytes");
  REQUIRE(codec->decode(frame(full), request, reply).status == DecodeStatus::kRequest);
  CHECK(describe(request) == R"(method=a params=[1,{"k":"v"}] id=9 meta:m=v payload=bytes)");
  REQUIRE(codec->decode(frame(request_named("b")), request, reply).status == DecodeStatus::kRequest);
  CHECK(describe(request) == "method=b params=null id=0");
}

TEST_CASE("server: responses") {
  SUBCASE("byte for byte: a big-endian length, then the message") {
    Response r;
    r.id = 1;
    r.kind = "pong";
    CHECK(encode_response(r) == std::string("\0\0\0\x08\x08\x01\x12\x04pong", 12));
  }
  SUBCASE("payload is written as field 4") {
    Response r;
    r.payload = "ab";
    CHECK(encode_response(r) == std::string("\0\0\0\x04\x22\x02"
                                            "ab",
                                            8));
  }
  SUBCASE("a result with kind, id and payload") {
    Response r;
    r.id = 77;
    r.kind = "pong";
    r.result = Json::parse(R"({"a": [1, "x", null, true]})");
    r.payload = std::string(300, 'p');  // a length needing a two-byte varint
    r.status = "ignored";
    auto m = parse_frame<v1::Response>(encode_response(r));
    CHECK(m.id() == 77);
    CHECK(m.kind() == "pong");
    CHECK(m.payload() == r.payload);
    CHECK_FALSE(m.has_error());
    const auto& list = m.result().struct_value().fields().at("a").list_value();
    REQUIRE(list.values_size() == 4);
    CHECK(list.values(0).number_value() == 1);
    CHECK(list.values(1).string_value() == "x");
    CHECK(list.values(2).kind_case() == google::protobuf::Value::kNullValue);
    CHECK(list.values(3).bool_value());
  }
  SUBCASE("a null result leaves the field out; no id means id 0") {
    auto m = parse_frame<v1::Response>(encode_response(Response{}));
    CHECK_FALSE(m.has_result());
    CHECK(m.id() == 0);
  }
  SUBCASE("errors carry the code by name and nothing else") {
    Response r;
    r.id = 3;
    r.kind = "ignored";
    r.result = 1;
    r.payload = "ignored";
    r.set_error(ErrorCode::kUnknownMethod, "no route for method 'x'");
    auto m = parse_frame<v1::Response>(encode_response(r));
    CHECK(m.id() == 3);
    CHECK(m.error().code() == "UNKNOWN_METHOD");
    CHECK(m.error().message() == "no route for method 'x'");
    CHECK(m.kind().empty());
    CHECK_FALSE(m.has_result());
    CHECK(m.payload().empty());
  }
  SUBCASE("a binary result travels as payload; nested binary as base64") {
    Response whole;
    whole.result = Json::binary({0x00, 0xff, 0x10});
    auto m = parse_frame<v1::Response>(encode_response(whole));
    CHECK(m.payload() == std::string("\x00\xff\x10", 3));
    CHECK_FALSE(m.has_result());

    Response own_payload = whole;
    own_payload.payload = "mine";
    m = parse_frame<v1::Response>(encode_response(own_payload));
    CHECK(m.payload() == "mine");
    CHECK(m.result().string_value() == "AP8Q");

    Response nested;
    nested.result = Json::array({Json::binary({0xff})});
    m = parse_frame<v1::Response>(encode_response(nested));
    CHECK(m.result().list_value().values(0).string_value() == "/w==");
  }
  SUBCASE("text that is not UTF-8 is repaired, so the peer can parse the frame") {
    Response r;
    r.kind = "k\xff";
    r.result = "r\xfe";
    auto m = parse_frame<v1::Response>(encode_response(r));
    CHECK(m.kind() == "k\xef\xbf\xbd");
    CHECK(m.result().string_value() == "r\xef\xbf\xbd");
    Response e;
    e.set_error(ErrorCode::kUnknownMethod, "no route for method '\xc3'");
    CHECK(parse_frame<v1::Response>(encode_response(e)).error().message() == "no route for method '\xef\xbf\xbd'");
  }
  SUBCASE("encoding appends to what is already queued") {
    auto codec = protobuf::make_server_codec({});
    Response a;
    a.id = 1;
    Response b;
    b.id = 2;
    std::string out = "queued";
    codec->encode(a, out);
    codec->encode(b, out);
    CHECK(out == "queued" + std::string("\0\0\0\x02\x08\x01\0\0\0\x02\x08\x02", 12));
  }
}

TEST_CASE("server: pipelined frames at every split point decode the same as whole") {
  v1::Request second = with_params("pi", "10");
  second.set_id(2);
  (*second.mutable_meta())["trace_id"] = "abc";
  v1::Request deep = request_named("deep");
  set_json(*deep.mutable_params(), nested_arrays(3));
  std::string stream = frame(with_params("ping", R"("hello")")) + frame(second) +
                       frame(with_params("echo", R"({"k": [1, 2.5]})")) + frame(deep) +
                       frame(request_named("never read"));
  auto feed_with = [](std::string_view s, const std::vector<size_t>& chunks) {
    return feed_server(s, chunks, with_limits(1024, 2));
  };
  CHECK(feed_with(stream, {}) ==
        lines({R"(request method=ping params="hello" id=0)", "request method=pi params=10 id=2 meta:trace_id=abc",
               R"(request method=echo params={"k":[1,2.5]} id=0)",
               "answered error=BAD_REQUEST params nested deeper than 2 id=0",
               "request method=never read params=null id=0"}));
  CHECK(test::split_difference(stream, feed_with) == "");

  std::string incomplete = frame(request_named("a")) + frame(request_named("b")).substr(0, 6);
  CHECK(feed_with(incomplete, {}) == lines({"request method=a params=null id=0", "waiting with 6 bytes"}));
  CHECK(test::split_difference(incomplete, feed_with) == "");
}

TEST_CASE("client: requests") {
  auto codec = protobuf::make_client_codec({});
  Request r;
  r.method = "user.get";
  r.params = Json::parse(R"({"id": 7})");
  r.id = 12;
  r.meta = {{"trace_id", "t"}, {"deadline_ms", "100"}};
  r.payload = "opaque";
  std::string out;
  codec->encode(r, out);
  auto m = parse_frame<v1::Request>(out);
  CHECK(m.method() == "user.get");
  CHECK(m.id() == 12);
  CHECK(m.params().struct_value().fields().at("id").number_value() == 7);
  CHECK(m.meta().at("trace_id") == "t");
  CHECK(m.meta().at("deadline_ms") == "100");
  CHECK(m.payload() == "opaque");

  Request binary;
  binary.method = "set";
  binary.params = Json::binary({0x01, 0x02});
  out.clear();
  codec->encode(binary, out);
  m = parse_frame<v1::Request>(out);
  CHECK(m.id() == 0);
  CHECK(m.payload() == "\x01\x02");
  CHECK_FALSE(m.has_params());
  CHECK(m.meta().empty());  // nothing left from the request before
}

TEST_CASE("client: responses, valid and invalid") {
  auto response_with = [](uint64_t id, std::string kind, const char* result_json) {
    v1::Response m;
    m.set_id(id);
    m.set_kind(std::move(kind));
    if (result_json != nullptr) set_json(*m.mutable_result(), Json::parse(result_json));
    return m;
  };
  auto error_with = [](uint64_t id, std::string code, std::string message) {
    v1::Response m;
    m.set_id(id);
    m.mutable_error()->set_code(std::move(code));
    m.mutable_error()->set_message(std::move(message));
    return m;
  };
  v1::Response with_payload = response_with(4, "blob", nullptr);
  with_payload.set_payload("raw");
  v1::Response deep = response_with(6, "deep", nullptr);
  set_json(*deep.mutable_result(), nested_arrays(3));
  v1::Response empty_error;
  empty_error.set_id(8);
  empty_error.mutable_error();

  struct Case {
    std::string frame;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {frame(response_with(1, "pong", R"("hello")")), R"(kind=pong result="hello" id=1)"},
      {frame(response_with(2, "pi_r", "3.141592653589793")), "kind=pi_r result=3.141592653589793 id=2"},
      {frame(response_with(3, "", nullptr)), "kind= result=null id=3"},
      {frame(with_payload), "kind=blob result=null id=4 payload=raw"},
      {frame(error_with(5, "TIMEOUT", "slow")), "error=TIMEOUT slow id=5"},
      {frame(error_with(5, "NOT_OURS", "m")), "error=UPSTREAM_ERROR m id=5"},
      {frame(empty_error), "error=UPSTREAM_ERROR  id=8"},
      // Too deep, but the id is known: that request fails, the connection lives.
      {frame(deep), "error=UPSTREAM_ERROR upstream result nested deeper than 2 id=6"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expected);
    auto codec = protobuf::make_client_codec(with_limits(1024, 2));
    Response response;
    DecodeResult result = codec->decode(c.frame, response);
    REQUIRE(result.status == DecodeStatus::kAnswered);
    CHECK(result.consumed == c.frame.size());
    CHECK(describe(response) == c.expected);
  }
}

TEST_CASE("client: pipelined responses and broken frames at every split point") {
  v1::Response a;
  a.set_id(1);
  a.set_kind("pong");
  v1::Response b;
  b.set_id(2);
  b.mutable_error()->set_code("OVERLOADED");
  auto feed_with = [](std::string_view s, const std::vector<size_t>& chunks) {
    return feed_client(s, chunks, with_limits(64, 4));
  };
  std::string garbage = frame(a) + frame(b) + frame("\xff\xff") + frame(a);
  CHECK(feed_with(garbage, {}) ==
        lines({"answered kind=pong result=null id=1", "answered error=OVERLOADED  id=2",
               "broken error=UPSTREAM_ERROR upstream frame is not a valid rpcgate.v1.Response"}));
  CHECK(test::split_difference(garbage, feed_with) == "");

  std::string oversized = frame(a) + frame(std::string(65, '\x08'));
  CHECK(feed_with(oversized, {}) ==
        lines({"answered kind=pong result=null id=1",
               "broken error=TOO_LARGE upstream frame of 65 bytes exceeds the limit of 64 bytes"}));
  CHECK(test::split_difference(oversized, feed_with) == "");
}

TEST_CASE("round trip: client request -> server, server response -> client") {
  auto client = protobuf::make_client_codec({});
  auto server = protobuf::make_server_codec({});

  Request sent;
  sent.method = "user.get";
  sent.params = Json::parse(R"({"name": "\u00e9\ud83d\ude00", "n": [1, -2, 3.25, 1e300, true, null, {}],
                                "big": 9007199254740991, "tiny": 5e-324})");
  sent.id = 77;
  sent.meta = {{"deadline_ms", "250"}, {"trace_id", "t-1"}};  // sorted, as the server reads them
  sent.payload = std::string("\x00\x01", 2);
  std::string wire;
  client->encode(sent, wire);
  client->encode(sent, wire);  // pipelined
  for (int i = 0; i < 2; ++i) {
    Request received;
    Response reply;
    DecodeResult result = server->decode(wire, received, reply);
    REQUIRE(result.status == DecodeStatus::kRequest);
    wire.erase(0, result.consumed);
    CHECK(received.method == sent.method);
    CHECK(received.params == sent.params);
    CHECK(received.id == sent.id);
    CHECK(received.meta == sent.meta);
    CHECK(received.payload == sent.payload);
  }
  CHECK(wire.empty());

  std::vector<Response> answers(4);
  answers[0].kind = "pong";
  answers[0].result = sent.params;
  answers[0].id = 77;
  answers[1].result = 3.141592653589793;
  answers[1].id = 1;
  answers[2].set_error(ErrorCode::kShuttingDown, "bye \xc3\xa9");
  answers[2].id = 2;
  answers[3].payload = "raw";
  answers[3].id = 3;
  for (const auto& answer : answers) server->encode(answer, wire);
  for (const auto& answer : answers) {
    Response got;
    DecodeResult result = client->decode(wire, got);
    REQUIRE(result.status == DecodeStatus::kAnswered);
    wire.erase(0, result.consumed);
    CHECK(got.kind == answer.kind);
    CHECK(got.result == answer.result);
    CHECK(got.id == answer.id);
    CHECK(got.error == answer.error);
    CHECK(got.message == answer.message);
    CHECK(got.payload == answer.payload);
  }
}

TEST_CASE("round trip: every error code survives the wire by name") {
  auto client = protobuf::make_client_codec({});
  auto server = protobuf::make_server_codec({});
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
