// A client's own connection to a Redis Cluster follows its keys (docs/redis-cluster.md,
// "Connection state"): a MULTI waits, answered here, for the first command that names a key to
// say which master the transaction runs on, and the connection is given up once the session on
// it is over (EXEC, DISCARD, UNWATCH, a blocking command answered), so that the client's next
// commands are routed by their keys again. Pure: requests in, answers and states out.
#pragma once

#include <string>

#include "codecs/upstream_session.h"
#include "core/message.h"

namespace rpcgate::codec::resp {

// `request.method` is the lower-cased command name, `request.params` its arguments. While a MULTI
// is deferred, the replies are what a Redis in MULTI answers (compared byte for byte in the tests).
Deferral defer_transaction(const Request& request, bool deferring, Response& reply);

// The frame a deferred MULTI is sent as, first on the connection it opens.
std::string multi_frame();

// What a command sent on a client's own connection leaves there.
void track_session(const Request& request, SessionHold& hold);

}  // namespace rpcgate::codec::resp
