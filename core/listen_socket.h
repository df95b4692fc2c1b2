// Listening sockets made by hand rather than by libuv: the master binds them before forking
// (prefork workers inherit them), and libuv 1.44 cannot set SO_REUSEPORT (reuseport workers).
#pragma once

#include <cstdint>
#include <string>

namespace rpcgate {

// A non-blocking, close-on-exec TCP socket bound to `host` (an IP literal) and `port` and listening; -1 with `error`
// filled on failure.
int open_listen_socket(const std::string& host, uint16_t port, bool reuse_port, std::string& error);

// Binds a socket to `host`:`port` as open_listen_socket would, without listening, and closes it:
// 0 when that works, else the errno with `error` filled (EADDRINUSE for a port another socket
// listens on).
int probe_bind(const std::string& host, uint16_t port, std::string& error);

}  // namespace rpcgate
