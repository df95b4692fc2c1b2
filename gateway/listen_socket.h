// Listening sockets made by hand rather than by libuv: the master binds them before forking
// (prefork workers inherit them), and libuv 1.44 cannot set SO_REUSEPORT (reuseport workers).
#pragma once

#include <string>

#include "conf/config.h"

namespace rpcgate {

// A non-blocking, close-on-exec TCP socket bound to `address` and listening; -1 with `error`
// filled on failure.
int open_listen_socket(const conf::Address& address, bool reuse_port, std::string& error);

}  // namespace rpcgate
