// The admin port's HTTP/1.1 server, driven by its owner's poll() loop: the master keeps no libuv
// loop, so the server hands out pollfds and deadlines and is called back with what poll() saw.
// One request per connection, answered with Connection: close; every wait and size is bounded.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/http_request.h"
#include "conf/config.h"

namespace rpcgate::admin {

struct AdminServerOptions {
  size_t max_connections = 32;                       // open at once; one more is answered 503 and closed
  std::chrono::milliseconds request_timeout{5000};   // from accept to the whole request; then closed
  std::chrono::milliseconds response_timeout{5000};  // from the answer being ready to all of it sent
  // After the answer, unread input is read and dropped this long (or until the client closes):
  // closing a socket with unread bytes sends a reset, which can destroy the answer in flight.
  std::chrono::milliseconds linger_timeout{1000};
  HttpLimits limits;
};

class AdminServer {
 public:
  // Called once per complete request, inside process(). It must not block: it runs on the
  // master's loop. An exception it throws is answered 500 and goes no further. It may call
  // listen() (a reload moving the port) or close_descriptors() (a fork), never destroy the server.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit AdminServer(Handler handler, AdminServerOptions options = {});
  ~AdminServer();  // closes the listening socket and every connection
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens (SO_REUSEADDR, non-blocking, close-on-exec). Called again (a reload), it
  // replaces the listening socket only once the new one is bound; open connections are kept.
  // False with `error` such as "cannot listen on 127.0.0.1:9901: Address already in use".
  bool listen(const conf::Address& address, std::string& error);
  // The bound port (the ephemeral one when listen() was given port 0); 0 when not listening.
  uint16_t port() const { return port_; }
  size_t connection_count() const { return connections_.size(); }

  // Appends the listening socket and each connection (POLLIN or POLLOUT, as each needs) to
  // `fds`, lowers `timeout_ms` (-1 = none) to the nearest deadline, and returns how many it
  // appended: those entries, in that order, are what process() takes.
  size_t add_poll_fds(std::vector<pollfd>& fds, int& timeout_ms);
  // After every poll(), a timed-out one included (deadlines are enforced here): accepts, reads,
  // answers, writes and closes. Never blocks and never throws.
  void process(const pollfd* fds, size_t count) noexcept;

  // In a forked child: closes the descriptors and nothing else (no shutdown(), which would cut
  // the parent's connections too).
  void close_descriptors();

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection;

  void accept_connections(Clock::time_point now);
  void refuse(int fd);
  void on_events(Connection& connection, short revents);
  void read_request(Connection& connection);
  void respond(Connection& connection, const HttpResponse& response, bool head_only);
  HttpResponse call_handler(const HttpRequest& request);
  void write_response(Connection& connection);
  void drain(Connection& connection);
  static void close_connection(Connection& connection);
  void expire(Clock::time_point now);

  Handler handler_;
  AdminServerOptions options_;
  std::string busy_response_;  // the 503 for the connection over max_connections, made once
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  Clock::time_point accept_paused_until_;  // out of descriptors: the listener rests until then
  std::vector<std::unique_ptr<Connection>> connections_;
  bool processing_ = false;  // inside process(): connections are closed, not yet erased
};

}  // namespace rpcgate::admin
