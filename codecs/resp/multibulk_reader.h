// The server's reader for RESP arrays of bulk strings (what clients send): hiredis parses, our
// object functions enforce the request limits and record every argument as a span of the
// caller's input. No reply objects are allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/arg_span.h"
#include "codecs/resp/hiredis_reader.h"

namespace rpcgate::codec::resp {

class MultibulkReader : public HiredisReader<MultibulkReader> {
 public:
  explicit MultibulkReader(const Limits& limits) : HiredisReader(limits) {}

  enum class Outcome : uint8_t {
    kFrame,     // a whole command; args() holds its arguments, `end` is the frame's end
    kEmpty,     // `*0` or `*-1`: nothing to run; skip to `end`, as Redis does
    kNeedMore,  // everything up to the window is fed and the command is not whole yet
    kError,     // `code` and `message` say why; the stream cannot be resynchronised
  };
  using Result = ReaderResult<Outcome>;

  // `input` follows the ServerCodec::decode contract; the command starts at input[start] (a
  // '*') and no byte at or past `window` is read. The reader must hold nothing before `start`.
  Result read(std::string_view input, size_t start, size_t window);

  // After kFrame: the arguments, as spans of the input given to read().
  const std::vector<ArgSpan>& args() const { return args_; }

  // The caller consumed `n` bytes of input, ending at a frame boundary. When that was all it
  // was fed (the usual end of a read), the hiredis reader goes back to the thread's spares, so
  // an idle connection holds none.
  void consume(size_t n) {
    feed_.consume(n);
    feed_.release_if_idle();
  }

  // At a frame boundary the next frame is an inline command: forget fed bytes and continue
  // feeding at input offset `at` (after that command).
  void discard(size_t at) { feed_.discard(at); }

 private:
  friend class HiredisReader<MultibulkReader>;

  void* on_string(const redisReadTask* task, char* str, size_t len);
  void* on_array(const redisReadTask* task, int elements);
  void* on_integer(const redisReadTask* task, long long value);
  void* on_nil(const redisReadTask* task);
  bool check_stall(const HiredisFeed::Pending& pending, size_t& want);
  void classify_reader_error();

  void* fail_not_bulk(char type);
  void reset_frame();

  std::string_view input_;  // the current read()'s input, for the object functions
  size_t start_ = 0;        // where the current command starts in input_
  // Per command:
  std::vector<ArgSpan> args_;
  bool root_created_ = false;
  bool empty_ = false;
};

}  // namespace rpcgate::codec::resp
