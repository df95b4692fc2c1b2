#include "admin/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "core/listen_socket.h"

namespace rpcgate::admin {
namespace {

using std::chrono::milliseconds;

// Work per wakeup is bounded so the master's signals and workers get their turn.
constexpr int kAcceptsPerWakeup = 16;
constexpr int kReadsPerWakeup = 8;
constexpr size_t kReadBlock = 16 * 1024;
// Input dropped while lingering before the connection is cut anyway: a client that keeps
// sending after its answer gets no more of the master's time.
constexpr size_t kMaxDrainBytes = 256 * 1024;
// Out of descriptors, accept() fails at once and the listener stays readable: resting it this
// long keeps poll() from spinning until descriptors are free again.
constexpr milliseconds kAcceptBackoff{100};

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

uint16_t bound_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

HttpResponse plain(int status, std::string line) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(line) + "\n";
  return response;
}

// Lowers `timeout_ms` (-1 = none) to the time left until `deadline`, rounded up so that poll()
// does not wake a fraction of a millisecond early and spin.
void lower_timeout(int& timeout_ms, std::chrono::steady_clock::time_point deadline,
                   std::chrono::steady_clock::time_point now) {
  auto left = std::chrono::ceil<milliseconds>(deadline - now).count();
  int wait = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
  if (timeout_ms < 0 || wait < timeout_ms) timeout_ms = wait;
}

}  // namespace

struct AdminServer::Connection {
  enum class Phase {
    kReading,    // until the request is whole; deadline: request_timeout from accept
    kWriting,    // until the answer is sent; deadline: response_timeout from the answer
    kLingering,  // answer sent and write side shut: dropping input until the client closes
  };

  Connection(int socket, const HttpLimits& limits, Clock::time_point request_deadline)
      : fd(socket), parser(limits), deadline(request_deadline) {}

  int fd;  // -1 once closed; the entry is erased at the end of process()
  Phase phase = Phase::kReading;
  HttpRequestParser parser;
  std::string out;
  size_t sent = 0;
  size_t drained = 0;
  Clock::time_point deadline;
};

AdminServer::AdminServer(Handler handler, AdminServerOptions options)
    : handler_(std::move(handler)),
      options_(options),
      busy_response_(serialize(
          plain(503, "too many admin connections (at most " + std::to_string(options.max_connections) + ")"))) {}

AdminServer::~AdminServer() { close_descriptors(); }

bool AdminServer::listen(const conf::Address& address, std::string& error) {
  std::string reason;
  int fd = open_listen_socket(address.host, address.port, false, reason);
  if (fd < 0) {
    error = "cannot listen on " + address.to_string() + ": " + reason;
    return false;
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = fd;
  port_ = bound_port(fd);
  return true;
}

void AdminServer::close_descriptors() {
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  port_ = 0;
  for (auto& connection : connections_) close_connection(*connection);
  // Called from a handler, process() still holds one of them: it erases them when it ends.
  if (!processing_) connections_.clear();
}

size_t AdminServer::add_poll_fds(std::vector<pollfd>& fds, int& timeout_ms) {
  size_t before = fds.size();
  auto now = Clock::now();
  if (listen_fd_ >= 0) {
    if (now >= accept_paused_until_)
      fds.push_back(pollfd{listen_fd_, POLLIN, 0});
    else
      lower_timeout(timeout_ms, accept_paused_until_, now);
  }
  for (const auto& connection : connections_) {
    short events = connection->phase == Connection::Phase::kWriting ? POLLOUT : POLLIN;
    fds.push_back(pollfd{connection->fd, events, 0});
    lower_timeout(timeout_ms, connection->deadline, now);
  }
  return fds.size() - before;
}

void AdminServer::process(const pollfd* fds, size_t count) noexcept {
  processing_ = true;
  try {
    bool accept_ready = false;
    for (size_t i = 0; i < count; ++i) {
      const pollfd& entry = fds[i];
      if (entry.revents == 0 || entry.fd < 0) continue;
      if (entry.fd == listen_fd_) {
        // An error on the listener (it cannot have one short of a bug) is left to accept() to report.
        accept_ready = true;
        continue;
      }
      // Matched by descriptor, not position: nothing is accepted until every entry is handled,
      // so a number freed by a close above cannot be reused by a newcomer in this call.
      auto found = std::find_if(connections_.begin(), connections_.end(),
                                [&](const auto& connection) { return connection->fd == entry.fd; });
      if (found != connections_.end()) on_events(**found, entry.revents);
    }
    auto now = Clock::now();
    expire(now);
    std::erase_if(connections_, [](const auto& connection) { return connection->fd < 0; });
    if (accept_ready) accept_connections(now);
  } catch (...) {
    // Only an allocation can throw here (the handler's exceptions are caught where it is
    // called): shed every connection rather than let the master's loop die.
    for (auto& connection : connections_) close_connection(*connection);
    connections_.clear();
  }
  processing_ = false;
}

void AdminServer::accept_connections(Clock::time_point now) {
  for (int n = 0; n < kAcceptsPerWakeup; ++n) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;  // the next one may be fine
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_until_ = now + kAcceptBackoff;
      return;  // EAGAIN: none left
    }
    if (connections_.size() >= options_.max_connections) {
      refuse(fd);
      continue;
    }
    connections_.push_back(std::make_unique<Connection>(fd, options_.limits, now + options_.request_timeout));
  }
}

// One non-blocking send into an empty socket buffer, then close: the 503 costs no state. When
// the client's request has already arrived, the close resets the connection and the client may
// see the reset instead of the 503; either way it is refused at once.
void AdminServer::refuse(int fd) {
  ssize_t ignored = send(fd, busy_response_.data(), busy_response_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  close(fd);
}

void AdminServer::on_events(Connection& connection, short revents) {
  switch (connection.phase) {
    case Connection::Phase::kReading:
      // A hang-up or error shows as a read of 0 or -1, after any bytes still buffered.
      if (revents & (POLLIN | POLLHUP | POLLERR)) read_request(connection);
      break;
    case Connection::Phase::kWriting:
      if (revents & (POLLOUT | POLLHUP | POLLERR)) write_response(connection);
      break;
    case Connection::Phase::kLingering:
      if (revents & (POLLIN | POLLHUP | POLLERR)) drain(connection);
      break;
  }
}

void AdminServer::read_request(Connection& connection) {
  char block[kReadBlock];
  for (int n = 0; n < kReadsPerWakeup; ++n) {
    ssize_t got = recv(connection.fd, block, sizeof block, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && would_block(errno)) return;
    if (got <= 0) {
      // Gone (or reset) before a whole request: there is no one to answer.
      close_connection(connection);
      return;
    }
    switch (connection.parser.feed(std::string_view(block, static_cast<size_t>(got)))) {
      case HttpRequestParser::Status::kNeedMore:
        break;
      case HttpRequestParser::Status::kComplete: {
        const HttpRequest& request = connection.parser.request();
        respond(connection, call_handler(request), request.method == "HEAD");
        return;
      }
      case HttpRequestParser::Status::kError:
        respond(connection, plain(connection.parser.error_status(), connection.parser.error()), false);
        return;
    }
  }
}

HttpResponse AdminServer::call_handler(const HttpRequest& request) {
  try {
    return handler_(request);
  } catch (const std::exception& error) {
    return plain(500, std::string("internal error: ") + error.what());
  } catch (...) {
    return plain(500, "internal error");
  }
}

// A HEAD answer carries the Content-Length a GET would have, and no body.
void AdminServer::respond(Connection& connection, const HttpResponse& response, bool head_only) {
  connection.out = serialize(response);
  if (head_only) connection.out.resize(connection.out.size() - response.body.size());
  connection.phase = Connection::Phase::kWriting;
  connection.deadline = Clock::now() + options_.response_timeout;
  write_response(connection);  // most answers fit the socket buffer: no poll() round trip
}

void AdminServer::write_response(Connection& connection) {
  while (connection.sent < connection.out.size()) {
    // MSG_NOSIGNAL: a client gone mid-answer is an EPIPE here, not a SIGPIPE for the master.
    ssize_t wrote = send(connection.fd, connection.out.data() + connection.sent,
                         connection.out.size() - connection.sent, MSG_NOSIGNAL);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && would_block(errno)) return;
    if (wrote < 0) {
      close_connection(connection);
      return;
    }
    connection.sent += static_cast<size_t>(wrote);
  }
  std::string().swap(connection.out);
  // The FIN tells the client the answer is whole; it closes, and drain() sees its end.
  shutdown(connection.fd, SHUT_WR);
  connection.phase = Connection::Phase::kLingering;
  connection.deadline = Clock::now() + options_.linger_timeout;
}

void AdminServer::drain(Connection& connection) {
  char block[kReadBlock];
  for (int n = 0; n < kReadsPerWakeup; ++n) {
    ssize_t got = recv(connection.fd, block, sizeof block, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && would_block(errno)) return;
    if (got > 0) connection.drained += static_cast<size_t>(got);
    if (got <= 0 || connection.drained > kMaxDrainBytes) {
      close_connection(connection);
      return;
    }
  }
}

void AdminServer::close_connection(Connection& connection) {
  if (connection.fd >= 0) close(connection.fd);
  connection.fd = -1;
}

// A connection past its deadline is closed without an answer: one still sending its request
// would not read a 408 either, and the limits are documented.
void AdminServer::expire(Clock::time_point now) {
  for (auto& connection : connections_)
    if (connection->fd >= 0 && now >= connection->deadline) close_connection(*connection);
}

}  // namespace rpcgate::admin
