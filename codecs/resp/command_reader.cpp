#include "codecs/resp/command_reader.h"

#include <algorithm>
#include <limits>

#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {
namespace {

constexpr int64_t kLargestCount = std::numeric_limits<int32_t>::max();  // Redis counts in an int

std::string too_large(const char* what, uint64_t value, size_t limit) {
  return std::string(what) + " " + std::to_string(value) + " exceeds the limit of " + std::to_string(limit);
}

// Where the header line starting at `from` has its '\r', looked for as Redis looks with strchr:
// not past a NUL byte. npos while it has none.
size_t find_cr(std::string_view window, size_t from) {
  const size_t end = window.find_first_of(std::string_view("\r\0", 2), from);
  return end != std::string_view::npos && window[end] == '\r' ? end : std::string_view::npos;
}

// A header line longer than the inline limit: Redis refuses it once that much has come without
// its '\r' (it reads 16 KiB at a time, so a longer line never arrives whole). Judged on the line
// whether or not its '\r' is in, so that the outcome is the same however the bytes are cut.
bool too_long(std::string_view window, size_t from, size_t cr, size_t limit) {
  return (cr == std::string_view::npos ? window.size() : cr) - from > limit;
}

}  // namespace

CommandReader::Result CommandReader::fail(ErrorCode code, std::string message) {
  reset();
  Result result;
  result.outcome = Outcome::kError;
  result.code = code;
  result.message = std::move(message);
  return result;
}

CommandReader::Result CommandReader::read(std::string_view input, size_t start, size_t window_end) {
  const std::string_view window = input.substr(0, window_end);
  if (at_ < start) {
    reset();
    at_ = start;
  }
  Result result;
  if (count_left_ < 0) {
    // The `*<count>` line.
    const size_t cr = find_cr(window, at_);
    if (too_long(window, at_, cr, limits_.max_inline_bytes))
      return fail(ErrorCode::kBadRequest, "Protocol error: too big mbulk count string");
    if (cr == std::string_view::npos) return result;
    if (cr + 1 >= window.size()) return result;  // the byte after '\r' is taken unread, but must come
    int64_t count = 0;
    if (!parse_resp_integer(window.substr(at_ + 1, cr - at_ - 1), count) || count > kLargestCount)
      return fail(ErrorCode::kBadRequest, "Protocol error: invalid multibulk length");
    if (count > 0 && static_cast<uint64_t>(count) > limits_.max_elements)
      return fail(ErrorCode::kTooLarge,
                  too_large("multibulk length", static_cast<uint64_t>(count), limits_.max_elements));
    at_ = cr + 2;
    if (count <= 0) {
      result.outcome = Outcome::kEmpty;
      result.end = at_;
      reset();
      return result;
    }
    count_left_ = count;
  }
  while (count_left_ > 0) {
    if (bulk_length_ < 0) {
      // A `$<length>` line.
      const size_t cr = find_cr(window, at_);
      if (too_long(window, at_, cr, limits_.max_inline_bytes))
        return fail(ErrorCode::kBadRequest, "Protocol error: too big bulk count string");
      if (cr == std::string_view::npos) return result;
      if (cr + 1 >= window.size()) return result;
      if (window[at_] != '$') {
        const char got = window[at_] == '\r' || window[at_] == '\n' ? ' ' : window[at_];
        return fail(ErrorCode::kBadRequest, std::string("Protocol error: expected '$', got '") + got + "'");
      }
      int64_t length = 0;
      if (!parse_resp_integer(window.substr(at_ + 1, cr - at_ - 1), length) || length < 0)
        return fail(ErrorCode::kBadRequest, "Protocol error: invalid bulk length");
      if (static_cast<uint64_t>(length) > limits_.max_frame_bytes)
        return fail(ErrorCode::kTooLarge,
                    too_large("bulk length", static_cast<uint64_t>(length), limits_.max_frame_bytes));
      at_ = cr + 2;
      bulk_length_ = length;
    }
    const auto length = static_cast<size_t>(bulk_length_);
    if (window.size() - at_ < length + 2) return result;
    args_.push_back(ArgSpan{at_, length});
    at_ += length + 2;
    bulk_length_ = -1;
    --count_left_;
  }
  result.outcome = Outcome::kFrame;
  result.end = at_;
  count_left_ = -1;
  at_ = 0;
  return result;
}

}  // namespace rpcgate::codec::resp
