// Drives a hiredis 0.14 reader over the caller's input. This file is the only one that reads the
// reader's fields (buf, pos, len, ridx, rstack): they are public in 0.14's read.h, and they are
// what lets us see a `$N` header before hiredis has waited for N bytes.
#include "codecs/resp/hiredis_feed.h"

extern "C" {
#include <hiredis/sds.h>  // the reader's buffer (sdsclear, sdsalloc); a C header
}

#include <algorithm>

namespace rpcgate::codec::resp {
namespace {

// Readers that hold nothing, for the next feed on this thread that needs one. A server
// connection holds a reader only while it is part-way through the bytes it was fed (a command
// cut by the end of a read, the rest of a pipelined read), so a thread needs about as many
// readers as it has such connections at one moment, not one per connection.
//
// Per thread, because a codec is only ever used on its connection's loop thread. This is a
// cache of memory, not state: a spare is reset to what a new reader is (no byte, no item begun,
// no error), and its object functions and privdata are set again when it is taken, so no parse
// can tell a spare from a new reader.
class SpareReaders {
 public:
  SpareReaders() = default;
  SpareReaders(const SpareReaders&) = delete;
  SpareReaders& operator=(const SpareReaders&) = delete;
  ~SpareReaders() {
    while (count_ > 0) redisReaderFree(readers_[--count_]);
  }

  redisReader* take() { return count_ > 0 ? readers_[--count_] : nullptr; }

  // Takes `reader` (without an error) back, or frees it when enough are kept already or its
  // buffer grew large (it held a big command).
  void put(redisReader* reader) {
    if (count_ == kKeep || sdsalloc(reader->buf) > kKeepBufferBytes) {
      redisReaderFree(reader);
      return;
    }
    reader->ridx = -1;  // no item begun: the next get_reply starts one, with its owner's privdata
    reader->reply = nullptr;
    sdsclear(reader->buf);
    reader->pos = 0;
    reader->len = 0;
    readers_[count_++] = reader;
  }

 private:
  // More than the connections of one loop that stop part-way through a read at one moment, in
  // any load seen so far; past it, a reader costs an allocation, as every connection paid before.
  static constexpr size_t kKeep = 16;
  // hiredis's own bound on the unused buffer it keeps (REDIS_READER_MAX_BUF).
  static constexpr size_t kKeepBufferBytes = 16 * 1024;

  redisReader* readers_[kKeep];
  size_t count_ = 0;
};

thread_local SpareReaders spare_readers;

// True when `reader` holds no byte not yet parsed, no item begun and no error. A reader that
// stalled right at an item boundary has set up its root task without reading its type byte:
// that holds nothing either.
bool holds_nothing(const redisReader* reader) {
  return reader->err == 0 && reader->pos == reader->len &&
         (reader->ridx == -1 || (reader->ridx == 0 && reader->rstack[0].type < 0));
}

}  // namespace

HiredisFeed::~HiredisFeed() {
  if (reader_ == nullptr) return;
  // Whatever it holds is no longer anyone's: a reader without an error is as good as new once
  // reset.
  if (reader_->err == 0)
    spare_readers.put(reader_);
  else
    redisReaderFree(reader_);
}

bool HiredisFeed::acquire(redisReplyObjectFunctions* functions, void* privdata) {
  if (reader_ != nullptr) return true;
  reader_ = spare_readers.take();
  if (reader_ == nullptr) reader_ = redisReaderCreateWithFunctions(functions);
  if (reader_ == nullptr) return false;
  reader_->fn = functions;
  // Not redisReaderSetPrivdata: in 0.14 that macro casts the assignment's value to int.
  reader_->privdata = privdata;
  return true;
}

void HiredisFeed::release_if_idle() {
  if (reader_ == nullptr || fed_ != 0 || !holds_nothing(reader_)) return;
  spare_readers.put(reader_);
  reader_ = nullptr;
}

void HiredisFeed::feed_more(std::string_view input, size_t window, size_t want) {
  if (fed_ >= window) return;
  const size_t step = std::max(kChunk, want);
  const size_t target = window - fed_ > step ? fed_ + step : window;
  // A failed feed (out of memory) sets the reader's error; get_reply() reports it.
  if (redisReaderFeed(reader_, input.data() + fed_, target - fed_) == REDIS_OK) fed_ = target;
}

HiredisFeed::Step HiredisFeed::get_reply() {
  if (reader_->buf != nullptr) {  // null only after an error
    base_ptr_ = reader_->buf + reader_->pos;
    base_offset_ = fed_ - (reader_->len - reader_->pos);
  }
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) return Step::kError;
  return reply != nullptr ? Step::kReply : Step::kStall;
}

size_t HiredisFeed::unconsumed_start() const { return fed_ - (reader_->len - reader_->pos); }

HiredisFeed::Pending HiredisFeed::pending() const {
  Pending pending;
  if (reader_->ridx < 0 || reader_->buf == nullptr) return pending;
  pending.type = reader_->rstack[reader_->ridx].type;
  pending.depth = reader_->ridx;
  pending.rest = std::string_view(reader_->buf + reader_->pos, reader_->len - reader_->pos);
  return pending;
}

void HiredisFeed::discard(size_t at) {
  // Between replies the reader keeps no parse state but its buffer, so skipping its cursor to
  // the end forgets the bytes; its next trim reclaims them.
  if (reader_ != nullptr) reader_->pos = reader_->len;
  fed_ = at;
}

const char* HiredisFeed::error() const { return reader_->errstr; }

}  // namespace rpcgate::codec::resp
