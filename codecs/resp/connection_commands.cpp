// HELLO, QUIT, COMMAND, CLIENT and SELECT, answered by the codec with Redis's reply shapes.
#include "codecs/resp/connection_commands.h"

#include <string>

#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Arguments go back to the client inside error messages; keep them short and printable.
std::string shown(std::string_view arg) {
  std::string text;
  for (char c : arg.substr(0, 64)) text.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return text;
}

void ok(Response& reply) { reply.status = "OK"; }

void raw_error(Response& reply, std::string text) {
  reply.set_error(ErrorCode::kNoAuth, std::move(text));
  reply.kind = kKindRawError;
}

}  // namespace

bool ConnectionCommands::arity_ok(std::string_view name, size_t argc, Response& reply) const {
  bool ok = name == "ping" ? argc <= 2 : name == "echo" ? argc == 2 : true;
  if (!ok) refuse(reply, "ERR", "wrong number of arguments for '" + std::string(name) + "' command");
  return ok;
}

void ConnectionCommands::refuse(Response& reply, std::string_view redis_code, std::string text) const {
  if (!redis_words_) {
    reply.set_error(ErrorCode::kBadRequest,
                    redis_code == "ERR" ? std::move(text) : std::string(redis_code) + " " + text);
    return;
  }
  raw_error(reply, std::string(redis_code) + " " + text);
  reply.error = ErrorCode::kBadRequest;
}

void ConnectionCommands::login_required(Response& reply) { raw_error(reply, "NOAUTH Authentication required."); }

bool ConnectionCommands::log_in(std::string_view user, std::string_view password, Response& reply) {
  if (credentials_->check(user, password)) {
    logged_in_ = true;
    return true;
  }
  raw_error(reply, "WRONGPASS invalid username-password pair or user is disabled.");
  reply.login_failed = true;
  return false;
}

// AUTH password | AUTH username password
void ConnectionCommands::auth(std::span<const std::string_view> argv, Response& reply) {
  if (argv.size() < 2 || argv.size() > 3) return refuse(reply, "ERR", "wrong number of arguments for 'auth' command");
  if (credentials_ == nullptr) {
    // No users configured: accepted and ignored, as before logins existed. It is never forwarded,
    // where it would log in a connection other clients share; a cluster logs in its own
    // connections (its username and password).
    ok(reply);
    return;
  }
  std::string_view user = argv.size() == 3 ? argv[1] : kDefaultUser;
  if (log_in(user, argv.back(), reply)) ok(reply);
}

bool ConnectionCommands::handles(std::string_view name) {
  return name == "hello" || name == "auth" || name == "quit" || name == "command" || name == "client" ||
         name == "select";
}

void ConnectionCommands::answer(std::string_view name, std::span<const std::string_view> argv, Response& reply) {
  if (name == "hello") {
    hello(argv, reply);
  } else if (name == "auth") {
    auth(argv, reply);
  } else if (name == "quit") {
    ok(reply);
    reply.close_after = true;
  } else if (name == "command") {
    command(argv, reply);
  } else if (name == "client") {
    client(argv, reply);
  } else if (name == "select") {
    select(argv, reply);
  }
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
void ConnectionCommands::hello(std::span<const std::string_view> argv, Response& reply) {
  if (!accept_hello(argv, reply)) return;
  reply.kind = argv.size() < 2 ? kKindMap : protocol_ == 3 ? kKindHello3 : kKindHello2;
  reply.result = Json::array({"server", "rpcgate", "version", kServerVersion, "proto", protocol_, "id", kClientId,
                              "mode", "standalone", "role", "master", "modules", Json::array()});
}

void ConnectionCommands::follow_hello(std::span<const std::string_view> argv) {
  int64_t version = 0;
  if (argv.size() >= 2 && parse_resp_integer(argv[1], version) && (version == 2 || version == 3))
    protocol_ = static_cast<int>(version);
  for (size_t i = 2; i + 1 < argv.size(); ++i)
    if (equals_ignore_case(argv[i], "setname")) client_name_.assign(argv[i + 1]);
}

bool ConnectionCommands::accept_hello(std::span<const std::string_view> argv, Response& reply) {
  int protocol = protocol_;
  if (argv.size() >= 2) {
    int64_t version = 0;
    if (!parse_resp_integer(argv[1], version)) {
      refuse(reply, "ERR", "Protocol version is not an integer or out of range");
      return false;
    }
    if (version != 2 && version != 3) {
      refuse(reply, "NOPROTO", "unsupported protocol version");
      return false;
    }
    protocol = static_cast<int>(version);
  }
  std::string_view new_name;
  bool rename = false;
  std::string_view user, password;
  bool login = false;
  for (size_t i = 2; i < argv.size(); ++i) {
    if (equals_ignore_case(argv[i], "auth") && i + 2 < argv.size()) {
      user = argv[i + 1];
      password = argv[i + 2];
      login = true;
      i += 2;
    } else if (equals_ignore_case(argv[i], "setname") && i + 1 < argv.size()) {
      new_name = argv[++i];
      rename = true;
    } else {
      refuse(reply, "ERR", "Syntax error in HELLO option '" + shown(argv[i]) + "'");
      return false;
    }
  }
  // With no users configured, AUTH is accepted and ignored, as by a Redis without requirepass.
  if (credentials_ != nullptr && login && !log_in(user, password, reply)) return false;
  if (!logged_in()) {
    raw_error(reply,
              "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
              "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
              "RESP protocol version at the same time");
    return false;
  }
  if (rename && !set_name(new_name, reply)) return false;
  protocol_ = protocol;
  return true;
}

// COMMAND and its subcommands: rpcgate has no command table to show (its methods are routes),
// so every listing is empty. That is what redis-cli needs to start without hints or errors.
void ConnectionCommands::command(std::span<const std::string_view> argv, Response& reply) {
  if (argv.size() < 2) {
    reply.result = Json::array();
    return;
  }
  std::string_view sub = argv[1];
  if (equals_ignore_case(sub, "count")) {
    reply.result = 0;
  } else if (equals_ignore_case(sub, "docs")) {
    reply.kind = kKindMap;
    reply.result = Json::array();
  } else if (equals_ignore_case(sub, "info")) {
    Json nils = Json::array();
    for (size_t i = 2; i < argv.size(); ++i) nils.push_back(nullptr);
    reply.result = std::move(nils);
  } else if (equals_ignore_case(sub, "getkeys") || equals_ignore_case(sub, "getkeysandflags")) {
    reply.set_error(ErrorCode::kBadRequest, "Invalid command specified");
  } else {  // LIST, HELP and anything newer
    reply.result = Json::array();
  }
}

void ConnectionCommands::client(std::span<const std::string_view> argv, Response& reply) {
  if (argv.size() < 2) {
    refuse(reply, "ERR", "wrong number of arguments for 'client' command");
    return;
  }
  std::string_view sub = argv[1];
  if (equals_ignore_case(sub, "setname")) {
    if (argv.size() != 3) return refuse(reply, "ERR", "wrong number of arguments for 'client|setname' command");
    if (set_name(argv[2], reply)) ok(reply);
  } else if (equals_ignore_case(sub, "getname")) {
    if (client_name_.empty())
      reply.result = nullptr;
    else
      reply.result = client_name_;
  } else if (equals_ignore_case(sub, "id")) {
    reply.result = kClientId;
  } else if (equals_ignore_case(sub, "setinfo")) {
    // Client libraries announce lib-name / lib-ver and ignore failures; accept and forget.
    if (argv.size() != 4) return refuse(reply, "ERR", "wrong number of arguments for 'client|setinfo' command");
    ok(reply);
  } else if (equals_ignore_case(sub, "info") || equals_ignore_case(sub, "list")) {
    std::string line =
        "id=" + std::to_string(kClientId) + " name=" + client_name_ + " db=0 resp=" + std::to_string(protocol_) + "\n";
    reply.result = std::move(line);
  } else if (equals_ignore_case(sub, "reply")) {
    // Only ON: suppressing replies would break the one-reply-per-request order.
    if (argv.size() == 3 && equals_ignore_case(argv[2], "on"))
      ok(reply);
    else
      reply.set_error(ErrorCode::kBadRequest, "CLIENT REPLY OFF|SKIP is not supported");
  } else if (equals_ignore_case(sub, "no-evict") || equals_ignore_case(sub, "no-touch")) {
    ok(reply);
  } else {
    reply.set_error(ErrorCode::kBadRequest, "unknown or unsupported CLIENT subcommand '" + shown(sub) + "'");
  }
}

void ConnectionCommands::select(std::span<const std::string_view> argv, Response& reply) {
  if (argv.size() != 2) return refuse(reply, "ERR", "wrong number of arguments for 'select' command");
  int64_t db = 0;
  if (!parse_resp_integer(argv[1], db)) {
    refuse(reply, "ERR", "value is not an integer or out of range");
  } else if (db != 0) {
    refuse(reply, "ERR", "DB index is out of range");
  } else {
    ok(reply);
  }
}

bool ConnectionCommands::set_name(std::string_view name, Response& reply) {
  // Redis's rule: names show up in CLIENT LIST, one client per line, space-separated fields.
  for (char c : name) {
    if (c < '!' || c > '~') {
      refuse(reply, "ERR", "Client names cannot contain spaces, newlines or special characters.");
      return false;
    }
  }
  client_name_.assign(name);
  return true;
}

}  // namespace rpcgate::codec::resp
