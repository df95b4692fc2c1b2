// The connection commands the RESP listener answers itself: HELLO, AUTH, QUIT, COMMAND, CLIENT
// and SELECT (enough for redis-cli and the client libraries' start-up). The last three go to
// Redis instead when a route sends them there (CodecOptions::upstream). PING, ECHO and INFO are not
// here: they decode to requests and the built-in handlers answer them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "codecs/credentials.h"
#include "core/message.h"

namespace rpcgate::codec::resp {

// The version HELLO reports. The codec seam carries no build information, so it is kept here in
// step with the project version in the top-level CMakeLists.txt.
inline constexpr std::string_view kServerVersion = "0.1.0";

class ConnectionCommands {
 public:
  // `credentials`: the logins required before any other command (null: none). `redis_words`:
  // errors read as the Redis behind the listener writes them ("-ERR ...") rather than with
  // rpcgate's codes ("-BAD_REQUEST ...").
  explicit ConnectionCommands(const Credentials* credentials = nullptr, bool redis_words = false)
      : credentials_(credentials), redis_words_(redis_words) {}

  // True when `name` (lower-cased) is answered here.
  static bool handles(std::string_view name);
  // Those a Redis behind a route answers better: SELECT, CLIENT and COMMAND.
  static bool forwardable(std::string_view name) { return name == "select" || name == "client" || name == "command"; }

  const std::string& client_name() const { return client_name_; }
  // Whether a command other than AUTH, HELLO and QUIT may run now.
  bool logged_in() const { return credentials_ == nullptr || logged_in_; }
  // Logged in without AUTH: the gateway vouches for the client (ServerCodec::accept_login).
  void accept_login() { logged_in_ = true; }
  // The reply to anything else before the login, as Redis words it.
  static void login_required(Response& reply);
  int protocol() const { return protocol_; }

  // Redis's arity for the commands the built-in handlers answer in Redis's stead (PING takes at
  // most one argument, ECHO exactly one): false with Redis's wrong-number-of-arguments error in
  // `reply` when `argc` (the command included) is not one Redis runs.
  bool arity_ok(std::string_view name, size_t argc, Response& reply) const;

  // Fills `reply` (cleared by the caller) for `argv`, whose command is `name`.
  void answer(std::string_view name, std::span<const std::string_view> argv, Response& reply);

  // HELLO's checks and effects (login, name, protocol) without its reply: false with the error
  // in `reply` when Redis would refuse it.
  bool accept_hello(std::span<const std::string_view> argv, Response& reply);
  // A HELLO the Redis behind judges itself (the client has a connection of its own there):
  // follows the protocol and name it asks for, should Redis accept it.
  void follow_hello(std::span<const std::string_view> argv);
  // RESET: back to RESP2 and no name, as on a new connection.
  void reset() {
    protocol_ = 2;
    client_name_.clear();
  }

 private:
  void hello(std::span<const std::string_view> argv, Response& reply);
  // A refusal: `code` and `text` in rpcgate's words, or "`redis_code` `text`" in Redis's.
  void refuse(Response& reply, std::string_view redis_code, std::string text) const;
  void auth(std::span<const std::string_view> argv, Response& reply);
  // Checks a login; false with the WRONGPASS reply set.
  bool log_in(std::string_view user, std::string_view password, Response& reply);
  void command(std::span<const std::string_view> argv, Response& reply);
  void client(std::span<const std::string_view> argv, Response& reply);
  void select(std::span<const std::string_view> argv, Response& reply);
  bool set_name(std::string_view name, Response& reply);

  const Credentials* credentials_;
  bool redis_words_;
  bool logged_in_ = false;
  std::string client_name_;
  // The protocol the HELLOs decoded so far asked for (the encoder switches when it sends the
  // HELLO reply; see resp_encoder.h).
  int protocol_ = 2;
  // The codec seam has no connection id and codecs keep no globals, so every connection reports
  // id 0 (HELLO, CLIENT ID).
  static constexpr int64_t kClientId = 0;
};

}  // namespace rpcgate::codec::resp
