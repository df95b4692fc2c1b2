// The RESP server codec: frames commands from the byte stream and turns them into requests or
// connection-command replies. Framing errors break the connection, as in Redis: one error reply,
// then close.
#include "codecs/resp/resp_server_codec.h"

#include <algorithm>
#include <string>

#include "codecs/resp/command_params.h"
#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {

RespServerCodec::RespServerCodec(const CodecOptions& options)
    : multibulk_(options.limits),
      connection_(options.credentials),
      resp_args_(options.resp_args),
      redis_upstream_(options.redis_upstream) {}

DecodeResult RespServerCodec::decode(std::string_view input, Request& request, Response& reply) {
  if (broken_) return broken(broken_code_, broken_message_, reply);
  if (input.size() < multibulk_.fed() || input.size() < skip_)
    return broken(ErrorCode::kInternal, "input shorter than the bytes already handed over", reply);

  // Nothing past this window is ever parsed: a command (with any empty ones before it) must fit
  // in max_request_bytes of unconsumed input, and so every other check happens within it.
  const size_t window = std::min(input.size(), limits().max_request_bytes);
  for (;;) {
    const size_t start = skip_;
    if (start >= window) return need_more(input, reply);

    if (input[start] == '*') {
      MultibulkReader::Result read = multibulk_.read(input, start, window);
      switch (read.outcome) {
        case MultibulkReader::Outcome::kEmpty:
          skip_ = read.end;
          continue;
        case MultibulkReader::Outcome::kNeedMore:
          return need_more(input, reply);
        case MultibulkReader::Outcome::kError:
          return broken(read.code, read.message, reply);
        case MultibulkReader::Outcome::kFrame:
          argv_.clear();
          for (const ArgSpan& arg : multibulk_.args())
            argv_.push_back(input.substr(arg.offset, arg.length));
          multibulk_.consume(read.end);
          return command(read.end, request, reply);
      }
    }

    InlineReader::Result read = inline_.read(input, start, window, limits());
    if (read.outcome == InlineReader::Outcome::kNeedMore) return need_more(input, reply);
    if (read.outcome == InlineReader::Outcome::kTooLarge)
      return broken(ErrorCode::kTooLarge,
                    "Protocol error: inline request longer than " +
                        std::to_string(limits().max_inline_bytes) + " bytes",
                    reply);
    if (!split_inline_args(read.line, inline_scratch_, inline_spans_))
      return broken(ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request", reply);
    // The reader may hold bytes fed past this line; the next RESP array starts after it.
    multibulk_.discard(read.end);
    if (inline_spans_.empty()) {  // a blank line: skipped, as telnet users expect
      skip_ = read.end;
      continue;
    }
    if (inline_spans_.size() > limits().max_elements)
      return broken(ErrorCode::kTooLarge,
                    "inline request of " + std::to_string(inline_spans_.size()) +
                        " words exceeds the limit of " + std::to_string(limits().max_elements),
                    reply);
    argv_.clear();
    for (const ArgSpan& arg : inline_spans_)
      argv_.push_back(std::string_view(inline_scratch_).substr(arg.offset, arg.length));
    multibulk_.consume(read.end);
    return command(read.end, request, reply);
  }
}

// One whole command in argv_, ending at input offset `end`.
DecodeResult RespServerCodec::command(size_t end, Request& request, Response& reply) {
  skip_ = 0;
  name_.assign(argv_[0]);
  for (char& c : name_)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');

  DecodeResult result;
  result.consumed = end;
  // Before a login only AUTH, HELLO (with its AUTH option) and QUIT run, as in Redis.
  if (!connection_.logged_in() && name_ != "auth" && name_ != "hello" && name_ != "quit") {
    reply.clear();
    ConnectionCommands::login_required(reply);
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  if (ConnectionCommands::handles(name_) &&
      !(redis_upstream_ && ConnectionCommands::forwardable(name_))) {
    reply.clear();
    connection_.answer(name_, argv_, reply);
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  request.clear();
  reply.clear();
  result.status = build_request(name_, argv_, resp_args_, limits().max_depth, request, reply);
  return result;
}

DecodeResult RespServerCodec::need_more(std::string_view input, Response& reply) {
  if (input.size() > limits().max_request_bytes)
    return broken(ErrorCode::kTooLarge,
                  "request larger than " + std::to_string(limits().max_request_bytes) +
                      " bytes",
                  reply);
  return DecodeResult{};
}

// Redis's words for the protocol errors it shares with us. Our limits are checked at the same
// moment Redis checks its own (the header), so its text fits them: an array or bulk beyond our
// bound is one beyond Redis's.
namespace {

std::string redis_protocol_error(ErrorCode code, std::string_view message) {
  if (message.starts_with("Protocol error: inline request longer")) return "ERR Protocol error: too big inline request";
  if (message.starts_with("Protocol error:")) return "ERR " + std::string(message);
  if (code == ErrorCode::kTooLarge && message.starts_with("bulk length"))
    return "ERR Protocol error: invalid bulk length";
  if (code == ErrorCode::kTooLarge && message.starts_with("multibulk length"))
    return "ERR Protocol error: invalid multibulk length";
  return "ERR Protocol error: " + std::string(message);
}

}  // namespace

DecodeResult RespServerCodec::broken(ErrorCode code, std::string_view message, Response& reply) {
  if (!broken_) {
    broken_ = true;
    broken_code_ = code;
    broken_message_ = redis_upstream_ ? redis_protocol_error(code, message) : std::string(message);
  }
  reply.clear();
  reply.set_error(broken_code_, broken_message_);
  if (redis_upstream_) reply.kind = kKindRawError;
  reply.close_after = true;
  return DecodeResult{DecodeStatus::kBroken, 0};
}

void RespServerCodec::answer_locally(const Request& request, Response& reply) {
  // Back from params to arguments: only simple commands (SELECT 0, CLIENT SETNAME x) come here.
  local_args_.clear();
  local_args_.push_back(request.method);
  auto add = [&](const Json& value) {
    local_args_.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  };
  if (request.params.is_array()) {
    for (const Json& value : request.params) add(value);
  } else if (!request.params.is_null()) {
    add(request.params);
  }
  argv_.assign(local_args_.begin(), local_args_.end());
  reply.clear();
  connection_.answer(request.method, argv_, reply);
}

std::vector<std::string> RespServerCodec::session_preamble() const {
  std::vector<std::string> frames;
  if (connection_.protocol() == 3) {
    std::string& hello = frames.emplace_back();
    append_unsigned_header(hello, '*', 2);
    append_bulk(hello, "HELLO");
    append_bulk(hello, "3");
  }
  if (!connection_.client_name().empty()) {
    std::string& setname = frames.emplace_back();
    append_unsigned_header(setname, '*', 3);
    append_bulk(setname, "CLIENT");
    append_bulk(setname, "SETNAME");
    append_bulk(setname, connection_.client_name());
  }
  return frames;
}

void RespServerCodec::encode(const Response& response, std::string& out) {
  encoder_.encode_response(response, out);
}

}  // namespace rpcgate::codec::resp
