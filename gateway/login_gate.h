// The login gate of listeners whose codec leaves the login to the gateway (json, protobuf; RESP
// enforces its own, with AUTH and NOAUTH). Pure: a connection holds one and asks it about every
// request until one logs in, and again for every later `auth`.
#pragma once

#include "codecs/credentials.h"
#include "core/message.h"

namespace rpcgate {

class LoginGate {
 public:
  // `users` null: no login required, every request passes.
  explicit LoginGate(const codec::Credentials* users) : users_(users) {}

  // Whether `request` must be shown to check() before it is routed.
  bool stands_before(const Request& request) const {
    return users_ != nullptr && (!logged_in_ || request.method == "auth");
  }

  // True when `request` goes on to be routed (its login, carried in meta, is good); false when
  // `reply` now holds the answer: NOAUTH (with login_failed set for wrong credentials), or the
  // `auth` method's OK. A failed login logs the connection out.
  bool check(const Request& request, Response& reply);

  bool logged_in() const { return logged_in_; }
  // Logged in without a password: a verified client certificate names one of the users. A later
  // `auth` with wrong credentials logs the connection out, as it does after a password login.
  void accept_login() { logged_in_ = true; }

 private:
  const codec::Credentials* users_;
  bool logged_in_ = false;
};

}  // namespace rpcgate
