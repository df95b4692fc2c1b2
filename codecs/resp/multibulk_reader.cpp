// The server's reader for RESP arrays of bulk strings. Every limit is checked on the header that
// announces a size: in an object function when hiredis reaches the item, or, while hiredis is
// still waiting for bytes, on the header it is waiting behind (check_stall). Error messages
// follow Redis's ("Protocol error: invalid bulk length", "expected '$', got ':'").
//
// The same stream must give the same outcome however it is split into reads. Two rules make
// that hold: hiredis never sees a byte past the window (so nothing it reports lies beyond the
// request-size limit), and every check made while stalled can only become true as bytes arrive,
// never false again, and is reported with the very message the object function or the reader
// would give once the item is whole.
#include "codecs/resp/multibulk_reader.h"

#include <utility>

#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {
namespace {

std::string too_large_message(const char* what, int64_t value, size_t limit) {
  return std::string(what) + " " + std::to_string(value) + " exceeds the limit of " +
         std::to_string(limit);
}

std::string expected_bulk(std::string_view got) {
  std::string message = "Protocol error: expected '$', got '";
  message.append(got);
  message.push_back('\'');
  return message;
}

constexpr std::string_view kInvalidMultibulk = "Protocol error: invalid multibulk length";
constexpr std::string_view kInvalidBulk = "Protocol error: invalid bulk length";

}  // namespace

redisReplyObjectFunctions MultibulkReader::functions_ = {
    &MultibulkReader::on_string, &MultibulkReader::on_array, &MultibulkReader::on_integer,
    &MultibulkReader::on_nil, nullptr,  // nothing to free: the objects are tags, not allocations
};

MultibulkReader::MultibulkReader(const Limits& limits)
    : limits_(limits), feed_(&functions_, this) {}

void MultibulkReader::reset_frame() {
  args_.clear();  // keeps its capacity: no allocation per command in steady state
  root_created_ = false;
  empty_ = false;
}

MultibulkReader::Result MultibulkReader::read(std::string_view input, size_t start,
                                              size_t window) {
  if (!feed_.valid()) {
    fail(ErrorCode::kInternal, "cannot create the RESP reader");
    return error_result();
  }
  if (feed_.fed() < start) feed_.discard(start);  // the reader holds nothing before `start`
  input_ = input;
  start_ = start;
  size_t want = 0;
  for (;;) {
    feed_.feed_more(input, window, want);
    switch (feed_.get_reply()) {
      case HiredisFeed::Step::kReply: {
        Result result;
        result.outcome = empty_ ? Outcome::kEmpty : Outcome::kFrame;
        result.end = feed_.unconsumed_start();
        // args_ stays for the caller; the next command starts afresh.
        root_created_ = false;
        empty_ = false;
        return result;
      }
      case HiredisFeed::Step::kError:
        if (error_code_ == ErrorCode::kNone) classify_reader_error();
        return error_result();
      case HiredisFeed::Step::kStall:
        break;
    }
    if (!check_stall(want)) return error_result();
    if (feed_.fed() >= window) return Result{};  // kNeedMore
  }
}

MultibulkReader::Result MultibulkReader::error_result() {
  Result result;
  result.outcome = Outcome::kError;
  result.code = error_code_;
  result.message = error_message_;
  return result;
}

void* MultibulkReader::fail(ErrorCode code, std::string message) {
  if (error_code_ == ErrorCode::kNone) {
    error_code_ = code;
    error_message_ = std::move(message);
  }
  return nullptr;  // hiredis then reports "Out of memory"; error_code_ holds the real reason
}

void* MultibulkReader::fail_not_bulk(char type) {
  return fail(ErrorCode::kBadRequest, expected_bulk(std::string_view(&type, 1)));
}

// Checks the item hiredis is waiting for. Returns false after recording an error; sets `want` to
// the bytes still missing when the item is a bulk of known length, so it is fed in one go.
bool MultibulkReader::check_stall(size_t& want) {
  want = 0;
  HiredisFeed::Pending pending = feed_.pending();
  if (pending.type < 0) return true;  // waiting for a type byte: nothing to judge yet
  if (pending.depth == 0) {           // the command's own "*<count>" header
    if (read_header_line(pending.rest).state == HeaderLine::State::kInvalid) {
      fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
      return false;
    }
    return true;
  }
  if (pending.type != REDIS_REPLY_STRING) {
    fail_not_bulk(type_byte(pending.type));
    return false;
  }
  HeaderLine header = read_header_line(pending.rest);
  switch (header.state) {
    case HeaderLine::State::kIncomplete:
      return true;
    case HeaderLine::State::kInvalid:
      fail(ErrorCode::kBadRequest, std::string(kInvalidBulk));
      return false;
    case HeaderLine::State::kComplete:
      break;
  }
  if (header.value < 0) {  // hiredis answers `$-1` at once; kept for safety
    fail(ErrorCode::kBadRequest, std::string(kInvalidBulk));
    return false;
  }
  if (static_cast<uint64_t>(header.value) > limits_.max_frame_bytes) {
    fail(ErrorCode::kTooLarge, too_large_message("bulk length", header.value, limits_.max_frame_bytes));
    return false;
  }
  size_t item = header.length + static_cast<size_t>(header.value) + 2;
  if (item > pending.rest.size()) want = item - pending.rest.size();
  return true;
}

// hiredis found the error itself. Its messages are reworded the way Redis words them; the item
// concerned is known from where the command had got to.
void MultibulkReader::classify_reader_error() {
  std::string_view text = feed_.error();
  if (!root_created_) {  // only the "*<count>" line had been read
    fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
    return;
  }
  constexpr std::string_view kTypeBytePrefix = "Protocol error, got ";
  constexpr std::string_view kTypeByteSuffix = " as reply type byte";
  if (text.substr(0, kTypeBytePrefix.size()) == kTypeBytePrefix) {
    // hiredis quotes the byte, escaping what is not printable: "?" or "\x01".
    std::string_view got = text.substr(kTypeBytePrefix.size());
    if (size_t end = got.find(kTypeByteSuffix); end != std::string_view::npos) got = got.substr(0, end);
    if (got.size() >= 2 && got.front() == '"' && got.back() == '"') got = got.substr(1, got.size() - 2);
    fail(ErrorCode::kBadRequest, expected_bulk(got));
  } else if (text == "Bad integer value") {
    fail_not_bulk(':');
  } else if (text.find("ulti-bulk") != std::string_view::npos ||
             text.find("nested") != std::string_view::npos) {
    fail_not_bulk('*');
  } else if (text.find("ulk string length") != std::string_view::npos) {
    fail(ErrorCode::kBadRequest, std::string(kInvalidBulk));
  } else {
    fail(ErrorCode::kBadRequest, "Protocol error: " + std::string(text));
  }
}

void* MultibulkReader::root_array(int elements) {
  // hiredis hands the count over as an int. Re-read the header so that a count it truncated or
  // wrapped (`*4294967297`) can never pass for a small one.
  std::string_view header = input_.substr(start_ + 1);
  size_t crlf = header.find("\r\n");
  int64_t count = 0;
  if (crlf == std::string_view::npos || !parse_resp_integer(header.substr(0, crlf), count) ||
      count != elements || count < 0)
    return fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
  if (static_cast<uint64_t>(count) > limits_.max_elements)
    return fail(ErrorCode::kTooLarge, too_large_message("multibulk length", count, limits_.max_elements));
  root_created_ = true;
  empty_ = count == 0;
  return this;
}

void* MultibulkReader::string_element(const redisReadTask* task, const char* str, size_t len) {
  if (task->parent == nullptr) return fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
  if (task->type != REDIS_REPLY_STRING) return fail_not_bulk(type_byte(task->type));
  if (len > limits_.max_frame_bytes)
    return fail(ErrorCode::kTooLarge,
                too_large_message("bulk length", static_cast<int64_t>(len), limits_.max_frame_bytes));
  // hiredis skips the two bytes after a bulk without looking at them; a stream whose bulks are
  // not followed by CRLF is out of step, so stop here rather than misread what follows.
  if (str[len] != '\r' || str[len + 1] != '\n')
    return fail(ErrorCode::kBadRequest, "Protocol error: bulk string not followed by CRLF");
  args_.push_back(ArgSpan{feed_.offset_of(str), len});
  return this;
}

void* MultibulkReader::on_string(const redisReadTask* task, char* str, size_t len) {
  return static_cast<MultibulkReader*>(task->privdata)->string_element(task, str, len);
}

void* MultibulkReader::on_array(const redisReadTask* task, int elements) {
  auto* self = static_cast<MultibulkReader*>(task->privdata);
  if (task->parent != nullptr) return self->fail_not_bulk('*');  // nested arrays: not a command
  self->reset_frame();
  return self->root_array(elements);
}

void* MultibulkReader::on_integer(const redisReadTask* task, long long) {
  return static_cast<MultibulkReader*>(task->privdata)->fail_not_bulk(':');
}

void* MultibulkReader::on_nil(const redisReadTask* task) {
  auto* self = static_cast<MultibulkReader*>(task->privdata);
  if (task->parent == nullptr) {  // `*-1`: an empty command, skipped like `*0`
    self->reset_frame();
    self->root_created_ = true;
    self->empty_ = true;
    return self;
  }
  if (task->type == REDIS_REPLY_ARRAY) return self->fail_not_bulk('*');
  return self->fail(ErrorCode::kBadRequest, std::string(kInvalidBulk));  // `$-1` as an argument
}

}  // namespace rpcgate::codec::resp
