// Drives a hiredis 0.14 reader over the caller's input. This file is the only one that reads the
// reader's fields (buf, pos, len, ridx, rstack): they are public in 0.14's read.h, and they are
// what lets us see a `$N` header before hiredis has waited for N bytes.
#include "codecs/resp/hiredis_feed.h"

#include <algorithm>

namespace rpcgate::codec::resp {

HiredisFeed::HiredisFeed(redisReplyObjectFunctions* functions, void* privdata)
    : reader_(redisReaderCreateWithFunctions(functions)) {
  // Not redisReaderSetPrivdata: in 0.14 that macro casts the assignment's value to int.
  if (reader_ != nullptr) reader_->privdata = privdata;
}

HiredisFeed::~HiredisFeed() {
  if (reader_ != nullptr) redisReaderFree(reader_);
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
  reader_->pos = reader_->len;
  fed_ = at;
}

const char* HiredisFeed::error() const { return reader_->errstr; }

}  // namespace rpcgate::codec::resp
