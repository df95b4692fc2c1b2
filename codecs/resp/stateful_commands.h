// Which Redis commands may share an upstream connection with other clients' commands, and which
// need a connection of the client's own (docs/redis-compatibility.md, "Shared connections").
#pragma once

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

// `request.method` is the lower-cased command name; `request.params` its arguments.
Pinning command_pinning(const Request& request);

// Whether the pinning policy reads the arguments of the command `name` (lower case):
// command_pinning() and shareable() those of SELECT, CLIENT, XREAD, XREADGROUP and HELLO, a
// sharded cluster's session (cluster_session.h) how many MULTI, EXEC, DISCARD, WATCH and UNWATCH
// have. The others' params may stay undecoded.
bool pinning_reads_arguments(std::string_view name);

// What a connection shared by several clients may carry: kNone, and the bare HELLO that the
// RESP listener asks in a client's stead (RespServerCodec::answer_locally).
bool shareable(const Request& request);

}  // namespace rpcgate::codec::resp
