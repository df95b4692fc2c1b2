// The server's reader for RESP arrays of bulk strings (what clients send), with Redis's own
// rules (processMultibulkBuffer in Redis's networking.c): every header waits for its '\r' (up
// to 64 KiB), is judged only then, and the two bytes after a bulk are taken for its CRLF
// unread. A client sees the same answer, at the same moment, as from Redis, however its bytes
// are cut. Arguments are spans of the caller's input; nothing is allocated per command.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/arg_span.h"

namespace rpcgate::codec::resp {

class CommandReader {
 public:
  explicit CommandReader(const Limits& limits) : limits_(limits) {}

  enum class Outcome : uint8_t {
    kFrame,     // a whole command; args() holds its arguments, `end` is the frame's end
    kEmpty,     // a count of zero or less (`*0`, `*-10`): nothing to run; skip to `end`, as Redis does
    kNeedMore,  // the command is not whole within the window yet
    kError,     // `code` and `message` say why; the stream cannot be resynchronised
  };
  struct Result {
    Outcome outcome = Outcome::kNeedMore;
    size_t end = 0;
    ErrorCode code = ErrorCode::kNone;
    std::string message;
  };

  // `input` follows the ServerCodec::decode contract; the command starts at input[start] (a
  // '*') and no byte at or past `window` is read. Goes on from where the last call stopped.
  Result read(std::string_view input, size_t start, size_t window);

  // After kFrame: the arguments, as spans of the input given to read().
  const std::vector<ArgSpan>& args() const { return args_; }
  const Limits& limits() const { return limits_; }

  // Bytes of the current input read so far (the contract's "handed before").
  size_t scanned() const { return at_; }
  // The caller consumed the frame read last, or an inline command took its place: the next
  // command starts afresh.
  void reset() {
    at_ = 0;
    count_left_ = -1;
    bulk_length_ = -1;
    args_.clear();  // keeps its capacity: no allocation per command in steady state
  }

 private:
  Result fail(ErrorCode code, std::string message);

  Limits limits_;
  size_t at_ = 0;             // input offset of the first item not yet read (0: none read)
  int64_t count_left_ = -1;   // arguments still to read; -1 before the `*<count>` line
  int64_t bulk_length_ = -1;  // the length of the bulk being waited for; -1 before its header
  std::vector<ArgSpan> args_;
};

}  // namespace rpcgate::codec::resp
