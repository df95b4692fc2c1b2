// Drives a hiredis 0.14 reader over the caller's unconsumed input (the codec.h contract) and
// maps the reader's pointers back into that input, so parsed strings are views, not copies.
// The reader is held only while it is needed: taken when bytes are fed, and handed back, to be
// reused by another feed on the same thread, once it holds nothing the caller still needs.
#pragma once

#include <hiredis/read.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rpcgate::codec::resp {

// Why offsets and not pointers: the reader copies what it is fed into its own buffer, and
// redisReaderGetReply trims that buffer (sdsrange, a memmove) once 1 KiB of it is consumed,
// *after* the object functions ran and before it returns. A pointer handed to createString may
// therefore be stale by the time the reply is complete. The caller's input holds the same bytes
// at a fixed place, so each pointer is turned into an offset of the input while it is still
// valid (inside the object function) and read back from the input later.
//
// Offsets count from the start of the current input, i.e. from the first byte the caller has
// not consumed yet; consume() shifts them when the caller consumes a frame.
class HiredisFeed {
 public:
  HiredisFeed() = default;  // holds no reader yet: allocates nothing
  ~HiredisFeed();
  HiredisFeed(const HiredisFeed&) = delete;
  HiredisFeed& operator=(const HiredisFeed&) = delete;

  // Holds a reader from here on, until release_if_idle(): the one held already, or a spare one
  // of this thread, or a new one. `functions` must outlive the feed; `privdata` reaches every
  // object function as task->privdata. False when no reader could be created (out of memory).
  bool acquire(redisReplyObjectFunctions* functions, void* privdata);

  // Hands the reader back when it holds nothing the caller still needs: every byte fed was
  // consumed (fed() == 0) and no item is begun. A 10,000-connection server then holds readers
  // only for the connections part-way through a command, not one (560 bytes and its buffer)
  // per connection. Cheap: call it at every frame boundary.
  void release_if_idle();

  // Bytes of the current input handed to the reader so far.
  size_t fed() const { return fed_; }

  // Every call below but consume() and discard() needs a reader held (after acquire()).

  // Feeds input[fed, min(window, fed + max(kChunk, want))). Bounded chunks keep the reader's
  // buffer, and so the memmove it does on every trim, small however large the input is. No-op
  // when everything up to `window` is fed already.
  void feed_more(std::string_view input, size_t window, size_t want);

  enum class Step : uint8_t { kReply, kStall, kError };
  // Runs the reader over what it holds: a whole reply, a stall (it waits for more bytes), or
  // an error (see error()). The reply object itself is the object functions' business.
  Step get_reply();

  // Input offset of a pointer into the reader's buffer. Valid only inside an object function.
  size_t offset_of(const char* p) const { return base_offset_ + static_cast<size_t>(p - base_ptr_); }

  // Input offset of the first byte the reader has not consumed; after kReply, the reply's end.
  // Invariant under the reader's trimming, which drops only consumed bytes.
  size_t unconsumed_start() const;

  // After kStall: the item the reader is waiting for.
  struct Pending {
    int type = -1;          // REDIS_REPLY_* once its type byte is read, else -1
    int depth = 0;          // 0 for the root item, 1 for its elements, ...
    std::string_view rest;  // bytes the reader holds after that type byte (header, body part)
  };
  Pending pending() const;

  // The caller consumed `n` bytes of input (one whole frame, already parsed by the reader).
  void consume(size_t n) { fed_ -= n; }

  // At a frame boundary only: drop whatever the reader holds beyond it, and continue feeding
  // from input offset `at` (the server's inline path parses such bytes itself). Also without a
  // reader.
  void discard(size_t at);

  // The reader's error text after kError ("Bad bulk string length", "Out of memory", ...).
  const char* error() const;

  static constexpr size_t kChunk = 4096;

 private:
  redisReader* reader_ = nullptr;
  size_t fed_ = 0;
  const char* base_ptr_ = nullptr;  // reader buffer position at the start of get_reply()
  size_t base_offset_ = 0;          // input offset of base_ptr_
};

}  // namespace rpcgate::codec::resp
