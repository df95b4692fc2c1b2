// The client's reader for RESP2 replies. Limits are checked on headers. The same stream must give
// the same outcome however it is split into reads; two rules make that hold: hiredis never sees
// a byte past the window (so nothing it reports lies beyond the request-size limit), and every
// check made while stalled can only become true as bytes arrive, never false again, and is
// reported with the very message the object function or the reader would give once the item is
// whole.
// Nesting: hiredis 0.14 has a fixed stack of 9 tasks and refuses arrays nested more than 8
// deep, whatever Limits::max_depth says; the effective limit is min(max_depth, 8).
#include "codecs/resp/reply_reader.h"

#include <string>
#include <utility>

#include "codecs/resp/resp_line.h"
#include "codecs/utf8.h"

namespace rpcgate::codec::resp {
namespace {

constexpr std::string_view kTooDeep = "Protocol error: reply nested too deeply";

// A simple line's length is known only once its CRLF arrives, so the message names the limit,
// not the length: the same stream must give the same message however it was split.
std::string simple_too_large(size_t limit) { return "simple string longer than " + std::to_string(limit) + " bytes"; }

Json text_value(std::string_view text) {
  if (is_valid_utf8(text)) return Json(std::string(text));
  return Json::binary(std::vector<std::uint8_t>(text.begin(), text.end()));
}

}  // namespace

void ReplyReader::consume(size_t n) {
  feed_.consume(n);
  nodes_.clear();
}

ReplyReader::Result ReplyReader::read(std::string_view input, size_t window) {
  return result_of(drive(input, window), Outcome::kReply);
}

bool ReplyReader::check_stall(const HiredisFeed::Pending& pending, size_t& want) {
  switch (pending.type) {
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      // A line of more than max_frame_bytes (the reader waits for its CRLF, which could sit
      // right after a last '\r' that arrived).
      if (!pending.rest.empty() && pending.rest.size() - 1 > limits_.max_frame_bytes) {
        fail(ErrorCode::kTooLarge, simple_too_large(limits_.max_frame_bytes));
        return false;
      }
      return true;
    case REDIS_REPLY_INTEGER:
      return check_header_line(pending.rest, ErrorCode::kUpstreamError, "Protocol error: invalid integer");
    case REDIS_REPLY_ARRAY:
      return check_header_line(pending.rest, ErrorCode::kUpstreamError, kInvalidMultibulk);
    case REDIS_REPLY_STRING:
      return check_bulk_header(pending.rest, ErrorCode::kUpstreamError, want);
    default:
      return true;
  }
}

void ReplyReader::classify_reader_error() {
  std::string_view text = feed_.error();
  std::string message;
  if (text.find("ulk string length") != std::string_view::npos)
    message = kInvalidBulk;
  else if (text.find("ulti-bulk length") != std::string_view::npos)
    message = kInvalidMultibulk;
  else if (text == "Bad integer value")
    message = "Protocol error: invalid integer";
  else if (text.find("nested") != std::string_view::npos)
    message = kTooDeep;
  else if (constexpr std::string_view kPrefix = "Protocol error, "; text.substr(0, kPrefix.size()) == kPrefix)
    message = "Protocol error: " + std::string(text.substr(kPrefix.size()));
  else
    message = "Protocol error: " + std::string(text);
  fail(ErrorCode::kUpstreamError, std::move(message));
}

void* ReplyReader::add(Node node) {
  nodes_.push_back(node);
  return this;
}

void* ReplyReader::on_string(const redisReadTask* task, char* str, size_t len) {
  if (task->type == REDIS_REPLY_STRING) {
    if (!check_bulk(str, len, ErrorCode::kUpstreamError)) return nullptr;
  } else if (len > limits_.max_frame_bytes) {
    return fail(ErrorCode::kTooLarge, simple_too_large(limits_.max_frame_bytes));
  }
  return add(Node{task->type, 0, feed_.offset_of(str), len});
}

void* ReplyReader::on_array(const redisReadTask* task, int elements) {
  size_t depth = 1;
  for (const redisReadTask* parent = task->parent; parent != nullptr; parent = parent->parent) ++depth;
  if (depth > limits_.max_depth) return fail(ErrorCode::kUpstreamError, std::string(kTooDeep));
  if (elements < 0) return fail(ErrorCode::kUpstreamError, std::string(kInvalidMultibulk));
  if (static_cast<uint64_t>(elements) > limits_.max_elements)
    return fail(ErrorCode::kTooLarge,
                too_large("multibulk length", static_cast<uint64_t>(elements), limits_.max_elements));
  return add(Node{REDIS_REPLY_ARRAY, elements, 0, 0});
}

void* ReplyReader::on_integer(const redisReadTask*, long long value) {
  return add(Node{REDIS_REPLY_INTEGER, value, 0, 0});
}

void* ReplyReader::on_nil(const redisReadTask*) { return add(Node{REDIS_REPLY_NIL, 0, 0, 0}); }

size_t ReplyReader::build_value(std::string_view input, size_t index, Json& out) const {
  const Node& node = nodes_[index];
  switch (node.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out = text_value(input.substr(node.offset, node.length));
      return index + 1;
    case REDIS_REPLY_ERROR:
      // An error inside an array (EXEC, pipelines in scripts) stays recognisable as one.
      out = Json::object({{"error", text_value(input.substr(node.offset, node.length))}});
      return index + 1;
    case REDIS_REPLY_INTEGER:
      out = node.integer;
      return index + 1;
    case REDIS_REPLY_ARRAY: {
      out = Json::array();
      auto& elements = out.get_ref<Json::array_t&>();
      elements.resize(static_cast<size_t>(node.integer));
      size_t next = index + 1;
      for (Json& element : elements) next = build_value(input, next, element);
      return next;
    }
    default:  // REDIS_REPLY_NIL
      out = nullptr;
      return index + 1;
  }
}

void ReplyReader::build(std::string_view input, Response& response) const {
  response.clear();
  if (nodes_.empty()) return;
  const Node& root = nodes_[0];
  if (root.type == REDIS_REPLY_STATUS) {
    std::string_view text = input.substr(root.offset, root.length);
    response.status.assign(text);
    response.result = text_value(text);
    return;
  }
  if (root.type == REDIS_REPLY_ERROR) {
    // "-ERR x" is an upstream error as it stands; "-TIMEOUT x" (another rpcgate) keeps its code.
    std::string_view text = input.substr(root.offset, root.length);
    std::string_view word = text.substr(0, text.find(' '));
    if (auto code = error_code_from_name(word)) {
      std::string_view rest = word.size() < text.size() ? text.substr(word.size() + 1) : std::string_view();
      response.set_error(*code, std::string(rest));
    } else {
      response.set_error(ErrorCode::kUpstreamError, std::string(text));
    }
    return;
  }
  build_value(input, 0, response.result);
}

}  // namespace rpcgate::codec::resp
