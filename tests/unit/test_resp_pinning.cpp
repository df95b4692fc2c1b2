// Which Redis commands need a connection of the client's own (codecs/resp/stateful_commands).
#include <doctest/doctest.h>

#include <string>

#include "codecs/resp/stateful_commands.h"

using rpcgate::Json;
using rpcgate::Request;
using rpcgate::codec::Pinning;
using rpcgate::codec::resp::command_pinning;
using rpcgate::codec::resp::shareable;

namespace {

Pinning pinning(const char* method, Json params = nullptr) {
  Request request;
  request.method = method;
  request.params = std::move(params);
  return command_pinning(request);
}

}  // namespace

TEST_CASE("ordinary commands share connections") {
  for (const char* method : {"get", "set", "incr", "exec", "discard", "unwatch", "info", "ping", "publish", "xadd",
                             "command", "a", "zzzz", "mset", "readwrites", "waits", "syncs"})
    CHECK(pinning(method) == Pinning::kNone);
}

TEST_CASE("transactions and connection settings pin; blocking calls pin and hold the client's input") {
  for (const char* method : {"multi", "watch", "readonly", "readwrite", "asking"})
    CHECK(pinning(method) == Pinning::kSession);
  for (const char* method :
       {"blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof"})
    CHECK(pinning(method) == Pinning::kBlocking);
}

TEST_CASE("commands whose replies are not one each turn the connection into a stream") {
  for (const char* method :
       {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor", "replconf"})
    CHECK(pinning(method) == Pinning::kStream);
  CHECK(pinning("client", Json::array({"REPLY", "OFF"})) == Pinning::kStream);
  CHECK(pinning("client", Json::array({"reply", "skip"})) == Pinning::kStream);
}

TEST_CASE("SYNC and PSYNC turn the connection into a byte stream") {
  CHECK(pinning("sync") == Pinning::kStream);
  CHECK(pinning("psync", Json::array({"?", -1})) == Pinning::kStream);
}

TEST_CASE("a shared connection carries only what has one reply and leaves no state") {
  for (const char* method : {"subscribe", "unsubscribe", "multi", "blpop", "sync", "monitor", "reset", "auth"}) {
    Request request;
    request.method = method;
    CAPTURE(std::string(method));
    CHECK_FALSE(shareable(request));
  }
  Request request;
  request.method = "hello";
  CHECK(shareable(request));  // a bare HELLO, asked in a client's stead, changes nothing
  request.params = Json::array({3});
  CHECK_FALSE(shareable(request));
  request.method = "get";
  request.params = Json::array({"k"});
  CHECK(shareable(request));
}

TEST_CASE("XREAD and XREADGROUP pin only with BLOCK") {
  CHECK(pinning("xread", Json::array({"COUNT", 2, "STREAMS", "s", "0"})) == Pinning::kNone);
  CHECK(pinning("xread", Json::array({"BLOCK", 0, "STREAMS", "s", "$"})) == Pinning::kBlocking);
  CHECK(pinning("xreadgroup", Json::array({"GROUP", "g", "c", "block", 100, "STREAMS", "s", ">"})) ==
        Pinning::kBlocking);
  CHECK(pinning("xread", "STREAMS") == Pinning::kNone);
}

TEST_CASE("SELECT 0 and the client name stay local until the client is pinned") {
  CHECK(pinning("select", 0) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("select", "0") == Pinning::kLocalUnlessPinned);
  CHECK(pinning("select", 1) == Pinning::kSession);
  CHECK(pinning("client", Json::array({"SETNAME", "app"})) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", "GETNAME") == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", Json::array({"setinfo", "lib-name", "x"})) == Pinning::kNone);
  CHECK(pinning("client", "LIST") == Pinning::kNone);
  CHECK(pinning("client", "INFO") == Pinning::kSession);
  for (const char* method : {"hello", "auth", "reset", "quit"}) CHECK(pinning(method) == Pinning::kLocalUnlessPinned);
  CHECK(pinning("client", "ID") == Pinning::kSession);
  CHECK(pinning("client", Json::array({"TRACKING", "on"})) == Pinning::kSession);
  CHECK(pinning("client", Json::array({"KILL", "ID", 5})) == Pinning::kSession);
}
