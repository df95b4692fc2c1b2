// A client's own connection to a Redis Cluster follows its keys (codecs/resp/cluster_session.h):
// a MULTI deferred until a command names a key, answered meanwhile with the bytes a Redis in MULTI
// sends (taken from redis-server 7.0; the integration test compares them with a live node), and
// what each command leaves on the connection, which says when it may be given up.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codecs/resp/cluster_session.h"
#include "codecs/resp/resp_encoder.h"

namespace {

using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::Deferral;
using rpcgate::codec::SessionHold;
using namespace rpcgate::codec::resp;

Request command(std::string name, std::vector<std::string> args = {}) {
  Request request;
  request.method = std::move(name);
  request.params = Json::array();
  for (std::string& arg : args) request.params.push_back(std::move(arg));
  return request;
}

// The step and the bytes of its answer (empty when it is not answered here).
std::pair<Deferral, std::string> defer(const Request& request, bool deferring) {
  Response reply;
  Deferral step = defer_transaction(request, deferring, reply);
  std::string bytes;
  if (step != Deferral::kNone) {
    RespEncoder encoder;
    encoder.encode_response(reply, bytes);
  }
  return {step, bytes};
}

}  // namespace

TEST_CASE("cluster session: MULTI waits for a key, answered as a Redis in MULTI answers") {
  CHECK(defer(command("multi"), false) == std::make_pair(Deferral::kDefer, std::string("+OK\r\n")));
  CHECK(defer(command("multi", {"x"}), false).first == Deferral::kNone);  // Redis's arity error, from a master
  CHECK(defer(command("get", {"k"}), false).first == Deferral::kNone);
  CHECK(defer(command("exec"), false).first == Deferral::kNone);  // EXEC without MULTI: Redis says so

  CHECK(defer(command("multi"), true) ==
        std::make_pair(Deferral::kAnswered, std::string("-ERR MULTI calls can not be nested\r\n")));
  CHECK(defer(command("watch", {"k"}), true) ==
        std::make_pair(Deferral::kAnswered, std::string("-ERR WATCH inside MULTI is not allowed\r\n")));
  CHECK(defer(command("exec"), true) == std::make_pair(Deferral::kEnded, std::string("*0\r\n")));
  CHECK(defer(command("discard"), true) == std::make_pair(Deferral::kEnded, std::string("+OK\r\n")));
  // Anything else opens the connection, MULTI first: the node answers it as it would.
  CHECK(defer(command("set", {"k", "v"}), true).first == Deferral::kNone);
  CHECK(defer(command("ping"), true).first == Deferral::kNone);
  CHECK(defer(command("exec", {"x"}), true).first == Deferral::kNone);
  CHECK(multi_frame() == "*1\r\n$5\r\nMULTI\r\n");
}

TEST_CASE("cluster session: a connection is held while a transaction, a watch or other state is on it") {
  auto after = [](std::vector<Request> requests) {
    SessionHold hold;
    for (const Request& request : requests) track_session(request, hold);
    return hold;
  };
  CHECK(after({command("multi"), command("set", {"k", "v"}), command("exec")}).clear());
  CHECK(after({command("multi"), command("set", {"k", "v"}), command("discard")}).clear());
  CHECK(after({command("watch", {"k"}), command("multi"), command("incr", {"k"}), command("exec")}).clear());
  CHECK(after({command("watch", {"k"}), command("unwatch")}).clear());
  CHECK(after({command("blpop", {"q", "0"})}).clear());  // over once answered
  CHECK(after({command("get", {"k"})}).clear());

  CHECK(after({command("multi")}).transaction);
  CHECK(after({command("multi"), command("multi")}).transaction);  // nested: refused, still inside
  CHECK(after({command("watch", {"k"})}).watching);
  CHECK(after({command("watch", {"k"}), command("multi"), command("unwatch")}).watching);  // queued
  CHECK_FALSE(after({command("multi"), command("watch", {"k"})}).watching);                // refused inside MULTI
  // State the gateway does not follow keeps the connection for the client's life.
  CHECK(after({command("subscribe", {"c"})}).lasting);
  CHECK(after({command("ssubscribe", {"c"})}).lasting);
  CHECK(after({command("client", {"tracking", "on"})}).lasting);
  CHECK(after({command("readonly")}).lasting);
  CHECK(after({command("hello", {"3"})}).lasting);
  CHECK(after({command("client", {"setname", "n"})}).lasting);
  CHECK(after({command("exec", {"x"})}).lasting);
}
