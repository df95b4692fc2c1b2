// What the two RESP readers over hiredis share: the loop that feeds and runs the reader (in
// chunks, never past a window), the first error recorded, and the checks on a bulk string. Each
// reader adds what it accepts (a command's bulks, or any reply) and its own checks, through
// static calls (CRTP): hiredis calls back per item, and a stalled reader is judged per read.
#pragma once

#include <hiredis/read.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "codecs/codec.h"
#include "codecs/resp/hiredis_feed.h"
#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {

// Redis's wording, used by both sides.
inline constexpr std::string_view kInvalidBulk = "Protocol error: invalid bulk length";
inline constexpr std::string_view kInvalidMultibulk = "Protocol error: invalid multibulk length";

// What one read() found. Each reader names its own outcomes, kNeedMore and kError among them.
template <typename Outcome>
struct ReaderResult {
  Outcome outcome = Outcome::kNeedMore;
  size_t end = 0;                     // after a whole item: where it ends in the input
  ErrorCode code = ErrorCode::kNone;  // after kError
  std::string_view message;           // after kError; valid until the next call
};

// `Reader` derives from HiredisReader<Reader>, befriends it and provides:
//   void* on_string(const redisReadTask*, char* str, size_t len);   hiredis's object functions:
//   void* on_array(const redisReadTask*, int elements);             a non-null tag to go on, or
//   void* on_integer(const redisReadTask*, long long value);        fail(...) to stop the reader
//   void* on_nil(const redisReadTask*);
//   bool check_stall(const HiredisFeed::Pending&, size_t& want);    judge the item the reader
//                                                                   waits for (false: failed)
//   void classify_reader_error();  reword an error hiredis found itself, through fail()
template <typename Reader>
class HiredisReader {
 public:
  HiredisReader(const HiredisReader&) = delete;
  HiredisReader& operator=(const HiredisReader&) = delete;

  // Bytes of the current input the reader has been fed.
  size_t fed() const { return feed_.fed(); }
  const Limits& limits() const { return limits_; }

 protected:
  enum class Step : uint8_t { kReply, kNeedMore, kError };

  explicit HiredisReader(const Limits& limits) : limits_(limits) {}
  ~HiredisReader() = default;

  // Feeds input[fed, window) and runs the reader: kReply once an item is whole, kNeedMore once
  // everything up to `window` is fed and it is not, kError once fail() recorded why.
  Step drive(std::string_view input, size_t window) {
    if (!feed_.acquire(&functions_, this)) {
      fail(ErrorCode::kInternal, "cannot create the RESP reader");
      return Step::kError;
    }
    size_t want = 0;
    for (;;) {
      feed_.feed_more(input, window, want);
      switch (feed_.get_reply()) {
        case HiredisFeed::Step::kReply:
          return Step::kReply;
        case HiredisFeed::Step::kError:
          if (error_code_ == ErrorCode::kNone) self().classify_reader_error();
          return Step::kError;
        case HiredisFeed::Step::kStall:
          break;
      }
      want = 0;
      if (!self().check_stall(feed_.pending(), want)) return Step::kError;
      if (feed_.fed() >= window) return Step::kNeedMore;
    }
  }

  // A read()'s result after `step`: `whole` with the item's end, kNeedMore, or kError with the
  // reason recorded.
  template <typename Outcome>
  ReaderResult<Outcome> result_of(Step step, Outcome whole) const {
    ReaderResult<Outcome> result;
    switch (step) {
      case Step::kReply:
        result.outcome = whole;
        result.end = feed_.unconsumed_start();
        break;
      case Step::kNeedMore:
        break;
      case Step::kError:
        result.outcome = Outcome::kError;
        result.code = error_code_;
        result.message = error_message_;
        break;
    }
    return result;
  }

  // Records the first reason to refuse the stream. Returns nullptr for an object function to
  // return: hiredis then reports "Out of memory", and error_code_ holds the real reason.
  void* fail(ErrorCode code, std::string message) {
    if (error_code_ == ErrorCode::kNone) {
      error_code_ = code;
      error_message_ = std::move(message);
    }
    return nullptr;
  }

  static std::string too_large(const char* what, uint64_t value, size_t limit) {
    return std::string(what) + " " + std::to_string(value) + " exceeds the limit of " + std::to_string(limit);
  }

  // The header line of an item the reader waits behind (`*<count>`, `:<integer>`): refused with
  // `code` and `message` as soon as it can no longer become an integer.
  bool check_header_line(std::string_view rest, ErrorCode code, std::string_view message) {
    if (read_header_line(rest).state != HeaderLine::State::kInvalid) return true;
    fail(code, std::string(message));
    return false;
  }

  // The `$<length>` header of a bulk the reader waits behind: refused when malformed (with
  // `invalid`) or over max_frame_bytes. Sets `want` to the bytes the bulk still lacks, so that
  // they are fed in one go.
  bool check_bulk_header(std::string_view rest, ErrorCode invalid, size_t& want) {
    const HeaderLine header = read_header_line(rest);
    if (header.state == HeaderLine::State::kIncomplete) return true;
    // hiredis answers `$-1` at once; a negative length is refused here for safety.
    if (header.state == HeaderLine::State::kInvalid || header.value < 0) {
      fail(invalid, std::string(kInvalidBulk));
      return false;
    }
    const auto length = static_cast<uint64_t>(header.value);
    if (length > limits_.max_frame_bytes) {
      fail(ErrorCode::kTooLarge, too_large("bulk length", length, limits_.max_frame_bytes));
      return false;
    }
    const size_t item = header.length + static_cast<size_t>(length) + 2;
    if (item > rest.size()) want = item - rest.size();
    return true;
  }

  // A whole bulk, in an object function: refused when over max_frame_bytes, or (with `invalid`,
  // for replies) when CRLF does not follow it. hiredis skips those two bytes without looking,
  // and so does Redis in a command; an upstream whose bulks are not followed by CRLF is out of
  // step, so its replies stop rather than be misread.
  bool check_bulk(const char* str, size_t len, ErrorCode invalid, bool crlf_checked = true) {
    if (len > limits_.max_frame_bytes) {
      fail(ErrorCode::kTooLarge, too_large("bulk length", len, limits_.max_frame_bytes));
      return false;
    }
    if (crlf_checked && (str[len] != '\r' || str[len + 1] != '\n')) {
      fail(invalid, "Protocol error: bulk string not followed by CRLF");
      return false;
    }
    return true;
  }

  Limits limits_;
  HiredisFeed feed_;
  ErrorCode error_code_ = ErrorCode::kNone;
  std::string error_message_;

 private:
  Reader& self() { return static_cast<Reader&>(*this); }
  // privdata is this base; the reader is the object it is part of.
  static Reader& reader(const redisReadTask* task) {
    return static_cast<Reader&>(*static_cast<HiredisReader*>(task->privdata));
  }
  static void* string_fn(const redisReadTask* task, char* str, size_t len) {
    return reader(task).on_string(task, str, len);
  }
  static void* array_fn(const redisReadTask* task, int elements) { return reader(task).on_array(task, elements); }
  static void* integer_fn(const redisReadTask* task, long long value) { return reader(task).on_integer(task, value); }
  static void* nil_fn(const redisReadTask* task) { return reader(task).on_nil(task); }

  static inline redisReplyObjectFunctions functions_ = {
      &string_fn, &array_fn, &integer_fn, &nil_fn,
      nullptr,  // nothing to free: objects are tags; a reader keeps what it records itself
  };
};

}  // namespace rpcgate::codec::resp
