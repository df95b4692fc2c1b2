// The server's reader for RESP arrays of bulk strings (what clients send): hiredis parses, our
// object functions enforce the request limits and record every argument as a span of the
// caller's input. No reply objects are allocated.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/arg_span.h"
#include "codecs/resp/hiredis_feed.h"

namespace rpcgate::codec::resp {

class MultibulkReader {
 public:
  explicit MultibulkReader(const Limits& limits);
  MultibulkReader(const MultibulkReader&) = delete;
  MultibulkReader& operator=(const MultibulkReader&) = delete;

  enum class Outcome : uint8_t {
    kFrame,     // a whole command; args() holds its arguments, `end` is the frame's end
    kEmpty,     // `*0` or `*-1`: nothing to run; skip to `end`, as Redis does
    kNeedMore,  // everything up to the window is fed and the command is not whole yet
    kError,     // `code` and `message` say why; the stream cannot be resynchronised
  };
  struct Result {
    Outcome outcome = Outcome::kNeedMore;
    size_t end = 0;
    ErrorCode code = ErrorCode::kNone;
    std::string_view message;  // valid until the next call
  };

  // `input` follows the ServerCodec::decode contract; the command starts at input[start] (a
  // '*') and no byte at or past `window` is read. The reader must hold nothing before `start`.
  Result read(std::string_view input, size_t start, size_t window);

  // After kFrame: the arguments, as spans of the input given to read().
  const std::vector<ArgSpan>& args() const { return args_; }

  // Bytes of the current input the reader has been fed.
  size_t fed() const { return feed_.fed(); }

  // The caller consumed `n` bytes of input, ending at a frame boundary.
  void consume(size_t n) { feed_.consume(n); }

  // At a frame boundary the next frame is an inline command: forget fed bytes and continue
  // feeding at input offset `at` (after that command).
  void discard(size_t at) { feed_.discard(at); }

 private:
  static void* on_string(const redisReadTask* task, char* str, size_t len);
  static void* on_array(const redisReadTask* task, int elements);
  static void* on_integer(const redisReadTask* task, long long value);
  static void* on_nil(const redisReadTask* task);

  void* fail(ErrorCode code, std::string message);
  void* fail_not_bulk(char type);
  void* string_element(const redisReadTask* task, const char* str, size_t len);
  void* root_array(int elements);
  bool check_stall(size_t& want);
  void classify_reader_error();
  Result error_result();
  void reset_frame();

  static redisReplyObjectFunctions functions_;

  Limits limits_;
  HiredisFeed feed_;
  std::string_view input_;  // the current read()'s input, for the object functions
  size_t start_ = 0;        // where the current command starts in input_
  // Per command:
  std::vector<ArgSpan> args_;
  bool root_created_ = false;
  bool empty_ = false;
  // Set by an object function that refuses the command, so the reader's "Out of memory" is
  // replaced by the real reason.
  ErrorCode error_code_ = ErrorCode::kNone;
  std::string error_message_;
};

}  // namespace rpcgate::codec::resp
