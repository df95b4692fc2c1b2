#include "gateway/gateway.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

#include "backends/upstreams.h"
#include "core/listen_socket.h"
#include "core/log.h"
#include "gateway/access_log.h"
#include "gateway/connection.h"
#include "gateway/fd_passing.h"
#include "gateway/handler_registry.h"
#include "gateway/listener.h"

namespace rpcgate {
namespace {

constexpr uint64_t kSweepIntervalMs = 1000;

uint64_t unix_ms() {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + now.tv_usec / 1000;
}

}  // namespace

Gateway::Gateway(uv_loop_t* loop, const conf::Config& config, StatsTable& stats, size_t stats_slot)
    : loop_(loop),
      config_(config),
      stats_table_(stats),
      stats_slot_(stats_slot),
      stats_(stats.slot(stats_slot)),
      read_scratch_(std::make_unique_for_overwrite<char[]>(kReadScratchBytes)),
      to_pump_(loop, [](Connection* connection) { connection->pump(); }) {
  // A respawned worker takes over its slot: the totals go on, the dead one's connections are gone.
  stats_.pid.set(static_cast<uint64_t>(gettid()));  // the pid, or the thread id of a model-threads worker
  stats_.started_unix_ms.set(unix_ms());
  stats_.connections_active.set(0);
  for (auto& open : stats_.connections_by_listener) open.set(0);
  uv_timer_init(loop_, &sweep_timer_);
  uv_timer_init(loop_, &drain_timer_);
  sweep_timer_.data = this;
  drain_timer_.data = this;
}

Gateway::~Gateway() = default;

void Gateway::reopen_access_log() {
  if (access_log_) access_log_->reopen();
}

void Gateway::apply_discovery(const discovery::Snapshot& snapshot) {
  if (upstreams_ && !upstreams_closing_) upstreams_->apply_discovery(snapshot);
}

bool Gateway::start(const Sockets& sockets, std::string& error, const discovery::Snapshot* discovered) {
  if (config_.listeners.size() > Stats::kMaxListeners) {
    error = config_.path + ": at most " + std::to_string(Stats::kMaxListeners) + " listeners are supported";
    return false;
  }
  update_serving();  // a worker started while readiness is failed on purpose starts failed
  if (config_.logging.access_log) {
    access_log_ = std::make_unique<AccessLog>(loop_, config_.logging, stats_);
    if (!access_log_->open(error)) return false;
  }
  upstreams_ = std::make_unique<backends::Upstreams>(loop_, config_, stats_, read_scratch_.get(), kReadScratchBytes);
  if (!upstreams_->start(error)) return false;
  if (discovered != nullptr) upstreams_->apply_discovery(*discovered);
  HandlerContext context{config_, stats_table_, stats_slot_, upstreams_.get()};
  router_ = Router::build(config_, HandlerRegistry::standard(), context, error, upstreams_.get());
  if (!router_) return false;
  for (size_t i = 0; i < config_.listeners.size(); ++i) {
    const auto& listener_config = config_.listeners[i];
    const codec::CodecInfo* codec = codec::find_codec(listener_config.codec);
    if (codec == nullptr) {
      error = listener_config.origin.describe() + ": unknown codec '" + listener_config.codec + "'";
      return false;
    }
    auto* listener = new Listener(*this, listener_config, i, *codec);
    listeners_.push_back(listener);
    listener_by_index_.push_back(listener);
    if (sockets.passed_fds >= 0 || sockets.connection_fd >= 0) continue;  // the master accepts
    int fd = i < sockets.listen_fds.size() ? sockets.listen_fds[i] : -1;
    if (fd < 0) {  // not inherited from a master, which would have logged it
      fd = open_listen_socket(listener_config.address.host, listener_config.address.port, sockets.reuse_port, error);
      if (fd < 0) {
        error = listener_config.origin.describe() + ": listener " + listener_config.name + ": cannot listen on " +
                listener_config.address.to_string() + ": " + error;
        return false;
      }
      LOG_INFO("listener %s: %s on %s", listener_config.name.c_str(), listener_config.codec.c_str(),
               listener_config.address.to_string().c_str());
    }
    if (!listener->listen(fd, error)) return false;
  }
  if (sockets.connection_fd >= 0) {
    one_connection_ = true;
    if (sockets.connection_listener >= listeners_.size()) {
      error = "fork: a connection for an unknown listener";
      return false;
    }
    listener_by_index_[sockets.connection_listener]->adopt_fd(sockets.connection_fd);
  }
  if (sockets.passed_fds >= 0) {
    fd_receiver_ = new FdReceiver(
        loop_, [this](size_t i) { return i < listener_by_index_.size() ? listener_by_index_[i] : nullptr; });
    if (!fd_receiver_->open(sockets.passed_fds)) {
      error = "fdpass: cannot read connections from the master";
      return false;
    }
  }
  uv_timer_start(&sweep_timer_, &Gateway::on_sweep, kSweepIntervalMs, kSweepIntervalMs);
  return true;
}

void Gateway::reload_tls(const std::string& who) {
  if (draining_) return;  // its listeners are closed, and it is going
  std::string reloaded;
  auto note = [&](bool done, const char* kind, const std::string& name, const std::string& error) {
    if (done) {
      reloaded += (reloaded.empty() ? "" : ", ") + std::string(kind) + " " + name;
      return;
    }
    LOG_ERROR("%s: %s %s: TLS files not reloaded: %s; still using the ones loaded before", who.c_str(), kind,
              name.c_str(), error.c_str());
  };
  for (Listener* listener : listener_by_index_) {
    if (listener->tls_context() == nullptr) continue;
    std::string error;
    note(listener->reload_tls(error), "listener", listener->config().name, error);
  }
  if (upstreams_ && !upstreams_closing_) {
    for (const auto& cluster : upstreams_->clusters()) {
      if (cluster->tls_context() == nullptr) continue;
      std::string error;
      note(cluster->reload_tls(error), "cluster", cluster->config().name, error);
    }
  }
  if (!reloaded.empty())
    LOG_INFO("%s: TLS files read again for %s: new connections use them, open ones keep theirs", who.c_str(),
             reloaded.c_str());
}

void Gateway::add_connection(Connection* connection) {
  connection->next_ = connections_;
  if (connections_ != nullptr) connections_->prev_ = connection;
  connections_ = connection;
}

void Gateway::remove_connection(Connection* connection) {
  if (connection->prev_ != nullptr) connection->prev_->next_ = connection->next_;
  if (connection->next_ != nullptr) connection->next_->prev_ = connection->prev_;
  if (connections_ == connection) connections_ = connection->next_;
  connection->prev_ = connection->next_ = nullptr;
  if (draining_) finish_drain_if_done();
  if (one_connection_ && connections_ == nullptr && !draining_ && on_last_connection_) on_last_connection_();
}

void Gateway::defer_pump(Connection* connection) { to_pump_.schedule(connection); }

void Gateway::cancel_deferred_pump(Connection* connection) { to_pump_.cancel(connection); }

void Gateway::remove_listener(Listener* listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
  if (draining_) finish_drain_if_done();
}

void Gateway::on_sweep(uv_timer_t* timer) {
  auto* self = static_cast<Gateway*>(timer->data);
  self->update_serving();
  self->close_idle_connections();
  if (self->upstreams_ && !self->upstreams_closing_) self->upstreams_->update_gauges();
}

void Gateway::update_serving() {
  const bool serving = !draining_ && stats_table_.master().ready();
  if (serving == serving_) return;
  serving_ = serving;
  for (Connection* connection = connections_; connection != nullptr;) {
    Connection* next = connection->next_;  // flushing may close it
    connection->set_serving(serving);
    connection = next;
  }
}

void Gateway::close_idle_connections() {
  uint64_t now = now_ms();
  for (Connection* connection = connections_; connection != nullptr;) {
    Connection* next = connection->next_;
    // Idle limits differ per listener; the connection knows its own.
    connection->close_if_idle(now);
    connection = next;
  }
}

void Gateway::drain(std::function<void()> on_drained) {
  if (draining_) return;
  draining_ = true;
  serving_ = false;  // each connection's codec hears it with its drain
  on_drained_ = std::move(on_drained);
  if (one_connection_)
    LOG_DEBUG("draining: finishing the requests already read");
  else
    LOG_INFO("draining: listeners closed, finishing the requests already read");
  if (fd_receiver_ != nullptr) fd_receiver_->close();
  fd_receiver_ = nullptr;
  listener_by_index_.clear();
  for (Listener* listener : std::vector<Listener*>(listeners_)) listener->close();
  for (Connection* connection = connections_; connection != nullptr;) {
    Connection* next = connection->next_;
    connection->drain();
    connection = next;
  }
  // Sweep often now: draining connections close as soon as they have gone quiet.
  uv_timer_start(&sweep_timer_, &Gateway::on_sweep, Connection::kDrainQuietMs, Connection::kDrainQuietMs);
  auto timeout = static_cast<uint64_t>(config_.process.drain_timeout.count());
  uv_timer_start(&drain_timer_, &Gateway::on_drain_timeout, timeout, 0);
  finish_drain_if_done();
}

void Gateway::on_drain_timeout(uv_timer_t* timer) {
  auto* self = static_cast<Gateway*>(timer->data);
  self->drain_timed_out_ = true;
  size_t left = 0;
  for (Connection* connection = self->connections_; connection != nullptr; connection = connection->next_) ++left;
  LOG_WARN("drain_timeout reached: closing %zu connections that still had work", left);
  for (Connection* connection = self->connections_; connection != nullptr;) {
    Connection* next = connection->next_;
    connection->close();
    connection = next;
  }
}

void Gateway::finish_drain_if_done() {
  if (connections_ != nullptr || !listeners_.empty() || upstreams_closing_) return;
  // Upstream connections close last: the client connections' calls needed them until now.
  upstreams_closing_ = true;
  auto close_timers = [this] {
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
    to_pump_.close(nullptr, nullptr);
    if (access_log_) access_log_->close();
    if (one_connection_)
      LOG_DEBUG("drained: the connection closed");
    else
      LOG_INFO("drained: every connection closed");
    if (on_drained_) on_drained_();
  };
  if (upstreams_)
    upstreams_->close(close_timers);
  else
    close_timers();
}

}  // namespace rpcgate
