#include "process/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/log.h"

namespace rpcgate {

SystemdNotifier SystemdNotifier::from_environment() {
  SystemdNotifier notifier;
  const char* value = std::getenv("NOTIFY_SOCKET");
  const std::string given = value != nullptr ? value : "";
  unsetenv("NOTIFY_SOCKET");
  if (given.empty()) return notifier;
  // An absolute path, or '@' for Linux's abstract namespace, where the name starts with a NUL.
  std::string path = given;
  if (path[0] == '@') path[0] = '\0';
  if ((path[0] != '/' && path[0] != '\0') || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    LOG_WARN("NOTIFY_SOCKET=%s is not a unix socket path; systemd will not hear that rpcgate is ready", given.c_str());
    return notifier;
  }
  notifier.fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (notifier.fd_ < 0) {
    LOG_WARN("NOTIFY_SOCKET: socket: %s; systemd will not hear that rpcgate is ready", strerror(errno));
    return notifier;
  }
  notifier.address_ = std::move(path);
  return notifier;
}

SystemdNotifier::SystemdNotifier(SystemdNotifier&& other) noexcept { *this = std::move(other); }

SystemdNotifier& SystemdNotifier::operator=(SystemdNotifier&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    address_ = std::move(other.address_);
    failure_logged_ = other.failure_logged_;
    other.fd_ = -1;
  }
  return *this;
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) close(fd_);
}

void SystemdNotifier::send(std::string_view state) {
  if (fd_ < 0) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, address_.data(), address_.size());
  // The exact length: an abstract name is the bytes given, not a NUL-terminated string.
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  ssize_t sent;
  do {
    sent = sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && !failure_logged_) {
    failure_logged_ = true;
    LOG_WARN("NOTIFY_SOCKET: cannot tell systemd: %s", strerror(errno));
  }
}

void SystemdNotifier::ready(std::string_view status) {
  send("READY=1\nMAINPID=" + std::to_string(getpid()) + "\nSTATUS=" + std::string(status));
}

// systemd 253 and later match the reload to the RELOADING=1 by this timestamp (CLOCK_MONOTONIC,
// in microseconds); earlier ones ignore it.
void SystemdNotifier::reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  auto usec =
      static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + static_cast<unsigned long long>(now.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading the configuration");
}

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=draining"); }

}  // namespace rpcgate
