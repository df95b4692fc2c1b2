#include "codecs/resp/resp3_frame.h"

#include <algorithm>
#include <charconv>

namespace rpcgate::codec::resp {
namespace {

// Beyond these no server sends a reply (a bulk is at most what a 4-byte length can say, an
// aggregate at most what a C int counts): a header past them is garbage, not a large reply.
constexpr uint64_t kLargestBlob = 0xFFFF'FFFF;
constexpr uint64_t kLargestCount = 0x7FFF'FFFF;

// The count or length of a header; false when it is not a plain decimal number.
bool parse_length(std::string_view header, uint64_t& value) {
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), value);
  return ec == std::errc() && end == header.data() + header.size();
}

}  // namespace

Resp3Frame Resp3Scanner::error(ErrorCode code, std::string message, bool oversized) {
  // An oversized reply keeps its place, for discard(); anything else is forgotten.
  if (!oversized) reset();
  Resp3Frame frame;
  frame.status = Resp3Frame::Status::kError;
  frame.code = code;
  frame.message = std::move(message);
  frame.oversized = oversized;
  return frame;
}

Resp3Frame Resp3Scanner::scan(std::string_view input) {
  for (;;) {
    if (blob_left_ > 0) {
      // Inside a blob: its bytes are only counted; its last two must be CRLF.
      if (blob_left_ > 2) {
        const size_t take = std::min<uint64_t>(input.size() - at_, blob_left_ - 2);
        at_ += take;
        blob_left_ -= take;
        if (blob_left_ > 2) return {};
      }
      if (input.size() - at_ < 2) return {};
      if (input.substr(at_, 2) != "\r\n") return error(ErrorCode::kUpstreamError, "RESP3 blob not followed by CRLF");
      at_ += 2;
      blob_left_ = 0;
    } else {
      const size_t item = at_;
      const size_t line_end = input.find("\r\n", item);
      // The line's length is judged whether or not its end has come, so that the outcome is
      // the same however the reply is split.
      size_t line_length = line_end - item;
      if (line_end == std::string_view::npos) {
        line_length = input.size() - item;
        if (line_length > 0 && input.back() == '\r') --line_length;  // maybe the start of its CRLF
      }
      if (line_length > limits_.max_inline_bytes)
        return error(ErrorCode::kTooLarge,
                     "upstream reply line longer than " + std::to_string(limits_.max_inline_bytes));
      if (line_end == std::string_view::npos) return {};
      const char type = input[item];
      const std::string_view header = input.substr(item + 1, line_end - item - 1);
      const size_t next = line_end + 2;
      switch (type) {
        case '+':
        case '-':
        case ':':
        case '_':
        case ',':
        case '#':
        case '(':
          at_ = next;  // a whole value on its line
          break;
        case '$':
        case '!':
        case '=': {              // a blob: its length, then the bytes and CRLF
          if (header == "-1") {  // RESP2 null bulk
            at_ = next;
            break;
          }
          uint64_t length = 0;
          if (!parse_length(header, length))
            return error(ErrorCode::kUpstreamError,
                         "bad RESP3 blob length '" + std::string(header.substr(0, 32)) + "'");
          if (length > limits_.max_frame_bytes && !discarding_)
            return error(ErrorCode::kTooLarge,
                         "upstream blob of " + std::to_string(length) + " bytes exceeds the limit of " +
                             std::to_string(limits_.max_frame_bytes),
                         length <= kLargestBlob);
          at_ = next;
          blob_left_ = length + 2;
          continue;
        }
        case '*':
        case '~':
        case '>':
        case '%':
        case '|': {
          if (header == "-1") {  // RESP2 null array
            at_ = next;
            break;
          }
          uint64_t count = 0;
          if (!parse_length(header, count))
            return error(ErrorCode::kUpstreamError,
                         "bad RESP3 aggregate length '" + std::string(header.substr(0, 32)) + "'");
          if (count > limits_.max_elements && !discarding_)
            return error(ErrorCode::kTooLarge,
                         "upstream aggregate of " + std::to_string(count) + " elements exceeds the limit of " +
                             std::to_string(limits_.max_elements),
                         count <= kLargestCount);
          if (owed_.size() >= limits_.max_depth)
            return error(ErrorCode::kUpstreamError,
                         "upstream reply nested deeper than " + std::to_string(limits_.max_depth));
          at_ = next;
          if (type == '%' || type == '|') count *= 2;  // maps and attributes hold pairs
          if (type == '|') ++count;                    // an attribute precedes the value it describes
          if (count > 0) {
            owed_.push_back(count);
            continue;  // its first element comes next
          }
          break;
        }
        default:
          return error(ErrorCode::kUpstreamError, std::string("unknown RESP3 type byte '") + type + "'");
      }
    }
    // One value is complete: it settles one element of each aggregate it completes.
    while (!owed_.empty() && --owed_.back() == 0) owed_.pop_back();
    if (owed_.empty()) {
      Resp3Frame frame;
      frame.status = Resp3Frame::Status::kFrame;
      frame.length = at_;
      frame.push = !input.empty() && input[0] == '>';
      reset();
      return frame;
    }
    if (at_ > limits_.max_request_bytes && !discarding_)
      return error(ErrorCode::kTooLarge, "upstream reply larger than " + std::to_string(limits_.max_request_bytes),
                   true);
  }
}

size_t Resp3Scanner::discard(std::string_view input, bool& done, Resp3Frame& failure) {
  discarding_ = true;
  done = false;
  Resp3Frame frame = scan(input);
  switch (frame.status) {
    case Resp3Frame::Status::kFrame:
      done = true;
      return frame.length;
    case Resp3Frame::Status::kError:
      failure = std::move(frame);
      return 0;
    case Resp3Frame::Status::kNeedMore:
      break;
  }
  // What was scanned goes; the scan goes on from the start of what is left.
  const size_t scanned = at_;
  at_ = 0;
  return scanned;
}

Resp3Frame scan_resp3_frame(std::string_view input, const Limits& limits) { return Resp3Scanner(limits).scan(input); }

}  // namespace rpcgate::codec::resp
