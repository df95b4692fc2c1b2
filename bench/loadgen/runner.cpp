// The load generator's event loop: connect, then per readable connection one read, every whole
// answer judged, and the freed pipeline slots refilled with one write.
#include "bench/loadgen/runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "bench/loadgen/report.h"

namespace rpcgate::loadgen {
namespace {

constexpr int kConnectTimeoutMs = 5000;
constexpr int kMaxEvents = 256;
constexpr size_t kShownAnswerBytes = 120;
constexpr size_t kNoConnection = SIZE_MAX;  // an error of the whole run

// A connected, non-blocking TCP socket with Nagle off, or -1 with the reason in `error`.
int connect_ipv4(const std::string& host, uint16_t port, std::string& error) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);  // checked with the options
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  int status = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    status = errno;
    if (status == EINPROGRESS) {
      pollfd wait{fd, POLLOUT, 0};
      int ready = ::poll(&wait, 1, kConnectTimeoutMs);
      socklen_t size = sizeof status;
      if (ready == 0)
        status = ETIMEDOUT;
      else if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &size) != 0)
        status = errno;
    }
  }
  int one = 1;
  if (status == 0 && ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) status = errno;
  if (status != 0) {
    error = std::strerror(status);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

uint64_t now_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

Runner::~Runner() {
  connections_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Runner::connect(size_t max_request_bytes, std::string& error) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  for (uint32_t i = 0; i < options_.connections; ++i) {
    std::string why;
    int fd = connect_ipv4(options_.host, options_.port, why);
    if (fd < 0) {
      error = "cannot connect to " + options_.host + ":" + std::to_string(options_.port) + " (connection " +
              std::to_string(i + 1) + " of " + std::to_string(options_.connections) + "): " + why;
      return false;
    }
    connections_.push_back(std::make_unique<Connection>(fd, options_.pipeline, max_request_bytes));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      error = std::string("epoll_ctl: ") + std::strerror(errno);
      return false;
    }
    ++open_;
  }
  return true;
}

void Runner::run(Workload& workload, uint64_t count, uint64_t deadline_ns, bool timed, RunResult& result) {
  workload_ = &workload;
  result_ = &result;
  timed_ = timed;
  next_sequence_ = 0;
  end_sequence_ = count;
  in_flight_ = 0;
  uint64_t start = now_ns();
  for (size_t i = 0; i < connections_.size(); ++i)
    if (connections_[i]->open()) fill(*connections_[i], i);

  std::array<epoll_event, kMaxEvents> events{};
  while (open_ > 0 && (next_sequence_ < end_sequence_ || in_flight_ > 0)) {
    uint64_t now = now_ns();
    if (now >= deadline_ns) {
      result.timed_out = true;
      // A run cut short is a normal end, unless nothing at all came back: that server is stuck.
      if (result.answered == 0) note_error(kNoConnection, "no answer at all before the --duration bound", {});
      break;
    }
    int timeout_ms = static_cast<int>(std::min<uint64_t>((deadline_ns - now + 999'999) / 1'000'000, 1000));
    int ready = ::epoll_wait(epoll_fd_, events.data(), kMaxEvents, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      note_error(kNoConnection, std::string("epoll_wait: ") + std::strerror(errno), {});
      break;
    }
    for (int e = 0; e < ready; ++e) {
      auto index = static_cast<size_t>(events[e].data.u64);
      Connection& connection = *connections_[index];
      if (connection.open() && (events[e].events & EPOLLOUT)) flush(connection, index);
      if (connection.open() && (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(connection, index);
    }
  }
  result.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
}

void Runner::on_readable(Connection& connection, size_t index) {
  IoStatus status = connection.read();
  if (status == IoStatus::kWouldBlock) return;
  if (status == IoStatus::kOk) take_answers(connection, index, now_ns());
  if (!connection.open()) return;
  switch (status) {
    case IoStatus::kClosed:
      fail(connection, index,
           "the server closed the connection with " + std::to_string(connection.in_flight().size()) +
               (connection.in_flight().size() == 1 ? " request" : " requests") + " unanswered",
           connection.input());
      return;
    case IoStatus::kError:
      fail(connection, index, std::string("read failed: ") + std::strerror(errno), connection.input());
      return;
    case IoStatus::kTooLarge:
      fail(connection, index, "an answer larger than 16 MiB", connection.input());
      return;
    default:
      fill(connection, index);
  }
}

void Runner::take_answers(Connection& connection, size_t index, uint64_t now) {
  bool in_order = workload_->answers_in_order();
  InFlight& in_flight = connection.in_flight();
  while (connection.open() && !connection.input().empty()) {
    std::string_view input = connection.input();
    if (in_order && in_flight.size() == 0) {
      fail(connection, index, "an answer with no request in flight", input);
      return;
    }
    Checked checked = workload_->check(input, in_order ? &in_flight.oldest() : nullptr);
    if (checked.verdict == Verdict::kNeedMore) return;
    if (checked.verdict == Verdict::kBroken) {
      fail(connection, index, checked.why, input);
      return;
    }
    const InFlightRequest* request = in_order ? &in_flight.oldest() : in_flight.find(checked.id);
    ++result_->answered;
    std::string_view answer = input.substr(0, checked.consumed);
    if (request == nullptr) {
      note_error(index, checked.verdict == Verdict::kGood ? "an answer to an id not in flight" : checked.why, answer);
    } else {
      if (checked.verdict == Verdict::kGood) {
        if (timed_) result_->latency.record(now - request->sent_ns);
      } else {
        note_error(index, checked.why, answer);
      }
      if (in_order)
        in_flight.pop_oldest();
      else
        in_flight.remove(*request);
      --in_flight_;
    }
    connection.consume(checked.consumed);
  }
}

void Runner::fill(Connection& connection, size_t index) {
  uint64_t count = std::min<uint64_t>(connection.in_flight().room(), end_sequence_ - next_sequence_);
  if (count == 0) return;
  connection.append(*workload_, next_sequence_, static_cast<uint32_t>(count), now_ns());
  in_flight_ += count;
  flush(connection, index);
}

void Runner::flush(Connection& connection, size_t index) {
  if (connection.flush() == IoStatus::kError) {
    fail(connection, index, std::string("write failed: ") + std::strerror(errno), {});
    return;
  }
  if (connection.unsent() == connection.watching_write) return;
  connection.watching_write = connection.unsent();
  epoll_event event{};
  event.events = EPOLLIN | (connection.watching_write ? EPOLLOUT : 0u);
  event.data.u64 = index;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd(), &event);
}

void Runner::fail(Connection& connection, size_t index, std::string_view why, std::string_view answer) {
  note_error(index, why, answer);
  in_flight_ -= connection.in_flight().size();
  connection.close();  // closing the descriptor takes it out of the epoll set
  --open_;
}

void Runner::note_error(size_t index, std::string_view why, std::string_view answer) {
  ++result_->errors;
  if (!result_->first_error.empty()) return;
  if (index != kNoConnection) result_->first_error = "connection " + std::to_string(index + 1) + ": ";
  result_->first_error += why;
  if (!answer.empty()) result_->first_error += ": " + escaped(answer, kShownAnswerBytes);
}

}  // namespace rpcgate::loadgen
