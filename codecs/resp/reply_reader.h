// The client's reader for RESP2 replies from an upstream (a real Redis): hiredis parses, our
// object functions check the limits and record the reply as a flat list of nodes pointing into
// the caller's input; the JSON value is built once the reply is whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/hiredis_reader.h"

namespace rpcgate::codec::resp {

class ReplyReader : public HiredisReader<ReplyReader> {
 public:
  explicit ReplyReader(const Limits& limits) : HiredisReader(limits) {}

  enum class Outcome : uint8_t { kReply, kNeedMore, kError };
  using Result = ReaderResult<Outcome>;  // after kReply, `end` is where the reply ends

  // `input` follows the ClientCodec::decode contract; no byte at or past `window` is read.
  Result read(std::string_view input, size_t window);

  // After kReply: fills `response` (cleared first) from the reply read from `input`.
  void build(std::string_view input, Response& response) const;

  // The caller consumed `n` bytes: the reply just built.
  void consume(size_t n);

 private:
  friend class HiredisReader<ReplyReader>;

  // One item of the reply, in the order hiredis meets them (an array before its elements).
  struct Node {
    int type;         // REDIS_REPLY_*
    int64_t integer;  // INTEGER: the value; ARRAY: the element count
    size_t offset;    // STRING / STATUS / ERROR: the text, as a span of the input
    size_t length;
  };

  void* on_string(const redisReadTask* task, char* str, size_t len);
  void* on_array(const redisReadTask* task, int elements);
  void* on_integer(const redisReadTask* task, long long value);
  void* on_nil(const redisReadTask* task);
  bool check_stall(const HiredisFeed::Pending& pending, size_t& want);
  void classify_reader_error();

  void* add(Node node);
  size_t build_value(std::string_view input, size_t index, Json& out) const;

  std::vector<Node> nodes_;
};

}  // namespace rpcgate::codec::resp
