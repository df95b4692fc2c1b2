// The gateway's login gate (json and protobuf listeners with users): every shape of the `auth`
// method, a login carried in meta, what a wrong password does to a connection already logged
// in, and that nothing is asked of a listener without users.
#include <doctest/doctest.h>

#include "gateway/login_gate.h"

using rpcgate::ErrorCode;
using rpcgate::Json;
using rpcgate::LoginGate;
using rpcgate::Request;
using rpcgate::Response;

namespace {

rpcgate::codec::Credentials users() {
  rpcgate::codec::Credentials credentials;
  credentials.add("alice", "s3cret");
  credentials.add("default", "pw");
  return credentials;
}

Request call(const char* method, Json params = nullptr) {
  Request request;
  request.method = method;
  request.params = std::move(params);
  request.id = 7;
  return request;
}

}  // namespace

TEST_CASE("without users every request passes and nothing is checked") {
  LoginGate gate(nullptr);
  CHECK_FALSE(gate.stands_before(call("echo")));
  CHECK_FALSE(gate.stands_before(call("auth", "anything")));
}

TEST_CASE("a request before any login is refused with NOAUTH, saying how to log in") {
  auto credentials = users();
  LoginGate gate(&credentials);
  Request request = call("echo");
  REQUIRE(gate.stands_before(request));
  Response reply;
  CHECK_FALSE(gate.check(request, reply));
  CHECK(reply.error == ErrorCode::kNoAuth);
  CHECK(reply.id == 7);
  CHECK(reply.message.find("call auth") != std::string::npos);
  CHECK_FALSE(reply.login_failed);  // nothing was offered: not a failed login
  CHECK_FALSE(gate.logged_in());
}

TEST_CASE("every shape of auth logs in, and is answered OK rather than routed") {
  auto credentials = users();
  for (const Json& params : {Json{{"user", "alice"}, {"password", "s3cret"}}, Json::array({"alice", "s3cret"}),
                             Json::array({"pw"}), Json("pw"), Json{{"password", "pw"}}}) {
    CAPTURE(params.dump());
    LoginGate gate(&credentials);
    Response reply;
    CHECK_FALSE(gate.check(call("auth", params), reply));
    CHECK_FALSE(reply.is_error());
    CHECK(reply.result == "OK");
    CHECK(reply.kind == "auth");
    CHECK(gate.logged_in());
    CHECK_FALSE(gate.stands_before(call("echo")));
    CHECK(gate.stands_before(call("auth", "again")));  // a later auth is checked again
  }
}

TEST_CASE("a wrong password is a failed login, and logs a logged-in connection out") {
  auto credentials = users();
  LoginGate gate(&credentials);
  Response ok;
  gate.check(call("auth", Json::array({"alice", "s3cret"})), ok);
  REQUIRE(gate.logged_in());
  for (const Json& params : {Json::array({"alice", "wrong"}), Json::array({"bob", "s3cret"}), Json(42), Json()}) {
    CAPTURE(params.dump());
    Response reply;
    CHECK_FALSE(gate.check(call("auth", params), reply));
    CHECK(reply.error == ErrorCode::kNoAuth);
    CHECK(reply.message == "invalid username-password pair");
    CHECK(reply.login_failed);
    CHECK_FALSE(gate.logged_in());
    CHECK(gate.stands_before(call("echo")));
  }
}

TEST_CASE("meta carries a login with any request, which then goes on to be routed") {
  auto credentials = users();
  LoginGate gate(&credentials);
  Request request = call("echo");
  request.meta = {{"user", "alice"}, {"password", "s3cret"}};
  Response reply;
  CHECK(gate.check(request, reply));
  CHECK_FALSE(reply.is_error());
  CHECK(gate.logged_in());

  LoginGate other(&credentials);
  request.meta = {{"user", "alice"}};  // a user without a password offers nothing
  CHECK_FALSE(other.check(request, reply));
  CHECK_FALSE(reply.login_failed);
  request.meta = {{"password", "nope"}};
  Response refused;
  CHECK_FALSE(other.check(request, refused));
  CHECK(refused.login_failed);
}
