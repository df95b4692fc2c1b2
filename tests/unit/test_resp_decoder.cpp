// RESP server decoding: tables of valid and invalid frames, limits at N and N+1, connection
// commands, CALL and argument-to-params rules.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace std::string_literals;
using rpcgate::ErrorCode;
using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;
using rpcgate::codec::RespArgs;
using rpcgate::codec::ServerCodec;
using rpcgate::test::binary;
using rpcgate::test::encode;
using rpcgate::test::resp_command;

namespace {

using Decoded = rpcgate::test::ServerDecoded;

// One decode of `input` by a fresh codec.
Decoded decode_once(std::string_view input, const CodecOptions& options = {}) {
  return rpcgate::test::decode_once(*rpcgate::codec::resp::make_server_codec(options), input);
}

}  // namespace

TEST_CASE("valid commands decode to method and params") {
  struct Case {
    std::string input;
    std::string method;
    Json params;
  };
  const std::vector<Case> cases = {
      {resp_command({"PING"}), "ping", nullptr},
      {resp_command({"PiNg"}), "ping", nullptr},
      {resp_command({"ping", "hello"}), "ping", "hello"},
      {resp_command({"pi", "1000"}), "pi", 1000},
      {resp_command({"SET", "k", "v"}), "set", Json::array({"k", "v"})},
      {resp_command({"GET", ""}), "get", ""},
      {resp_command({"echo", R"({"a":[1,2]})"}), "echo", Json::parse(R"({"a":[1,2]})")},
      {resp_command({"f", "1.5", "-3", "true", "false", "null", "\"quoted\""}), "f",
       Json::array({1.5, -3, true, false, nullptr, "quoted"})},
      // Digits a double would round stay the string the client sent; so do leading zeros.
      {resp_command({"set", "123456789012345678901234", "007"}), "set",
       Json::array({"123456789012345678901234", "007"})},
      // Only an exact JSON text is JSON: whitespace around it, or a bad number, keeps the string.
      {resp_command({"f", " 1", "1 ", "1e400", "nan", "tru", "[1,"}), "f",
       Json::array({" 1", "1 ", "1e400", "nan", "tru", "[1,"})},
      {resp_command({"set", "k", "\xff\xfe\x00"s}), "set", Json::array({"k", binary("\xff\xfe\x00"s)})},
      {resp_command({"set", "k", "h\xc3\xa9llo"}), "set", Json::array({"k", "h\xc3\xa9llo"})},
      {resp_command({"ECHO", "x"}), "echo", "x"},
      {resp_command({"INFO"}), "info", nullptr},
      {resp_command({"call", "user.get", R"({"id": 7})"}), "user.get", Json{{"id", 7}}},
      {resp_command({"CALL", "User.Get"}), "User.Get", nullptr},
      {resp_command({"call", "f", "[1, \"two\"]"}), "f", Json::array({1, "two"})},
      {"PING\r\n", "ping", nullptr},
      {"ping\n", "ping", nullptr},
      {"set k v\r\n", "set", Json::array({"k", "v"})},
      {"  set   k\tv  \r\n", "set", Json::array({"k", "v"})},
      {"set \"a b\" 'c d'\r\n", "set", Json::array({"a b", "c d"})},
      {"echo \"\\x41\\n\\t\\\\\\\"\"\r\n", "echo", "A\n\t\\\""},
      {"echo 'it\\'s'\r\n", "echo", "it's"},
      {"echo \"\"\r\n", "echo", ""},
      {"echo a\"b c\"\r\n", "echo", "ab c"},
      {"call user.get '{\"id\": 7}'\r\n", "user.get", Json{{"id", 7}}},
      {"pi 1000\r\n", "pi", 1000},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    Decoded d = decode_once(c.input);
    REQUIRE(d.result.status == DecodeStatus::kRequest);
    CHECK(d.result.consumed == c.input.size());
    CHECK(d.request.method == c.method);
    CHECK(d.request.params == c.params);
  }
}

TEST_CASE("params stay undecoded until asked, but for the commands whose arguments pick a connection") {
  // In front of a Redis, where SELECT and CLIENT go upstream as requests.
  CodecOptions upstream;
  CodecOptions options;
  options.upstream = &upstream;
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  Request request;
  Response reply;
  // The undecoded params are views into the input: it lives as long as a connection's read buffer
  // holds the frame.
  std::string frame;
  auto decode = [&](const std::string& input) {
    frame = input;
    request.clear();
    REQUIRE(codec->decode(frame, request, reply).status == DecodeStatus::kRequest);
  };
  // A command forwarded as its frame: nothing decoded, until the gateway asks.
  decode(resp_command({"SET", "k", "1"}));
  CHECK(request.params_deferred);
  CHECK(request.params.is_null());
  codec->complete_params(request);
  CHECK_FALSE(request.params_deferred);
  CHECK(request.params == Json::array({"k", 1}));
  codec->complete_params(request);  // once decoded, asking again changes nothing
  CHECK(request.params == Json::array({"k", 1}));
  // No arguments: nothing to decode.
  decode(resp_command({"PING"}));
  CHECK_FALSE(request.params_deferred);
  // Their arguments decide the pinning, or name the method: decoded at once.
  for (const std::string& command : {resp_command({"SELECT", "0"}), resp_command({"CLIENT", "SETNAME", "x"}),
                                     resp_command({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}),
                                     resp_command({"HELLO", "2"}), resp_command({"CALL", "m", "[1]"})}) {
    CAPTURE(command);
    decode(command);
    CHECK_FALSE(request.params_deferred);
    CHECK_FALSE(request.params.is_null());
  }
}

TEST_CASE("args: strings keeps every argument a string") {
  CodecOptions options;
  options.resp_args = RespArgs::kStrings;
  Decoded one = decode_once(resp_command({"pi", "1000"}), options);
  CHECK(one.request.params == "1000");
  Decoded many = decode_once(resp_command({"f", "1", "true", "\x80"}), options);
  CHECK(many.request.params == Json::array({"1", "true", binary("\x80")}));
  // CALL's params are JSON by definition, whatever the mode.
  Decoded call = decode_once(resp_command({"call", "m", "[1]"}), options);
  CHECK(call.request.params == Json::array({1}));
}

TEST_CASE("JSON arguments respect max_depth") {
  CodecOptions options;
  options.limits.max_depth = 3;
  Decoded ok = decode_once(resp_command({"f", "[[[1]]]"}), options);
  CHECK(ok.request.params == Json::parse("[[[1]]]"));
  Decoded deep = decode_once(resp_command({"f", "[[[[1]]]]"}), options);
  CHECK(deep.request.params == "[[[[1]]]]");  // auto mode: too deep is not JSON, so a string
  Decoded call = decode_once(resp_command({"call", "f", "[[[[1]]]]"}), options);
  CHECK(call.result.status == DecodeStatus::kAnswered);
  CHECK(call.reply.error == ErrorCode::kBadRequest);
  // A hostile depth never reaches the recursive parser.
  std::string bomb(100000, '[');
  Decoded bombed = decode_once(resp_command({"f", bomb}));
  CHECK(bombed.request.params == bomb);
}

TEST_CASE("CALL errors are answered and the connection stays usable") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  std::string stream = resp_command({"call", "m", "{not json"}) + resp_command({"call"}) + "PING\r\n";
  Request request;
  Response reply;
  DecodeResult r = codec->decode(stream, request, reply);
  CHECK(r.status == DecodeStatus::kAnswered);
  CHECK(reply.error == ErrorCode::kBadRequest);
  CHECK_FALSE(reply.close_after);
  CHECK(encode(*codec, reply).rfind("-BAD_REQUEST invalid JSON params for 'call'", 0) == 0);
  stream.erase(0, r.consumed);
  r = codec->decode(stream, request, reply);
  CHECK(r.status == DecodeStatus::kAnswered);
  CHECK(reply.error == ErrorCode::kBadRequest);
  stream.erase(0, r.consumed);
  r = codec->decode(stream, request, reply);
  CHECK(r.status == DecodeStatus::kRequest);
  CHECK(request.method == "ping");
  CHECK(r.consumed == stream.size());
}

TEST_CASE("malformed frames break the connection with Redis-like errors") {
  struct Case {
    std::string input;
    ErrorCode code;
    std::string message;
  };
  const std::string kMultibulk = "Protocol error: invalid multibulk length";
  const std::string kBulk = "Protocol error: invalid bulk length";
  const std::vector<Case> cases = {
      {"*x\r\n", ErrorCode::kBadRequest, kMultibulk},
      {"*\r\n", ErrorCode::kBadRequest, kMultibulk},
      {"*+1\r\n$1\r\na\r\n", ErrorCode::kBadRequest, kMultibulk},
      {"*01\r\n$1\r\na\r\n", ErrorCode::kBadRequest, kMultibulk},
      {"*4294967297\r\n$4\r\nPING\r\n", ErrorCode::kBadRequest, kMultibulk},  // 2^32 + 1
      {"*2147483648\r\n", ErrorCode::kBadRequest, kMultibulk},                // INT_MAX + 1
      {"*99999999999999999999\r\n", ErrorCode::kBadRequest, kMultibulk},
      // Redis waits for the header's '\r' up to its inline limit (64 KiB), and says so then.
      {"*" + std::string(70000, '1'), ErrorCode::kBadRequest, "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(70000, '1'), ErrorCode::kBadRequest, "Protocol error: too big bulk count string"},
      {"*1\r\n$x\r\n", ErrorCode::kBadRequest, kBulk},
      {"*1\r\n$\r\n", ErrorCode::kBadRequest, kBulk},
      {"*1\r\n$-1\r\n", ErrorCode::kBadRequest, kBulk},
      {"*1\r\n$-2\r\n", ErrorCode::kBadRequest, kBulk},
      {"*1\r\n$99999999999999999999\r\n", ErrorCode::kBadRequest, kBulk},
      {"*1\r\n:5\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got ':'"},
      {"*1\r\n:x\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got ':'"},
      {"*1\r\n+OK\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '+'"},
      {"*1\r\n-ERR\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '-'"},
      {"*1\r\n*1\r\n$1\r\na\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '*'"},
      {"*1\r\n*-1\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '*'"},
      {"*1\r\n*x\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '*'"},
      {"*1\r\n?x\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got '?'"},
      {"*2\r\n$1\r\na\r\nPING\r\n", ErrorCode::kBadRequest, "Protocol error: expected '$', got 'P'"},
      {"set \"abc\r\n", ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request"},
      {"set \"a\"b\r\n", ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request"},
      {"set 'abc\r\n", ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request"},
      // As in Redis, a quote inside a word opens a quoted piece that must end the word.
      {"call m {\"id\":7}\r\n", ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request"},
      {"set \"abc\\\"\r\n", ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto codec = rpcgate::codec::resp::make_server_codec({});
    Request request;
    Response reply;
    DecodeResult r = codec->decode(c.input, request, reply);
    REQUIRE(r.status == DecodeStatus::kBroken);
    CHECK(r.consumed == 0);
    CHECK(reply.error == c.code);
    CHECK(reply.message == c.message);
    CHECK(reply.close_after);
    std::string wire = encode(*codec, reply);
    CHECK(wire == "-" + std::string(rpcgate::error_code_name(c.code)) + " " + c.message + "\r\n");
    // Broken stays broken: the stream cannot be resynchronised.
    Response again;
    CHECK(codec->decode(c.input, request, again).status == DecodeStatus::kBroken);
    CHECK(again.message == c.message);
  }
}

TEST_CASE("incomplete frames need more and consume nothing") {
  for (std::string input :
       {"*"s, "*1"s, "*1\r"s, "*1\r\n"s, "*1\r\n$"s, "*1\r\n$4\r\n"s, "*1\r\n$4\r\nPI"s, "*1\r\n$4\r\nPING"s,
        "*1\r\n$4\r\nPING\r"s, "PI"s, "PING\r"s, "\r"s, "\r\n"s, "\n\n"s, "*0\r\n"s, "*-1\r\n"s, "   \r\n"s}) {
    CAPTURE(input);
    Decoded d = decode_once(input);
    CHECK(d.result.status == DecodeStatus::kNeedMore);
    CHECK(d.result.consumed == 0);
  }
}

TEST_CASE("empty commands are skipped and counted in the next command's consumed bytes") {
  // Redis skips any count of zero or less: `*-10` then PING answers PONG.
  for (std::string prefix : {"\r\n"s, "\n"s, "  \r\n\r\n"s, "*0\r\n"s, "*-1\r\n"s, "*-5\r\n"s, "*-10\r\n"s,
                             "*-9223372036854775808\r\n"s, "*0\r\n\r\n*-1\r\n"s}) {
    CAPTURE(prefix);
    std::string input = prefix + resp_command({"PING"});
    Decoded d = decode_once(input);
    CHECK(d.result.status == DecodeStatus::kRequest);
    CHECK(d.result.consumed == input.size());
    CHECK(d.request.method == "ping");
  }
}

TEST_CASE("pipelined commands decode one at a time with exact consumed counts") {
  std::vector<std::string> frames = {
      resp_command({"PING"}), "ping hello\r\n", resp_command({"set", "k", "v"}), "\r\n", "get k\n",
      resp_command({"QUIT"})};
  std::string stream;
  for (const auto& f : frames) stream += f;
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  std::vector<std::string> methods;
  std::vector<size_t> consumed;
  while (!stream.empty()) {
    DecodeResult r = codec->decode(stream, request, reply);
    REQUIRE(r.status != DecodeStatus::kBroken);
    if (r.status == DecodeStatus::kNeedMore) break;
    methods.push_back(r.status == DecodeStatus::kRequest ? request.method : "<answered>");
    consumed.push_back(r.consumed);
    stream.erase(0, r.consumed);
  }
  CHECK(stream.empty());
  CHECK(methods == std::vector<std::string>{"ping", "ping", "set", "get", "<answered>"});
  CHECK(consumed == std::vector<size_t>{frames[0].size(), frames[1].size(), frames[2].size(),
                                        frames[3].size() + frames[4].size(), frames[5].size()});
  CHECK(reply.close_after);
}

TEST_CASE("bulk length limit at N and N+1, refused on the header") {
  CodecOptions options;
  options.limits.max_frame_bytes = 10;
  Decoded ok = decode_once(resp_command({"echo", "0123456789"}), options);
  CHECK(ok.result.status == DecodeStatus::kRequest);
  CHECK(ok.request.params == "0123456789");
  Decoded whole = decode_once(resp_command({"echo", "0123456789A"}), options);
  CHECK(whole.result.status == DecodeStatus::kBroken);
  CHECK(whole.reply.error == ErrorCode::kTooLarge);
  CHECK(whole.reply.message == "bulk length 11 exceeds the limit of 10");
  // Only the header has arrived: refused at once, not after buffering the body.
  Decoded header = decode_once("*2\r\n$4\r\necho\r\n$11\r\n", options);
  CHECK(header.result.status == DecodeStatus::kBroken);
  CHECK(header.reply.message == whole.reply.message);
  // A header announcing 4 EiB does not make the codec wait for it.
  Decoded huge = decode_once("*1\r\n$4611686018427387904\r\n");
  CHECK(huge.result.status == DecodeStatus::kBroken);
  CHECK(huge.reply.error == ErrorCode::kTooLarge);
}

TEST_CASE("array element limit at N and N+1, refused on the header") {
  CodecOptions options;
  options.limits.max_elements = 3;
  CHECK(decode_once(resp_command({"a", "b", "c"}), options).result.status == DecodeStatus::kRequest);
  Decoded over = decode_once("*4\r\n", options);
  CHECK(over.result.status == DecodeStatus::kBroken);
  CHECK(over.reply.error == ErrorCode::kTooLarge);
  CHECK(over.reply.message == "multibulk length 4 exceeds the limit of 3");
  CHECK(decode_once("a b c\r\n", options).result.status == DecodeStatus::kRequest);
  Decoded inline_over = decode_once("a b c d\r\n", options);
  CHECK(inline_over.result.status == DecodeStatus::kBroken);
  CHECK(inline_over.reply.error == ErrorCode::kTooLarge);
  // The default limit: 1M elements announced is fine to wait for, INT_MAX is not.
  CHECK(decode_once("*1048576\r\n").result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("*1048577\r\n").reply.error == ErrorCode::kTooLarge);
}

TEST_CASE("request byte limit at N and N+1") {
  const std::string frame = resp_command({"set", "key", "value"});
  CodecOptions options;
  options.limits.max_request_bytes = frame.size();
  Decoded ok = decode_once(frame, options);
  CHECK(ok.result.status == DecodeStatus::kRequest);
  CHECK(ok.result.consumed == frame.size());
  // Two whole frames over the limit together are fine: the limit is per command.
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  std::string two = frame + frame;
  Request request;
  Response reply;
  DecodeResult r = codec->decode(two, request, reply);
  CHECK(r.status == DecodeStatus::kRequest);
  two.erase(0, r.consumed);
  CHECK(codec->decode(two, request, reply).status == DecodeStatus::kRequest);

  options.limits.max_request_bytes = frame.size() - 1;
  Decoded over = decode_once(frame, options);
  CHECK(over.result.status == DecodeStatus::kBroken);
  CHECK(over.reply.error == ErrorCode::kTooLarge);
  CHECK(over.reply.message == "request larger than " + std::to_string(frame.size() - 1) + " bytes");
  // N buffered bytes of an unfinished command wait; N+1 are refused.
  Decoded waiting = decode_once(frame.substr(0, frame.size() - 1), options);
  CHECK(waiting.result.status == DecodeStatus::kNeedMore);
  // Same for inline commands and for blank lines piling up before a command.
  CodecOptions small;
  small.limits.max_request_bytes = 8;
  CHECK(decode_once("get abc\n", small).result.status == DecodeStatus::kRequest);
  CHECK(decode_once("get abcd\n", small).reply.error == ErrorCode::kTooLarge);
  CHECK(decode_once("\r\n\r\n\r\n\r\n", small).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("\r\n\r\n\r\n\r\n\r", small).reply.error == ErrorCode::kTooLarge);
}

TEST_CASE("inline line limit at N and N+1") {
  CodecOptions options;
  options.limits.max_inline_bytes = 10;
  const std::string ten = "echo 12345";  // 10 bytes
  for (std::string end : {"\r\n"s, "\n"s}) {
    CAPTURE(end);
    Decoded ok = decode_once(ten + end, options);
    CHECK(ok.result.status == DecodeStatus::kRequest);
    CHECK(ok.request.params == 12345);
    Decoded over = decode_once(ten + "6" + end, options);
    CHECK(over.result.status == DecodeStatus::kBroken);
    CHECK(over.reply.error == ErrorCode::kTooLarge);
    CHECK(over.reply.message == "Protocol error: inline request longer than 10 bytes");
  }
  // Without a line end: N+1 bytes may still end in "\r", N+2 cannot be a short line.
  CHECK(decode_once(ten + "\r", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once(ten + "6", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once(ten + "67", options).reply.error == ErrorCode::kTooLarge);
}

TEST_CASE("HELLO answers a server map and negotiates the protocol") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  std::string hello = resp_command({"HELLO"});
  DecodeResult r = codec->decode(hello, request, reply);
  REQUIRE(r.status == DecodeStatus::kAnswered);
  CHECK(r.consumed == hello.size());
  CHECK(encode(*codec, reply) ==
        "*14\r\n$6\r\nserver\r\n$7\r\nrpcgate\r\n$7\r\nversion\r\n$5\r\n0.1.0\r\n$5\r\nproto\r\n:2\r\n"
        "$2\r\nid\r\n:0\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
        "$7\r\nmodules\r\n*0\r\n");

  std::string bad = resp_command({"HELLO", "4"});
  r = codec->decode(bad, request, reply);
  CHECK(r.status == DecodeStatus::kAnswered);
  CHECK(encode(*codec, reply) == "-BAD_REQUEST NOPROTO unsupported protocol version\r\n");
  r = codec->decode(resp_command({"HELLO", "x"}), request, reply);
  CHECK(reply.error == ErrorCode::kBadRequest);
  r = codec->decode(resp_command({"HELLO", "3", "BOGUS"}), request, reply);
  CHECK(reply.error == ErrorCode::kBadRequest);

  r = codec->decode(resp_command({"hello", "3", "AUTH", "default", "pw", "SETNAME", "cli"}), request, reply);
  CHECK(r.status == DecodeStatus::kAnswered);
  CHECK_FALSE(reply.is_error());
  std::string wire = encode(*codec, reply);
  CHECK(wire.rfind("%7\r\n$6\r\nserver\r\n", 0) == 0);
  CHECK(wire.find("$5\r\nproto\r\n:3\r\n") != std::string::npos);
  codec->decode(resp_command({"CLIENT", "GETNAME"}), request, reply);
  CHECK(reply.result == "cli");
  // HELLO without a version reports the protocol in force.
  codec->decode(resp_command({"HELLO"}), request, reply);
  CHECK(encode(*codec, reply).find("$5\r\nproto\r\n:3\r\n") != std::string::npos);
}

TEST_CASE("QUIT answers +OK and closes after") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  DecodeResult r = codec->decode("quit\r\n", request, reply);
  CHECK(r.status == DecodeStatus::kAnswered);
  CHECK(reply.close_after);
  CHECK(encode(*codec, reply) == "+OK\r\n");
}

TEST_CASE("COMMAND, CLIENT and SELECT are answered for client start-up") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  struct Case {
    std::string input;
    std::string wire;
  };
  const std::vector<Case> cases = {
      {resp_command({"COMMAND"}), "*0\r\n"},
      {resp_command({"COMMAND", "DOCS"}), "*0\r\n"},
      {resp_command({"command", "docs", "get"}), "*0\r\n"},
      {resp_command({"COMMAND", "COUNT"}), ":0\r\n"},
      {resp_command({"COMMAND", "INFO", "get", "set"}), "*2\r\n$-1\r\n$-1\r\n"},
      {resp_command({"COMMAND", "LIST"}), "*0\r\n"},
      {resp_command({"CLIENT", "GETNAME"}), "$-1\r\n"},
      {resp_command({"CLIENT", "SETNAME", "worker-1"}), "+OK\r\n"},
      {resp_command({"client", "getname"}), "$8\r\nworker-1\r\n"},
      {resp_command({"CLIENT", "SETNAME", "a b"}),
       "-BAD_REQUEST Client names cannot contain spaces, newlines or special characters.\r\n"},
      {resp_command({"CLIENT", "ID"}), ":0\r\n"},
      {resp_command({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n"},
      {resp_command({"CLIENT", "SETNAME"}), "-BAD_REQUEST wrong number of arguments for 'client|setname' command\r\n"},
      {resp_command({"CLIENT", "KILL", "x"}), "-BAD_REQUEST unknown or unsupported CLIENT subcommand 'KILL'\r\n"},
      {resp_command({"SELECT", "0"}), "+OK\r\n"},
      {resp_command({"SELECT", "1"}), "-BAD_REQUEST DB index is out of range\r\n"},
      {resp_command({"SELECT", "x"}), "-BAD_REQUEST value is not an integer or out of range\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    Request request;
    Response reply;
    DecodeResult r = codec->decode(c.input, request, reply);
    REQUIRE(r.status == DecodeStatus::kAnswered);
    CHECK(r.consumed == c.input.size());
    CHECK_FALSE(reply.close_after);
    CHECK(encode(*codec, reply) == c.wire);
  }
}

TEST_CASE("a reply or request object reused across decodes carries nothing over") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  codec->decode(resp_command({"set", "k", "v"}), request, reply);
  codec->decode(resp_command({"QUIT"}), request, reply);
  CHECK(reply.close_after);
  DecodeResult r = codec->decode(resp_command({"PING"}), request, reply);
  CHECK(r.status == DecodeStatus::kRequest);
  CHECK(request.method == "ping");
  CHECK(request.params.is_null());
  r = codec->decode(resp_command({"SELECT", "0"}), request, reply);
  CHECK_FALSE(reply.close_after);
  CHECK(reply.status == "OK");
}

TEST_CASE("limits as large as size_t allows do not wrap around") {
  CodecOptions options;
  options.limits.max_frame_bytes = SIZE_MAX;
  options.limits.max_request_bytes = SIZE_MAX;
  options.limits.max_elements = SIZE_MAX;
  options.limits.max_inline_bytes = SIZE_MAX;
  options.limits.max_depth = SIZE_MAX;
  CHECK(decode_once(resp_command({"echo", "x"}), options).request.params == "x");
  CHECK(decode_once("echo [[1]]\r\n", options).request.params == Json::parse("[[1]]"));
  CHECK(decode_once("echo x", options).result.status == DecodeStatus::kNeedMore);
  CHECK(decode_once("*1\r\n$100\r\n", options).result.status == DecodeStatus::kNeedMore);
}

TEST_CASE("as in Redis: the two bytes after a bulk are taken for its CRLF unread, a long header waits") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  Request request;
  Response reply;
  DecodeResult r = codec->decode("*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n", request, reply);
  REQUIRE(r.status == DecodeStatus::kRequest);
  CHECK(request.method == "ping");
  CHECK(r.consumed == 14);
  // A count or length line with no '\r' yet is awaited, not refused, below 64 KiB.
  // And so is the line of an argument that is no bulk: judged once its '\r' is in.
  for (const char* header : {"*1234567890123456789012345", "*1\r\n$1234567890123456789012", "*1\r\n:", "*1\r\n*",
                             "*1\r\n+PI", "*1\r\n?x\r"}) {
    auto fresh = rpcgate::codec::resp::make_server_codec({});
    CHECK(fresh->decode(header, request, reply).status == DecodeStatus::kNeedMore);
  }
}

TEST_CASE("as in Redis: an inline line with a NUL before its end never ends") {
  rpcgate::codec::CodecOptions options;
  options.limits.max_inline_bytes = 64;
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  Request request;
  Response reply;
  std::string stream = std::string("\0\x01\x02\r\nPING\r\n", 11);
  CHECK(codec->decode(stream, request, reply).status == DecodeStatus::kNeedMore);
  stream += std::string(100, 'x') + "\r\n";
  CHECK(codec->decode(stream, request, reply).status == DecodeStatus::kBroken);
}

TEST_CASE("HTTP on the RESP port hangs up at once, with no reply, as Redis does") {
  for (const char* first :
       {"POST / HTTP/1.1\r\n", "Host: example.com\r\n", "*1\r\n$4\r\npost\r\n", "*2\r\n$5\r\nHOST:\r\n$1\r\nx\r\n"}) {
    CAPTURE(first);
    auto codec = rpcgate::codec::resp::make_server_codec({});
    Request request;
    Response reply;
    DecodeResult r = codec->decode(first, request, reply);
    CHECK(r.status == DecodeStatus::kHangUp);
    CHECK(r.consumed == 0);
  }
}
