// systemd's readiness protocol (sd_notify(3)), without libsystemd: "KEY=VALUE" lines sent as one
// datagram to the unix socket named by $NOTIFY_SOCKET. Only the process systemd started may use
// it (the master, or the single process), so reading the variable also removes it from the
// environment, and the workers forked later never see it.
#pragma once

#include <string>
#include <string_view>

namespace rpcgate {

class SystemdNotifier {
 public:
  // Reads and unsets $NOTIFY_SOCKET. Without it (not started by systemd with Type=notify) every
  // send does nothing.
  static SystemdNotifier from_environment();

  SystemdNotifier() = default;
  SystemdNotifier(SystemdNotifier&& other) noexcept;
  SystemdNotifier& operator=(SystemdNotifier&& other) noexcept;
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;
  ~SystemdNotifier();

  bool enabled() const { return fd_ >= 0; }
  // Sends `state` (newline-separated assignments: "READY=1\nSTATUS=serving"). Never blocks, and
  // a failure is logged once only: the service manager is told, never waited for.
  void send(std::string_view state);

  void ready(std::string_view status);
  void reloading();
  void stopping();

 private:
  int fd_ = -1;
  std::string address_;  // sockaddr_un.sun_path as sent: a leading NUL for the abstract namespace
  bool failure_logged_ = false;
};

}  // namespace rpcgate
