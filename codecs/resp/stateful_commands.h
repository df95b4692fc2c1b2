// The Redis commands whose effect lives on the server's side of one connection, so that a client
// sending them needs an upstream connection of its own (docs/redis-compatibility.md).
#pragma once

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

// `request.method` is the lower-cased command name; `request.params` its arguments.
Pinning command_pinning(const Request& request);

}  // namespace rpcgate::codec::resp
