// rpcgate-floor: the least a server can do for PING, to tell how far rpcgate is from what this
// machine's kernel and loopback allow. One thread, one level-triggered epoll set, and no parser
// beyond finding where each frame ends: RESP PING (inline or as a multibulk) is answered +PONG,
// and every length-prefixed JSON frame gets the answer rpcgate gives a ping with null params.
// All the answers to one read leave in one write. SIGTERM or SIGINT ends it with status 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;

constexpr size_t kReadBytes = 64u << 10;       // a RESP frame must fit; JSON bodies stream past
constexpr uint32_t kMaxJsonFrame = 16u << 20;  // rpcgate's default max_frame_bytes
constexpr int64_t kMaxElements = 1024;         // of a RESP multibulk (PING has one)
constexpr int kMaxEvents = 256;
constexpr std::string_view kPong = "+PONG\r\n";
constexpr std::string_view kNotPing = "-ERR the floor server answers PING only\r\n";
// rpcgate's own bytes for {"in": "ping", "params": null}: the floor sends as much as it does.
constexpr std::string_view kJsonPong = "\x1f\x00\x00\x00{\"out\": \"pong\", \"result\": null}"sv;
static_assert(kJsonPong.size() == 4 + 0x1f);

enum class Codec { kResp, kJson };

struct Connection {
  int fd = -1;
  std::string pending;  // the start of a frame that one read did not complete
  std::string out;      // answers not yet written
  size_t out_sent = 0;
  bool in_json_body = false;
  uint32_t json_body_left = 0;
};

// Where the line starting at `pos` ends (its '\n'), or npos.
size_t line_end(std::string_view in, size_t pos) { return in.find('\n', pos); }

bool parse_count(std::string_view digits, int64_t& out) {
  if (!digits.empty() && digits.back() == '\r') digits.remove_suffix(1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
}

enum class Cut { kFrame, kSkip, kNeedMore, kBad };  // kSkip: a command that gets no answer

// One RESP command at `pos`: a multibulk of bulk strings or an inline line. Sets `ping` and moves
// `pos` past it.
Cut cut_resp(std::string_view in, size_t& pos, bool& ping) {
  size_t eol = line_end(in, pos);
  if (eol == std::string_view::npos) return Cut::kNeedMore;
  if (in[pos] != '*') {  // inline: the words of one line; only PING is answered as such
    std::string_view line = in.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    ping = line.size() == 4 && strncasecmp(line.data(), "ping", 4) == 0;
    return line.empty() ? Cut::kSkip : Cut::kFrame;
  }
  int64_t count = 0;
  if (!parse_count(in.substr(pos + 1, eol - pos - 1), count) || count > kMaxElements) return Cut::kBad;
  size_t at = eol + 1;
  ping = count == 1;
  for (int64_t i = 0; i < count; ++i) {
    size_t header_end = line_end(in, at);
    if (header_end == std::string_view::npos) return Cut::kNeedMore;
    int64_t length = 0;
    if (in[at] != '$' || !parse_count(in.substr(at + 1, header_end - at - 1), length) || length < 0 ||
        static_cast<size_t>(length) > kReadBytes)
      return Cut::kBad;
    size_t data = header_end + 1;
    if (in.size() < data + static_cast<size_t>(length) + 2) return Cut::kNeedMore;
    ping = ping && length == 4 && strncasecmp(in.data() + data, "ping", 4) == 0;
    at = data + static_cast<size_t>(length) + 2;
  }
  pos = at;
  return count > 0 ? Cut::kFrame : Cut::kSkip;  // *0 and *-1 get no answer, as in Redis
}

class FloorServer {
 public:
  FloorServer(Codec codec, int listen_fd, int signal_fd)
      : codec_(codec), listen_fd_(listen_fd), signal_fd_(signal_fd) {}

  int serve() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0 || !watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD) || !watch(signal_fd_, EPOLLIN, EPOLL_CTL_ADD)) {
      std::perror("rpcgate-floor: epoll");
      return 1;
    }
    std::vector<epoll_event> events(kMaxEvents);
    for (;;) {
      int ready = epoll_wait(epoll_fd_, events.data(), kMaxEvents, -1);
      if (ready < 0 && errno != EINTR) {
        std::perror("rpcgate-floor: epoll_wait");
        return 1;
      }
      for (int i = 0; i < ready; ++i) {
        int fd = events[i].data.fd;
        if (fd == signal_fd_) return 0;
        if (fd == listen_fd_) {
          on_accept();
          continue;
        }
        if (static_cast<size_t>(fd) >= connections_.size() || !connections_[fd]) continue;
        Connection& c = *connections_[fd];
        if (events[i].events & EPOLLOUT)
          on_writable(c);
        else
          on_readable(c);
      }
    }
  }

  ~FloorServer() {
    for (auto& c : connections_)
      if (c) close(c->fd);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

 private:
  bool watch(int fd, uint32_t events, int op) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    return epoll_ctl(epoll_fd_, op, fd, &event) == 0;
  }

  void on_accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {  // stop accepting until a connection closes
          watch(listen_fd_, 0, EPOLL_CTL_MOD);
          accept_paused_ = true;
        }
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<size_t>(fd) >= connections_.size()) connections_.resize(static_cast<size_t>(fd) + 1);
      connections_[fd] = std::make_unique<Connection>();
      connections_[fd]->fd = fd;
      if (!watch(fd, EPOLLIN, EPOLL_CTL_ADD)) drop(*connections_[fd]);
    }
  }

  void on_readable(Connection& c) {
    // What the last read left unfinished goes first; then one read fills the rest.
    size_t kept = c.pending.size();
    std::memcpy(buffer_, c.pending.data(), kept);
    ssize_t n = read(c.fd, buffer_ + kept, kReadBytes - kept);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      drop(c);
      return;
    }
    std::string_view in(buffer_, kept + static_cast<size_t>(n));
    size_t used = codec_ == Codec::kResp ? answer_resp(c, in) : answer_json(c, in);
    if (used == std::string_view::npos || (used == 0 && in.size() == kReadBytes)) {
      drop(c);  // a bad frame, or one larger than the buffer
      return;
    }
    c.pending.assign(in.substr(used));
    on_writable(c);
  }

  // Answers every whole command in `in`; returns the bytes used, or npos on a bad frame.
  size_t answer_resp(Connection& c, std::string_view in) {
    size_t pos = 0;
    for (;;) {
      size_t at = pos;
      bool ping = false;
      Cut cut = cut_resp(in, at, ping);
      if (cut == Cut::kBad) return std::string_view::npos;
      if (cut == Cut::kNeedMore) return pos;
      if (cut == Cut::kFrame) c.out += ping ? kPong : kNotPing;
      pos = at;
    }
  }

  // Answers every frame whose body has passed; bodies are skipped as they come, never kept.
  size_t answer_json(Connection& c, std::string_view in) {
    size_t pos = 0;
    for (;;) {
      if (c.in_json_body) {
        size_t take = std::min<size_t>(c.json_body_left, in.size() - pos);
        pos += take;
        c.json_body_left -= static_cast<uint32_t>(take);
        if (c.json_body_left > 0) return pos;
        c.in_json_body = false;
        c.out += kJsonPong;
      }
      if (in.size() - pos < 4) return pos;
      uint32_t length = 0;
      for (size_t i = 0; i < 4; ++i)
        length |= static_cast<uint32_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
      if (length > kMaxJsonFrame) return std::string_view::npos;
      pos += 4;
      c.in_json_body = true;
      c.json_body_left = length;
    }
  }

  // Writes what is owed; while some is left, reading stops (the output stays bounded by a read).
  void on_writable(Connection& c) {
    if (c.out_sent < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop(c);
        return;
      }
      if (n > 0) c.out_sent += static_cast<size_t>(n);
    }
    bool done = c.out_sent == c.out.size();
    if (done) {
      c.out.clear();
      c.out_sent = 0;
    }
    watch(c.fd, done ? EPOLLIN : EPOLLOUT, EPOLL_CTL_MOD);
  }

  void drop(Connection& c) {
    int fd = c.fd;
    close(fd);
    connections_[fd].reset();
    if (accept_paused_) accept_paused_ = !watch(listen_fd_, EPOLLIN, EPOLL_CTL_MOD);
  }

  Codec codec_;
  int listen_fd_, signal_fd_;
  int epoll_fd_ = -1;
  bool accept_paused_ = false;
  std::vector<std::unique_ptr<Connection>> connections_;  // by descriptor
  char buffer_[kReadBytes];
};

constexpr std::string_view kUsage =
    R"(rpcgate-floor: the least a server can do for PING, a floor to measure rpcgate against.

usage: rpcgate-floor [--port P] [--codec resp|json]

  --port P         port on 127.0.0.1 (default 0: any free port, printed)
  --codec resp     answer PING (inline PING\r\n, or *1\r\n$4\r\nPING\r\n) with +PONG; any other
                   command gets -ERR (default)
  --codec json     answer each frame (4-byte little-endian length, any body up to 16 MiB) with
                   {"out": "pong", "result": null}, without looking at the body
  --help           this text

It prints "listening on 127.0.0.1:PORT" once ready; SIGTERM or SIGINT ends it (status 0).
)";

}  // namespace

int main(int argc, char** argv) {
  Codec codec = Codec::kResp;
  uint16_t port = 0;
  for (int i = 1; i < argc; i += 2) {  // --option value pairs
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return 0;
    }
    std::string_view value = i + 1 < argc ? argv[i + 1] : "";
    bool ok = i + 1 < argc;
    if (arg == "--port") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
      ok = ok && ec == std::errc() && end == value.data() + value.size();
    } else if (arg == "--codec") {
      ok = ok && (value == "resp" || value == "json");
      codec = value == "json" ? Codec::kJson : Codec::kResp;
    } else {
      std::fprintf(stderr, "rpcgate-floor: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "rpcgate-floor: bad or missing value for %s (see --help)\n", argv[i]);
      return 2;
    }
  }

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int signal_fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);

  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (signal_fd < 0 || listen_fd < 0 || bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listen_fd, SOMAXCONN) != 0 || getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    std::fprintf(stderr, "rpcgate-floor: cannot listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", ntohs(address.sin_port));
  std::fflush(stdout);

  auto server = std::make_unique<FloorServer>(codec, listen_fd, signal_fd);  // 64 KiB buffer: not on the stack
  int status = server->serve();
  server.reset();
  close(listen_fd);
  close(signal_fd);
  return status;
}
