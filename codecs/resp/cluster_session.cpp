#include "codecs/resp/cluster_session.h"

#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/stateful_commands.h"

namespace rpcgate::codec::resp {
namespace {

size_t argument_count(const Json& params) { return params.is_array() ? params.size() : params.is_null() ? 0 : 1; }

// Redis's own error text, sent as it is.
Deferral refuse(Response& reply, std::string text, Deferral step) {
  reply.set_error(ErrorCode::kBadRequest, std::move(text));
  reply.kind = kKindRawError;
  return step;
}

}  // namespace

Deferral defer_transaction(const Request& request, bool deferring, Response& reply) {
  const std::string& name = request.method;
  const size_t arguments = argument_count(request.params);
  if (!deferring) {
    if (name != "multi" || arguments != 0) return Deferral::kNone;  // MULTI x: Redis's arity error, from a master
    reply.status = "OK";
    return Deferral::kDefer;
  }
  // Neither of these marks the transaction: its EXEC still runs (Redis 7).
  if (name == "multi" && arguments == 0) return refuse(reply, "ERR MULTI calls can not be nested", Deferral::kAnswered);
  if (name == "watch" && arguments > 0)
    return refuse(reply, "ERR WATCH inside MULTI is not allowed", Deferral::kAnswered);
  if (name == "exec" && arguments == 0) {
    reply.result = Json::array();  // nothing was queued
    return Deferral::kEnded;
  }
  if (name == "discard" && arguments == 0) {
    reply.status = "OK";
    return Deferral::kEnded;
  }
  return Deferral::kNone;
}

std::string multi_frame() { return "*1\r\n$5\r\nMULTI\r\n"; }

void track_session(const Request& request, SessionHold& hold) {
  const std::string& name = request.method;
  const bool bare = argument_count(request.params) == 0;
  if (name == "multi" && bare) {
    hold.transaction = true;  // inside one already: Redis's error, and still inside
  } else if ((name == "exec" || name == "discard") && bare) {
    hold.transaction = false;  // whatever EXEC answers, the transaction and the watched keys are over
    hold.watching = false;
  } else if (name == "watch" && !bare) {
    if (!hold.transaction) hold.watching = true;  // inside MULTI, Redis refuses it
  } else if (name == "unwatch" && bare) {
    if (!hold.transaction) hold.watching = false;  // inside MULTI, queued: EXEC ends the watch anyway
  } else if (name == "multi" || name == "exec" || name == "discard" || name == "watch" || name == "unwatch") {
    hold.lasting = true;  // words Redis answers with an error of its own: what they leave is not guessed
  } else {
    switch (command_pinning(request)) {
      case Pinning::kNone:
      case Pinning::kBlocking:  // over once answered
        break;
      case Pinning::kSession:
      case Pinning::kStream:
      case Pinning::kLocalUnlessPinned:
        hold.lasting = true;
        break;
    }
  }
}

}  // namespace rpcgate::codec::resp
