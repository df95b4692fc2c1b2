// The client's reader for RESP2 replies from an upstream (a real Redis): hiredis parses, our
// object functions check the limits and record the reply as a flat list of nodes pointing into
// the caller's input; the JSON value is built once the reply is whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/hiredis_feed.h"

namespace rpcgate::codec::resp {

class ReplyReader {
 public:
  explicit ReplyReader(const Limits& limits);
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  enum class Outcome : uint8_t { kReply, kNeedMore, kError };
  struct Result {
    Outcome outcome = Outcome::kNeedMore;
    size_t end = 0;  // after kReply: where the reply ends in the input
    ErrorCode code = ErrorCode::kNone;
    std::string_view message;  // valid until the next call
  };

  // `input` follows the ClientCodec::decode contract; no byte at or past `window` is read.
  Result read(std::string_view input, size_t window);

  // After kReply: fills `response` (cleared first) from the reply read from `input`.
  void build(std::string_view input, Response& response) const;

  size_t fed() const { return feed_.fed(); }

  // The caller consumed `n` bytes: the reply just built.
  void consume(size_t n);

 private:
  // One item of the reply, in the order hiredis meets them (an array before its elements).
  struct Node {
    int type;         // REDIS_REPLY_*
    int64_t integer;  // INTEGER: the value; ARRAY: the element count
    size_t offset;    // STRING / STATUS / ERROR: the text, as a span of the input
    size_t length;
  };

  static void* on_string(const redisReadTask* task, char* str, size_t len);
  static void* on_array(const redisReadTask* task, int elements);
  static void* on_integer(const redisReadTask* task, long long value);
  static void* on_nil(const redisReadTask* task);

  void* add(Node node);
  void* fail(ErrorCode code, std::string message);
  bool check_stall(size_t& want);
  void classify_reader_error();
  Result error_result();
  size_t build_value(std::string_view input, size_t index, Json& out) const;

  static redisReplyObjectFunctions functions_;

  Limits limits_;
  HiredisFeed feed_;
  std::vector<Node> nodes_;
  ErrorCode error_code_ = ErrorCode::kNone;
  std::string error_message_;
};

}  // namespace rpcgate::codec::resp
