// The client's reader for RESP2 replies. Limits are checked on headers as in the server's
// reader (multibulk_reader.cpp explains why split reads give the same outcome as whole ones).
// Nesting: hiredis 0.14 has a fixed stack of 9 tasks and refuses arrays nested more than 8
// deep, whatever Limits::max_depth says; the effective limit is min(max_depth, 8).
#include "codecs/resp/reply_reader.h"

#include <utility>

#include "codecs/resp/resp_line.h"
#include "codecs/utf8.h"

namespace rpcgate::codec::resp {
namespace {

constexpr std::string_view kTooDeep = "Protocol error: reply nested too deeply";

std::string too_large_message(const char* what, uint64_t value, size_t limit) {
  return std::string(what) + " " + std::to_string(value) + " exceeds the limit of " +
         std::to_string(limit);
}

// A simple line's length is known only once its CRLF arrives, so the message names the limit,
// not the length: the same stream must give the same message however it was split.
std::string simple_too_large(size_t limit) {
  return "simple string longer than " + std::to_string(limit) + " bytes";
}

Json text_value(std::string_view text) {
  if (is_valid_utf8(text)) return Json(std::string(text));
  return Json::binary(std::vector<std::uint8_t>(text.begin(), text.end()));
}

}  // namespace

redisReplyObjectFunctions ReplyReader::functions_ = {
    &ReplyReader::on_string, &ReplyReader::on_array, &ReplyReader::on_integer,
    &ReplyReader::on_nil, nullptr,  // nodes live in nodes_: nothing for hiredis to free
};

ReplyReader::ReplyReader(const Limits& limits) : limits_(limits), feed_(&functions_, this) {}

void ReplyReader::consume(size_t n) {
  feed_.consume(n);
  nodes_.clear();
}

ReplyReader::Result ReplyReader::read(std::string_view input, size_t window) {
  if (!feed_.valid()) {
    fail(ErrorCode::kInternal, "cannot create the RESP reader");
    return error_result();
  }
  size_t want = 0;
  for (;;) {
    feed_.feed_more(input, window, want);
    switch (feed_.get_reply()) {
      case HiredisFeed::Step::kReply: {
        Result result;
        result.outcome = Outcome::kReply;
        result.end = feed_.unconsumed_start();
        return result;
      }
      case HiredisFeed::Step::kError:
        if (error_code_ == ErrorCode::kNone) classify_reader_error();
        return error_result();
      case HiredisFeed::Step::kStall:
        break;
    }
    if (!check_stall(want)) return error_result();
    if (feed_.fed() >= window) return Result{};
  }
}

ReplyReader::Result ReplyReader::error_result() {
  Result result;
  result.outcome = Outcome::kError;
  result.code = error_code_;
  result.message = error_message_;
  return result;
}

void* ReplyReader::fail(ErrorCode code, std::string message) {
  if (error_code_ == ErrorCode::kNone) {
    error_code_ = code;
    error_message_ = std::move(message);
  }
  return nullptr;
}

bool ReplyReader::check_stall(size_t& want) {
  want = 0;
  HiredisFeed::Pending pending = feed_.pending();
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
      if (read_header_line(pending.rest).state == HeaderLine::State::kInvalid) {
        fail(ErrorCode::kUpstreamError, "Protocol error: invalid integer");
        return false;
      }
      return true;
    case REDIS_REPLY_ARRAY:
      if (read_header_line(pending.rest).state == HeaderLine::State::kInvalid) {
        fail(ErrorCode::kUpstreamError, "Protocol error: invalid multibulk length");
        return false;
      }
      return true;
    case REDIS_REPLY_STRING:
      break;
    default:
      return true;
  }
  HeaderLine header = read_header_line(pending.rest);
  if (header.state == HeaderLine::State::kIncomplete) return true;
  if (header.state == HeaderLine::State::kInvalid || header.value < 0) {
    fail(ErrorCode::kUpstreamError, "Protocol error: invalid bulk length");
    return false;
  }
  if (static_cast<uint64_t>(header.value) > limits_.max_frame_bytes) {
    fail(ErrorCode::kTooLarge, too_large_message("bulk length", static_cast<uint64_t>(header.value),
                                                 limits_.max_frame_bytes));
    return false;
  }
  size_t item = header.length + static_cast<size_t>(header.value) + 2;
  if (item > pending.rest.size()) want = item - pending.rest.size();
  return true;
}

void ReplyReader::classify_reader_error() {
  std::string_view text = feed_.error();
  std::string message;
  if (text.find("ulk string length") != std::string_view::npos)
    message = "Protocol error: invalid bulk length";
  else if (text.find("ulti-bulk length") != std::string_view::npos)
    message = "Protocol error: invalid multibulk length";
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
  auto* self = static_cast<ReplyReader*>(task->privdata);
  if (len > self->limits_.max_frame_bytes)
    return self->fail(ErrorCode::kTooLarge,
                      task->type == REDIS_REPLY_STRING
                          ? too_large_message("bulk length", len, self->limits_.max_frame_bytes)
                          : simple_too_large(self->limits_.max_frame_bytes));
  if (task->type == REDIS_REPLY_STRING && (str[len] != '\r' || str[len + 1] != '\n'))
    return self->fail(ErrorCode::kUpstreamError, "Protocol error: bulk string not followed by CRLF");
  return self->add(Node{task->type, 0, self->feed_.offset_of(str), len});
}

void* ReplyReader::on_array(const redisReadTask* task, int elements) {
  auto* self = static_cast<ReplyReader*>(task->privdata);
  size_t depth = 1;
  for (const redisReadTask* parent = task->parent; parent != nullptr; parent = parent->parent) ++depth;
  if (depth > self->limits_.max_depth) return self->fail(ErrorCode::kUpstreamError, std::string(kTooDeep));
  if (elements < 0) return self->fail(ErrorCode::kUpstreamError, "Protocol error: invalid multibulk length");
  if (static_cast<uint64_t>(elements) > self->limits_.max_elements)
    return self->fail(ErrorCode::kTooLarge, too_large_message("multibulk length", static_cast<uint64_t>(elements),
                                                              self->limits_.max_elements));
  return self->add(Node{REDIS_REPLY_ARRAY, elements, 0, 0});
}

void* ReplyReader::on_integer(const redisReadTask* task, long long value) {
  auto* self = static_cast<ReplyReader*>(task->privdata);
  return self->add(Node{REDIS_REPLY_INTEGER, value, 0, 0});
}

void* ReplyReader::on_nil(const redisReadTask* task) {
  auto* self = static_cast<ReplyReader*>(task->privdata);
  return self->add(Node{REDIS_REPLY_NIL, 0, 0, 0});
}

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
