// Which Redis commands need a connection of the client's own (codecs/resp/stateful_commands).
#include <doctest/doctest.h>

#include "codecs/resp/stateful_commands.h"

using rpcgate::Json;
using rpcgate::Request;
using rpcgate::codec::Pinning;
using rpcgate::codec::resp::command_pinning;

namespace {

Pinning pinning(const char* method, Json params = nullptr) {
  Request request;
  request.method = method;
  request.params = std::move(params);
  return command_pinning(request);
}

}  // namespace

TEST_CASE("ordinary commands share connections") {
  for (const char* method : {"get", "set", "incr", "exec", "discard", "unwatch", "info", "ping", "publish", "xadd", "command"})
    CHECK(pinning(method) == Pinning::kNone);
}

TEST_CASE("transactions, blocking calls and connection settings pin") {
  for (const char* method : {"multi", "watch", "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin",
                             "bzpopmax", "bzmpop", "wait", "waitaof", "readonly", "readwrite", "reset"})
    CHECK(pinning(method) == Pinning::kSession);
}

TEST_CASE("subscriptions and MONITOR turn the connection into pushes") {
  for (const char* method : {"subscribe", "psubscribe", "ssubscribe", "monitor"}) CHECK(pinning(method) == Pinning::kPush);
}

TEST_CASE("XREAD and XREADGROUP pin only with BLOCK") {
  CHECK(pinning("xread", Json::array({"COUNT", 2, "STREAMS", "s", "0"})) == Pinning::kNone);
  CHECK(pinning("xread", Json::array({"BLOCK", 0, "STREAMS", "s", "$"})) == Pinning::kSession);
  CHECK(pinning("xreadgroup", Json::array({"GROUP", "g", "c", "block", 100, "STREAMS", "s", ">"})) == Pinning::kSession);
  CHECK(pinning("xread", "STREAMS") == Pinning::kNone);
}

TEST_CASE("SELECT 0 and the client name stay local until the client is pinned") {
  CHECK(pinning("select", 0) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("select", "0") == Pinning::kLocalUnlessPinned);
  CHECK(pinning("select", 1) == Pinning::kSession);
  CHECK(pinning("client", Json::array({"SETNAME", "app"})) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", "GETNAME") == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", Json::array({"setinfo", "lib-name", "x"})) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", "LIST") == Pinning::kNone);
  CHECK(pinning("client", "ID") == Pinning::kSession);
  CHECK(pinning("client", Json::array({"TRACKING", "on"})) == Pinning::kSession);
  CHECK(pinning("client", Json::array({"KILL", "ID", 5})) == Pinning::kSession);
}
