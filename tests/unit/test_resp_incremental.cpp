// RESP server decoding is a pure incremental function: however a stream is cut into reads (one
// byte at a time, at every split point, at random), the sequence of decode results is the one
// the whole stream gives. Includes long pipelines that make hiredis trim its buffer.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace std::string_literals;
using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;
namespace test = rpcgate::test;
using rpcgate::test::resp_command;

namespace {

struct Run {
  std::string events;  // one line per non-NeedMore result
  std::vector<Request> requests;
  size_t left = 0;  // bytes never consumed
};

// Feeds `stream` the way the gateway does, in `reads`; every result is encoded back.
Run run(std::string_view stream, const test::Reads& reads, const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  Run result;
  test::Fed fed =
      test::feed_server(*codec, stream, reads, [&](DecodeResult r, const Request& request, const Response& reply) {
        result.events += std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) + " ";
        std::string out;
        if (r.status == DecodeStatus::kRequest) {
          result.events += request.method + " " + request.params.dump();
          Response echo;
          echo.result = request.params;
          codec->encode(echo, out);
          result.requests.push_back(request);
        } else {
          codec->encode(reply, out);
        }
        result.events += " -> " + out + "\n";
      });
  REQUIRE(fed.breach == "");
  result.left = fed.left;
  return result;
}

// Whole, byte at a time, at every split point and in random reads: the same results.
void check_all_splits(const std::string& stream, const CodecOptions& options = {}) {
  CAPTURE(stream);
  std::vector<test::Reads> cuts = test::every_split(stream.size());
  std::mt19937 random(static_cast<unsigned>(stream.size()));
  for (int round = 0; round < 20; ++round) {
    test::Reads reads;
    for (int i = 0; i < 64; ++i) reads.push_back(1 + random() % 9);
    cuts.push_back(reads);
  }
  CHECK(test::first_difference(stream, cuts, [&](std::string_view s, const test::Reads& reads) {
          Run r = run(s, reads, options);
          return r.events + "left " + std::to_string(r.left) + "\n";
        }) == "");
}

}  // namespace

TEST_CASE("valid pipelines give the same results however they are split") {
  const std::vector<std::string> streams = {
      resp_command({"PING"}) + resp_command({"ping", "hello"}) + resp_command({"set", "k", "v"}),
      "PING\r\nping hello\nset \"a b\" 'c'\r\n\r\n" + resp_command({"get", "k"}) + "get k\r\n",
      "\r\n*0\r\n*-1\r\n" + resp_command({"echo", ""}) + "\n  \n" + resp_command({"echo", "\xff\x00"s}),
      resp_command({"call", "user.get", "{\"id\": [1, 2.5, null]}"}) + resp_command({"HELLO", "3"}) +
          resp_command({"PING"}) + resp_command({"CLIENT", "SETNAME", "x"}) + resp_command({"QUIT"}),
      resp_command({"a"}) + "b\r\n" + resp_command({"c"}) + "d\n" + resp_command({"e", "f"}),
  };
  for (const auto& stream : streams) check_all_splits(stream);
}

TEST_CASE("malformed streams break at the same place however they are split") {
  const std::string prefix = resp_command({"PING"}) + "ping x\r\n";
  for (std::string bad :
       {"*x\r\n"s, "*-5\r\n"s, "*4294967297\r\n"s, "*1\r\n$x\r\n"s, "*1\r\n$-1\r\n"s, "*1\r\n:5\r\n"s,
        "*1\r\n:abc\r\n"s, "*1\r\n+OK\r\n"s, "*1\r\n*1\r\n$1\r\na\r\n"s, "*1\r\n*x\r\n"s, "*1\r\n?\r\n"s,
        "*1\r\n$3\r\nabcXY"s, "*1\r\n$1234567890123456789012345\r\n"s, "*12345678901234567890123456\r\n"s,
        "*1\r\n:12345678901234567890123456\r\n"s, "set \"abc\r\n"s, "set \"a\"b\r\n"s, "*2\r\n$1\r\na\r\nPING\r\n"s}) {
    check_all_splits(prefix + bad + resp_command({"PING"}));
  }
}

TEST_CASE("limits give the same results however the stream is split") {
  CodecOptions options;
  options.limits.max_frame_bytes = 8;
  options.limits.max_elements = 3;
  options.limits.max_request_bytes = 40;
  options.limits.max_inline_bytes = 12;
  const std::string ok = resp_command({"echo", "12345678"}) + "echo 1234567\r\n";
  for (std::string bad :
       {resp_command({"echo", "123456789"}), resp_command({"a", "b", "c", "d"}), "echo 12345678\r\n"s,
        "echo 1234567890123\n"s, resp_command({"set", "12345678", "12345678"}), "*1\r\n$9\r\n"s, "*4\r\n"s,
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"s, "*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$100\r\n"s}) {
    check_all_splits(ok + bad + ok, options);
  }
}

TEST_CASE("long pipelines keep every argument intact across hiredis buffer trims") {
  // Values of many lengths, some far over hiredis's 1 KiB trim threshold and our 4 KiB feed chunk.
  std::vector<std::string> values;
  std::string stream;
  for (int i = 0; i < 300; ++i) {
    size_t length = (i % 7 == 0) ? 1500 + i * 13 : static_cast<size_t>(i % 50);
    std::string value;
    for (size_t j = 0; j < length; ++j) value.push_back(static_cast<char>('a' + (i + j) % 26));
    values.push_back(value);
    std::string key = "key:" + std::to_string(i);
    stream += (i % 5 == 4) ? "set " + key + " v" + value + "\r\n" : resp_command({"SET", key, "v" + value});
  }
  REQUIRE(stream.size() > 100000);
  for (size_t piece : {stream.size(), size_t{1}, size_t{7}, size_t{1000}, size_t{1023}, size_t{4096}, size_t{5000}}) {
    CAPTURE(piece);
    Run r = run(stream, {piece}, {});
    REQUIRE(r.requests.size() == values.size());
    CHECK(r.left == 0);
    for (size_t i = 0; i < values.size(); ++i) {
      CAPTURE(i);
      CHECK(r.requests[i].method == "set");
      CHECK(r.requests[i].params == Json::array({"key:" + std::to_string(i), "v" + values[i]}));
    }
  }
}

TEST_CASE("a bulk larger than the feed chunk arrives in one request") {
  std::string big(100000, 'x');
  big[0] = 'y';
  big.back() = 'z';
  std::string stream = resp_command({"echo", big}) + resp_command({"PING"});
  for (size_t piece : {stream.size(), size_t{3}, size_t{4095}, size_t{65536}}) {
    Run r = run(stream, {piece}, {});
    REQUIRE(r.requests.size() == 2);
    CHECK(r.requests[0].params == big);
    CHECK(r.requests[1].method == "ping");
  }
}
