#include "gateway/login_gate.h"

#include <string>

namespace rpcgate {
namespace {

std::string text(const Json& value) { return value.is_string() ? value.get<std::string>() : std::string(); }

}  // namespace

bool LoginGate::check(const Request& request, Response& reply) {
  reply.id = request.id;
  std::string user(codec::kDefaultUser), password;
  bool offered = false;
  if (request.method == "auth") {
    const Json& params = request.params;
    if (params.is_object()) {
      if (params.contains("user")) user = text(params["user"]);
      password = params.contains("password") ? text(params["password"]) : "";
    } else if (params.is_array() && params.size() == 2) {
      user = text(params[0]);
      password = text(params[1]);
    } else if (params.is_array() && params.size() == 1) {
      password = text(params[0]);
    } else {
      password = text(params);
    }
    offered = true;
  } else {
    // protobuf (and json) metadata may carry the login with any request.
    for (const auto& [key, value] : request.meta) {
      if (key == "user") user = value;
      if (key == "password") {
        password = value;
        offered = true;
      }
    }
  }
  if (!offered) {
    reply.set_error(ErrorCode::kNoAuth,
                    "authentication required: call auth with {\"user\": ..., \"password\": ...} first "
                    "(or send user and password in meta)");
    return false;
  }
  if (!users_->check(user, password)) {
    logged_in_ = false;
    reply.set_error(ErrorCode::kNoAuth, "invalid username-password pair");
    reply.login_failed = true;
    return false;
  }
  logged_in_ = true;
  if (request.method != "auth") return true;
  reply.kind = "auth";
  reply.result = "OK";
  return false;
}

}  // namespace rpcgate
