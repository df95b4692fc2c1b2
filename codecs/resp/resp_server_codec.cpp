// The RESP server codec: frames commands from the byte stream and turns them into requests or
// connection-command replies. Framing errors break the connection, as in Redis: one error reply,
// then close.
#include "codecs/resp/resp_server_codec.h"

#include <algorithm>
#include <string>

#include "codecs/resp/command_params.h"
#include "codecs/resp/resp_sharding.h"
#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {
namespace {

// The protocol a client's HELLO chose, on the bare HELLO asked in its stead (answer_locally).
// Only the gateway and this codec see it: a RESP upstream is sent the method and params alone.
constexpr std::string_view kProtocolMeta = "resp.hello.protocol";

}  // namespace

RespServerCodec::RespServerCodec(const CodecOptions& options)
    : commands_(options.limits),
      connection_(options.credentials, options.upstream != nullptr),
      resp_args_(options.resp_args),
      redis_upstream_(options.upstream != nullptr),
      cluster_facade_(options.upstream != nullptr && redis_cluster(*options.upstream)),
      // Only without logins of the listener's own: a client logs in to one or the other.
      forward_auth_(options.upstream != nullptr && options.upstream->forward_auth && options.credentials == nullptr) {}

DecodeResult RespServerCodec::decode(std::string_view input, Request& request, Response& reply) {
  if (broken_) return broken(broken_code_, broken_message_, reply);
  if (input.size() < commands_.scanned() || input.size() < skip_)
    return broken(ErrorCode::kInternal, "input shorter than the bytes already handed over", reply);

  // Nothing past this window is ever parsed: a command (with any empty ones before it) must fit
  // in max_request_bytes of unconsumed input, and so every other check happens within it.
  const size_t window = std::min(input.size(), limits().max_request_bytes);
  for (;;) {
    const size_t start = skip_;
    if (start >= window) return need_more(input, reply);

    if (input[start] == '*') {
      CommandReader::Result read = commands_.read(input, start, window);
      switch (read.outcome) {
        case CommandReader::Outcome::kEmpty:
          skip_ = read.end;
          continue;
        case CommandReader::Outcome::kNeedMore:
          return need_more(input, reply);
        case CommandReader::Outcome::kError:
          return broken(read.code, read.message, reply);
        case CommandReader::Outcome::kFrame:
          argv_.clear();
          for (const ArgSpan& arg : commands_.args()) argv_.push_back(input.substr(arg.offset, arg.length));
          commands_.reset();
          rewritten_ = false;
          return command(read.end, request, reply);
      }
    }

    InlineReader::Result read = inline_.read(input, start, window, limits());
    if (read.outcome == InlineReader::Outcome::kNeedMore) return need_more(input, reply);
    if (read.outcome == InlineReader::Outcome::kTooLarge)
      return broken(
          ErrorCode::kTooLarge,
          "Protocol error: inline request longer than " + std::to_string(limits().max_inline_bytes) + " bytes", reply);
    if (!split_inline_args(read.line, inline_scratch_, inline_spans_))
      return broken(ErrorCode::kBadRequest, "Protocol error: unbalanced quotes in request", reply);
    commands_.reset();
    if (inline_spans_.empty()) {  // a blank line: skipped, as telnet users expect
      skip_ = read.end;
      continue;
    }
    if (inline_spans_.size() > limits().max_elements)
      return broken(ErrorCode::kTooLarge,
                    "inline request of " + std::to_string(inline_spans_.size()) + " words exceeds the limit of " +
                        std::to_string(limits().max_elements),
                    reply);
    argv_.clear();
    for (const ArgSpan& arg : inline_spans_)
      argv_.push_back(std::string_view(inline_scratch_).substr(arg.offset, arg.length));
    rewrite_argv();  // forwarded as the array it stands for: the upstream sees what Redis would
    return command(read.end, request, reply);
  }
}

// One whole command in argv_, ending at input offset `end`.
DecodeResult RespServerCodec::command(size_t end, Request& request, Response& reply) {
  skip_ = 0;
  logs_in_upstream_ = false;
  name_.assign(argv_[0]);
  for (char& c : name_)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  // Compared as a view: its length first, and bytes only when that matches, since every command
  // passes these tests on the way to its route.
  const std::string_view name = name_;

  DecodeResult result;
  result.consumed = end;
  // What looks like HTTP (a browser, or a page making one fetch a cross-protocol attack) is no
  // client: Redis closes it before anything runs, and so does the listener, before anything of
  // it can reach an upstream connection.
  if (name == "post" || name == "host:") {
    broken_ = true;
    broken_code_ = ErrorCode::kBadRequest;
    broken_message_ = "Protocol error: HTTP request on the RESP port";
    return DecodeResult{DecodeStatus::kHangUp, 0};
  }
  // Before a login only AUTH, HELLO (with its AUTH option) and QUIT run, as in Redis.
  if (!connection_.logged_in() && name != "auth" && name != "hello" && name != "quit") {
    reply.clear();
    ConnectionCommands::login_required(reply);
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  if (cluster_facade_ && ClusterFacade::answers(name, argv_)) {
    reply.clear();
    facade_.answer(name, argv_, connection_.protocol(), reply);
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  if (redis_upstream_ && (name == "hello" || name == "reset" || (name == "quit" && pinned_)))
    return session_command(end, request, reply);
  if (forward_auth_ && name == "auth") {
    logs_in_upstream_ = true;
    request.clear();
    reply.clear();
    result.status = build_request(name_, argv_, resp_args_, limits().max_depth, request, reply);
    return result;
  }
  if (ConnectionCommands::handles(name_) && !(redis_upstream_ && ConnectionCommands::forwardable(name_))) {
    reply.clear();
    connection_.answer(name_, argv_, reply);
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  request.clear();
  reply.clear();
  if (!connection_.arity_ok(name_, argv_.size(), reply)) {
    result.status = DecodeStatus::kAnswered;
    return result;
  }
  if (own_info(request)) {
    result.status = DecodeStatus::kRequest;
    return result;
  }
  // Most commands are forwarded as their frame and need no params: they are decoded only if
  // asked (complete_params). Not CALL's, which name the method, nor those whose arguments decide
  // how the command is pinned.
  if (name != "call" && !pinning_reads_arguments(name_)) {
    request.method.assign(name_);
    request.params_deferred = argv_.size() > 1;
    result.status = DecodeStatus::kRequest;
    return result;
  }
  result.status = build_request(name_, argv_, resp_args_, limits().max_depth, request, reply);
  return result;
}

void RespServerCodec::complete_params(Request& request) {
  if (!request.params_deferred) return;
  request.params = params_from_arguments(std::span(argv_).subspan(1), resp_args_, limits().max_depth);
  request.params_deferred = false;
}

// INFO rpcgate and INFO rpcgate-<section>: a section Redis does not have (it answers them with
// nothing), so asking rpcgate's own INFO this way is harmless whatever is behind the listener,
// and redis-cli formats the answer as it formats any INFO.
bool RespServerCodec::own_info(Request& request) const {
  constexpr std::string_view kSection = "rpcgate";
  if (std::string_view(name_) != "info" || argv_.size() != 2) return false;
  std::string_view section = argv_[1];
  if (section.size() < kSection.size() || (section.size() > kSection.size() && section[kSection.size()] != '-'))
    return false;
  for (size_t i = 0; i < kSection.size(); ++i)
    if ((section[i] | 0x20) != kSection[i]) return false;
  request.method.assign(kOwnInfoMethod);
  if (section.size() > kSection.size()) request.params = std::string(section.substr(kSection.size() + 1));
  return true;
}

DecodeResult RespServerCodec::session_command(size_t end, Request& request, Response& reply) {
  DecodeResult result;
  result.consumed = end;
  reply.clear();
  const size_t auth = name_ == "hello" ? auth_option() : 0;
  if (name_ == "hello" && pinned_ && (forward_auth_ || auth == 0)) {
    // Redis judges it, in the context of the client's own connection (a subscriber may not
    // send HELLO there); the listener follows what it asks for.
    connection_.follow_hello(argv_);
  } else if (name_ == "hello") {
    if (!connection_.accept_hello(argv_, reply)) {
      result.status = DecodeStatus::kAnswered;
      return result;
    }
    // The AUTH option logged in to this listener; the upstream has logins of its own, so a
    // client's own connection is sent the rest of the command (accept_hello checked its shape).
    // With forward_auth it is the upstream's login, for the client's own connection.
    if (auth != 0 && forward_auth_)
      logs_in_upstream_ = true;
    else if (auth != 0)
      rewrite_argv(auth, 3);
  } else if (name_ == "reset") {
    connection_.reset();
  }
  request.clear();
  result.status = build_request(name_, argv_, resp_args_, limits().max_depth, request, reply);
  if (name_ == "quit" && result.status == DecodeStatus::kRequest) reply.close_after = true;
  return result;
}

size_t RespServerCodec::auth_option() const {
  auto is = [](std::string_view arg, std::string_view lower) {
    return arg.size() == lower.size() &&
           std::equal(arg.begin(), arg.end(), lower.begin(), [](char a, char b) { return (a | 0x20) == b; });
  };
  for (size_t i = 2; i < argv_.size(); ++i) {
    if (is(argv_[i], "auth")) return i;
    if (is(argv_[i], "setname")) ++i;  // its value follows it, and may itself read "auth"
  }
  return 0;
}

void RespServerCodec::rewrite_argv(size_t from, size_t skip) {
  rewrite_.clear();
  append_unsigned_header(rewrite_, '*', argv_.size() - skip);
  for (size_t i = 0; i < argv_.size(); ++i)
    if (i < from || i >= from + skip) append_bulk(rewrite_, argv_[i]);
  rewritten_ = true;
}

DecodeResult RespServerCodec::need_more(std::string_view input, Response& reply) {
  if (input.size() > limits().max_request_bytes)
    return broken(ErrorCode::kTooLarge, "request larger than " + std::to_string(limits().max_request_bytes) + " bytes",
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

bool RespServerCodec::answer_locally(Request& request, Response& reply) {
  reply.clear();
  if (request.method == "hello") {
    // What only the Redis behind knows (server, version, mode, role, modules) comes from a bare
    // HELLO on a shared connection, which changes nothing there; complete() makes it this
    // client's (its protocol, its id). Everything HELLO does was done by decode(); the protocol
    // it chose travels with the request, since more HELLOs may be decoded before the answer.
    request.params = nullptr;
    request.meta.assign(1, {std::string(kProtocolMeta), std::to_string(connection_.protocol())});
    return false;
  }
  if (request.method == "reset") {
    reply.status = "RESET";
    return true;
  }
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
  connection_.answer(request.method, argv_, reply);
  return true;
}

void RespServerCodec::complete(const Request& request, Response& response) {
  if (request.method != "hello" || request.meta.size() != 1 || request.meta[0].first != kProtocolMeta ||
      response.is_error() || !response.result.is_array())
    return;
  const int protocol = request.meta[0].second == "3" ? 3 : 2;
  Json& fields = response.result;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i] == "proto") fields[i + 1] = protocol;
    if (fields[i] == "id") fields[i + 1] = connection_id_;
  }
  response.kind = protocol == 3 ? kKindHello3 : kKindHello2;
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
  // In the protocol of the HELLOs decoded so far: the gateway encodes every answer it makes
  // when the request is decoded, as Redis replies in the protocol of the moment it ran.
  encoder_.set_protocol(connection_.protocol());
  encoder_.encode_response(response, out);
}

}  // namespace rpcgate::codec::resp
