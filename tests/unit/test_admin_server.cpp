// The admin port's poll-driven HTTP server over real loopback sockets, with this test playing
// both the owner's poll loop (as Master::supervise will) and the clients: answers, HEAD, 500,
// the size refusals, both timeouts, the connection bound, and clients that leave early.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "admin/admin_server.h"

using namespace rpcgate;
using namespace rpcgate::admin;
using namespace std::chrono_literals;

namespace {

// One turn of the owner's loop: what Master::supervise will do, at most `max_wait` long.
void turn(AdminServer& server, std::chrono::milliseconds max_wait = 10ms) {
  std::vector<pollfd> fds{pollfd{-1, 0, 0}};  // an entry of the owner's own before the server's
  int timeout_ms = static_cast<int>(max_wait.count());
  size_t count = server.add_poll_fds(fds, timeout_ms);
  REQUIRE(count == fds.size() - 1);
  REQUIRE(timeout_ms <= max_wait.count());
  REQUIRE(poll(fds.data(), fds.size(), timeout_ms) >= 0);
  server.process(fds.data() + 1, count);
}

void run_for(AdminServer& server, std::chrono::milliseconds how_long) {
  auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) turn(server);
}

AdminServer& listening(AdminServer& server) {
  std::string error;
  REQUIRE_MESSAGE(server.listen(conf::Address{"127.0.0.1", 0}, error), error);
  REQUIRE(server.port() != 0);
  return server;
}

// A client socket, connected (loopback connects complete in the kernel's backlog, before the
// server accepts) and then non-blocking, so the test never waits on it with the server idle.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(fcntl(fd_, F_SETFL, O_NONBLOCK) == 0);
  }
  ~Client() { close_now(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send_all(std::string_view bytes) {
    REQUIRE(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }

  // Everything the server sends until it closes, turning its loop meanwhile; `closed` says
  // whether the close came before `limit`.
  std::string read_to_close(AdminServer& server, bool& closed, std::chrono::milliseconds limit = 3000ms) {
    std::string got;
    closed = false;
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      turn(server);
      char block[65536];
      ssize_t n;
      while ((n = recv(fd_, block, sizeof block, 0)) > 0) got.append(block, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed = true;
        break;
      }
    }
    return got;
  }

  std::string exchange(AdminServer& server, std::string_view request) {
    send_all(request);
    bool closed = false;
    std::string response = read_to_close(server, closed);
    CHECK(closed);
    return response;
  }

  // Closes with a reset (SO_LINGER 0): the rudest way a client can leave.
  void reset() {
    linger option{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof option);
    close_now();
  }

  void close_now() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Routes {
  std::vector<HttpRequest> seen;

  AdminServer::Handler handler() {
    return [this](const HttpRequest& request) {
      seen.push_back(request);
      HttpResponse response;
      if (request.path == "/metrics") {
        response.content_type = "text/plain; version=0.0.4";
        response.body = "rpcgate_up 1\n";
      } else if (request.path == "/throw") {
        throw std::runtime_error("boom");
      } else if (request.path == "/big") {
        response.body.assign(32u << 20, 'x');  // more than loopback's socket buffers hold
      } else {
        response.status = 404;
        response.body = "no such page\n";
      }
      return response;
    };
  }
};

AdminServerOptions quick_timeouts() {
  AdminServerOptions options;
  options.request_timeout = 100ms;
  options.response_timeout = 100ms;
  options.linger_timeout = 100ms;
  return options;
}

// A GET whose request line and headers are `size` bytes long.
std::string get_with_head_of(size_t size) {
  std::string head = "GET / HTTP/1.1\r\nX-Pad: \r\n\r\n";
  head.insert(head.find("\r\n\r\n"), size - head.size(), 'a');
  return head;
}

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

TEST_CASE("a GET is answered and the connection closed") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  Client client(server.port());
  std::string response = client.exchange(server, "GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(response ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
        "rpcgate_up 1\n");
  REQUIRE(routes.seen.size() == 1);
  CHECK(routes.seen[0].path == "/metrics");
  CHECK(routes.seen[0].query == "x=1");
  CHECK(server.connection_count() == 1);  // waits for the client's close after its answer
  client.close_now();
  run_for(server, 20ms);
  CHECK(server.connection_count() == 0);
}

TEST_CASE("HEAD gets the GET's headers without the body; a throwing handler is a 500") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  Client head(server.port());
  CHECK(
      head.exchange(server, "HEAD /metrics HTTP/1.1\r\n\r\n") ==
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 13\r\nConnection: close\r\n\r\n");
  Client thrower(server.port());
  std::string response = thrower.exchange(server, "GET /throw HTTP/1.1\r\n\r\n");
  CHECK(starts_with(response, "HTTP/1.1 500 Internal Server Error\r\n"));
  CHECK(response.find("\r\n\r\ninternal error: boom\n") != std::string::npos);
}

TEST_CASE("an oversized or malformed request is answered with its status and reason, then closed") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  Client big_head(server.port());
  std::string response = big_head.exchange(server, get_with_head_of(9000));
  CHECK(starts_with(response, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  CHECK(response.find("\r\n\r\nrequest line and headers exceed 8192 bytes\n") != std::string::npos);
  // The body the client goes on sending after its 413 is drained, so the answer is not lost
  // to a reset.
  Client big_body(server.port());
  big_body.send_all("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(30000, 'b'));
  bool closed = false;
  response = big_body.read_to_close(server, closed);
  CHECK(closed);
  CHECK(starts_with(response, "HTTP/1.1 413 Payload Too Large\r\n"));
  Client garbage(server.port());
  CHECK(starts_with(garbage.exchange(server, "\x16\x03\x01 hello\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(routes.seen.empty());
}

TEST_CASE("a client too slow to send its request is closed at request_timeout") {
  Routes routes;
  AdminServer server(routes.handler(), quick_timeouts());
  listening(server);
  Client slow(server.port());
  slow.send_all("GET /metrics HT");
  turn(server);
  REQUIRE(server.connection_count() == 1);
  std::vector<pollfd> fds;
  int timeout_ms = -1;
  server.add_poll_fds(fds, timeout_ms);
  CHECK(timeout_ms >= 0);
  CHECK(timeout_ms <= 100);  // the owner's poll wakes for the deadline
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  CHECK(slow.read_to_close(server, closed).empty());  // closed without an answer
  CHECK(closed);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 80ms);
  CHECK(took < 1000ms);
  CHECK(server.connection_count() == 0);
  CHECK(routes.seen.empty());
}

TEST_CASE("a client that does not take its response is closed at response_timeout") {
  Routes routes;
  AdminServerOptions options = quick_timeouts();
  options.linger_timeout = 5000ms;  // so only the response timeout can close it this soon
  AdminServer server(routes.handler(), options);
  listening(server);
  Client stalled(server.port());
  stalled.send_all("GET /big HTTP/1.1\r\n\r\n");
  run_for(server, 20ms);  // accepted, then read
  REQUIRE(routes.seen.size() == 1);
  CHECK(server.connection_count() == 1);
  run_for(server, 300ms);
  CHECK(server.connection_count() == 0);
  bool closed = false;
  std::string received = stalled.read_to_close(server, closed);
  CHECK(closed);
  CHECK(received.size() < (32u << 20));  // cut off mid-answer
}

TEST_CASE("the 33rd connection is answered 503 and closed; the 32 others are still served") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 32; ++i) clients.push_back(std::make_unique<Client>(server.port()));
  run_for(server, 50ms);
  REQUIRE(server.connection_count() == 32);
  Client extra(server.port());
  bool closed = false;
  std::string response = extra.read_to_close(server, closed);
  CHECK(closed);
  CHECK(starts_with(response, "HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(response.find("\r\n\r\ntoo many admin connections (at most 32)\n") != std::string::npos);
  CHECK(server.connection_count() == 32);
  CHECK(starts_with(clients[5]->exchange(server, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
  clients.clear();
  run_for(server, 50ms);
  CHECK(server.connection_count() == 0);
  Client later(server.port());  // room again
  CHECK(starts_with(later.exchange(server, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("clients that leave early break nothing (and raise no SIGPIPE)") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  {
    Client silent(server.port());
    turn(server);
  }
  {
    Client partial(server.port());
    partial.send_all("GET /met");
    turn(server);
  }
  {
    Client rude(server.port());
    rude.send_all("GET /metrics");
    turn(server);
    rude.reset();
  }
  {
    // Asks for more than the socket buffers hold, then resets: the rest of the answer is
    // written to a dead socket, which is an EPIPE or ECONNRESET, never a signal.
    Client gone(server.port());
    gone.send_all("GET /big HTTP/1.1\r\n\r\n");
    run_for(server, 20ms);
    REQUIRE(routes.seen.size() == 1);
    gone.reset();
  }
  {
    Client half(server.port());
    half.send_all("GET /metrics HTTP/1.1\r\n\r\n");
    half.close_now();  // before reading the answer
  }
  run_for(server, 100ms);
  CHECK(server.connection_count() == 0);
  Client after(server.port());
  CHECK(starts_with(after.exchange(server, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("listen errors say which address and why") {
  Routes routes;
  AdminServer first(routes.handler());
  listening(first);
  AdminServer second(routes.handler());
  std::string error;
  CHECK_FALSE(second.listen(conf::Address{"127.0.0.1", first.port()}, error));
  CHECK(error == "cannot listen on 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
  CHECK(second.port() == 0);
  CHECK_FALSE(second.listen(conf::Address{"localhost", 9901}, error));
  CHECK(error == "cannot listen on localhost:9901: not an IP address: localhost");
  std::vector<pollfd> fds;
  int timeout_ms = -1;
  CHECK(second.add_poll_fds(fds, timeout_ms) == 0);  // nothing to poll, no deadline
  CHECK(timeout_ms == -1);
}

TEST_CASE("listening again moves the port and keeps the connections; close_descriptors closes all") {
  Routes routes;
  AdminServer server(routes.handler());
  listening(server);
  uint16_t old_port = server.port();
  Client kept(server.port());
  kept.send_all("GET /metrics HTTP/1.1\r\n");  // not finished yet
  turn(server);
  listening(server);
  CHECK(server.port() != old_port);
  CHECK(server.connection_count() == 1);
  CHECK(starts_with(kept.exchange(server, "\r\n"), "HTTP/1.1 200 OK\r\n"));
  kept.close_now();
  Client open(server.port());
  turn(server);
  REQUIRE(server.connection_count() == 1);
  server.close_descriptors();
  CHECK(server.port() == 0);
  CHECK(server.connection_count() == 0);
  bool closed = false;
  open.read_to_close(server, closed, 200ms);
  CHECK(closed);
}

TEST_CASE("a handler may move the port or close every descriptor (a reload, a fork)") {
  AdminServer* self = nullptr;
  std::string error;
  AdminServer server([&](const HttpRequest& request) {
    if (request.path == "/move") CHECK(self->listen(conf::Address{"127.0.0.1", 0}, error));
    if (request.path == "/close") self->close_descriptors();
    return HttpResponse{};
  });
  self = &server;
  listening(server);
  uint16_t old_port = server.port();
  Client mover(server.port());
  CHECK(starts_with(mover.exchange(server, "GET /move HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
  CHECK(server.port() != old_port);
  Client closer(server.port());
  Client bystander(server.port());
  turn(server);
  closer.send_all("GET /close HTTP/1.1\r\n\r\n");
  bool closed = false;
  CHECK(closer.read_to_close(server, closed, 500ms).empty());  // closed before its answer could go
  CHECK(closed);
  bystander.read_to_close(server, closed, 500ms);
  CHECK(closed);
  CHECK(server.connection_count() == 0);
  CHECK(server.port() == 0);
}
