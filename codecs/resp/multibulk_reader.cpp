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

#include <string>

#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {
namespace {

std::string expected_bulk(std::string_view got) {
  std::string message = "Protocol error: expected '$', got '";
  message.append(got);
  message.push_back('\'');
  return message;
}

}  // namespace

void MultibulkReader::reset_frame() {
  args_.clear();  // keeps its capacity: no allocation per command in steady state
  root_created_ = false;
  empty_ = false;
}

MultibulkReader::Result MultibulkReader::read(std::string_view input, size_t start,
                                              size_t window) {
  // The reader holds nothing before `start` (an inline command there was parsed without it).
  if (feed_.fed() < start) feed_.discard(start);
  // The `*<count>` line is judged here before hiredis sees a byte of the command: Redis skips a
  // command whose count is zero or negative (`*-10`), where hiredis would take `*-1` for a nil
  // and refuse other negatives.
  if (feed_.fed() == start) {
    const std::string_view line = input.substr(start + 1, window - start - 1);
    const HeaderLine header = read_header_line(line);
    Result result;
    // Like Redis, wait for the header's '\r' however long the digits run, up to the inline limit.
    if (line.find('\r') == std::string_view::npos) {
      if (line.size() < limits_.max_inline_bytes) return result;  // kNeedMore, with nothing fed
      result.outcome = Outcome::kError;
      result.code = ErrorCode::kBadRequest;
      result.message = "Protocol error: too big mbulk count string";
      return result;
    }
    switch (header.state) {
      case HeaderLine::State::kIncomplete:
        return result;  // kNeedMore, with nothing fed
      case HeaderLine::State::kInvalid:
        result.outcome = Outcome::kError;
        result.code = ErrorCode::kBadRequest;
        result.message = kInvalidMultibulk;
        return result;
      case HeaderLine::State::kComplete:
        if (header.value >= 0) break;
        result.outcome = Outcome::kEmpty;
        result.end = start + 1 + header.length;
        feed_.discard(result.end);
        return result;
    }
  }
  input_ = input;
  start_ = start;
  const Step step = drive(input, window);
  Result result = result_of(step, empty_ ? Outcome::kEmpty : Outcome::kFrame);
  if (step == Step::kReply) {  // args_ stays for the caller; the next command starts afresh
    root_created_ = false;
    empty_ = false;
  }
  return result;
}

void* MultibulkReader::fail_not_bulk(char type) {
  return fail(ErrorCode::kBadRequest, expected_bulk(std::string_view(&type, 1)));
}

// Checks the item hiredis is waiting for. Returns false after recording an error; sets `want` to
// the bytes still missing when the item is a bulk of known length, so it is fed in one go.
bool MultibulkReader::check_stall(const HiredisFeed::Pending& pending, size_t& want) {
  if (pending.type < 0) return true;  // waiting for a type byte: nothing to judge yet
  if (pending.depth == 0)             // the command's own "*<count>" header
    return check_header_line(pending.rest, ErrorCode::kBadRequest, kInvalidMultibulk);
  if (pending.type != REDIS_REPLY_STRING) {
    fail_not_bulk(type_byte(pending.type));
    return false;
  }
  // Like Redis, wait for the header's '\r' however long the digits run, up to the inline limit.
  if (pending.rest.find('\r') == std::string_view::npos) {
    if (pending.rest.size() <= limits_.max_inline_bytes) return true;
    fail(ErrorCode::kBadRequest, "Protocol error: too big bulk count string");
    return false;
  }
  return check_bulk_header(pending.rest, ErrorCode::kBadRequest, want);
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

void* MultibulkReader::on_string(const redisReadTask* task, char* str, size_t len) {
  if (task->parent == nullptr) return fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
  if (task->type != REDIS_REPLY_STRING) return fail_not_bulk(type_byte(task->type));
  // Redis takes the two bytes after a bulk for its CRLF without looking at them.
  if (!check_bulk(str, len, ErrorCode::kBadRequest, false)) return nullptr;
  args_.push_back(ArgSpan{feed_.offset_of(str), len});
  return this;
}

void* MultibulkReader::on_array(const redisReadTask* task, int elements) {
  if (task->parent != nullptr) return fail_not_bulk('*');  // nested arrays: not a command
  reset_frame();
  // hiredis hands the count over as an int. Re-read the header so that a count it truncated or
  // wrapped (`*4294967297`) can never pass for a small one.
  std::string_view header = input_.substr(start_ + 1);
  size_t crlf = header.find("\r\n");
  int64_t count = 0;
  if (crlf == std::string_view::npos || !parse_resp_integer(header.substr(0, crlf), count) ||
      count != elements || count < 0)
    return fail(ErrorCode::kBadRequest, std::string(kInvalidMultibulk));
  if (static_cast<uint64_t>(count) > limits_.max_elements)
    return fail(ErrorCode::kTooLarge,
                too_large("multibulk length", static_cast<uint64_t>(count), limits_.max_elements));
  root_created_ = true;
  empty_ = count == 0;
  return this;
}

void* MultibulkReader::on_integer(const redisReadTask*, long long) { return fail_not_bulk(':'); }

void* MultibulkReader::on_nil(const redisReadTask* task) {
  if (task->parent == nullptr) {  // `*-1`: an empty command, skipped like `*0`
    reset_frame();
    root_created_ = true;
    empty_ = true;
    return this;
  }
  if (task->type == REDIS_REPLY_ARRAY) return fail_not_bulk('*');
  return fail(ErrorCode::kBadRequest, std::string(kInvalidBulk));  // `$-1` as an argument
}

}  // namespace rpcgate::codec::resp
