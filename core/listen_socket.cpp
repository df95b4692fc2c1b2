#include "core/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rpcgate {
namespace {

constexpr int kBacklog = 511;

}  // namespace

namespace {

// A socket for `host`:`port` with SO_REUSEADDR (and SO_REUSEPORT), bound; -1 with `error`.
int bound_socket(const std::string& host, uint16_t port, bool reuse_port, std::string& error) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) length = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) length = sizeof *in4;
  }
  if (length == 0) {
    error = "not an IP address: " + host;
    errno = EINVAL;
    return -1;
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  int on = 1;
  // SO_REUSEADDR lets a restarted gateway bind while old connections sit in TIME_WAIT.
  bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
            (!reuse_port || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0) &&
            bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) == 0;
  if (!ok) {
    int saved = errno;
    error = std::string(strerror(saved));
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

}  // namespace

int open_listen_socket(const std::string& host, uint16_t port, bool reuse_port, std::string& error) {
  int fd = bound_socket(host, port, reuse_port, error);
  if (fd < 0) return -1;
  if (listen(fd, kBacklog) != 0) {
    error = std::string(strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int probe_bind(const std::string& host, uint16_t port, std::string& error) {
  int fd = bound_socket(host, port, false, error);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

}  // namespace rpcgate
