// Between the master's ZooKeeper session and the workers: what it watches and registers, and the
// control channels that carry each new snapshot of the endpoints (and the master's commands) to
// the workers and their "ready" back.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "process/control_channel.h"
#include "process/master_internal.h"

namespace rpcgate {
namespace {

using std::chrono::milliseconds;

// At start-up the workers wait this long at most for ZooKeeper's first answer, so they start with
// the endpoints; without an answer they start with none and get them when it comes.
constexpr milliseconds kInitialDiscoveryWait{3000};

}  // namespace

// Opens, keeps or closes the session for the current configuration, and sets what it watches
// and (once registering) publishes. The session survives a reload unless its settings change.
void Master::configure_zookeeper() {
  const conf::ZookeeperConfig& settings = config_->zookeeper;
  if (settings.servers.empty()) {
    if (zookeeper_) LOG_INFO("master: zookeeper is no longer configured; closing the session");
    zookeeper_.reset();
    return;
  }
  if (zookeeper_ && !zookeeper_->same_session_settings(settings)) {
    LOG_INFO("master: the zookeeper settings changed; opening a new session");
    zookeeper_.reset();
  }
  if (!zookeeper_) zookeeper_ = std::make_unique<discovery::ZooKeeperClient>(settings, *this);
  std::vector<std::string> paths;
  for (const auto& cluster : config_->clusters)
    if (!cluster.zookeeper_path.empty() && std::find(paths.begin(), paths.end(), cluster.zookeeper_path) == paths.end())
      paths.push_back(cluster.zookeeper_path);
  zookeeper_->set_watched_paths(paths);
  if (registering_) zookeeper_->set_registrations(wanted_registrations());
}

std::vector<discovery::ZooKeeperClient::Registration> Master::wanted_registrations() const {
  std::vector<discovery::ZooKeeperClient::Registration> wanted;
  for (const auto& registration : config_->zookeeper.registrations) {
    for (const auto& listener : config_->listeners) {
      if (listener.name != registration.listener) continue;
      const std::string& host = registration.advertise.empty() ? listener.address.host : registration.advertise;
      wanted.push_back({registration.path, discovery::node_data(host, listener.address.port)});
    }
  }
  return wanted;
}

// Blocks for the first answer about every watched path, at most kInitialDiscoveryWait.
void Master::wait_for_discovery() {
  if (!zookeeper_) return;
  auto deadline = Clock::now() + kInitialDiscoveryWait;
  while (!zookeeper_->all_synced() && Clock::now() < deadline) {
    int wait_ms = static_cast<int>(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
    pollfd fd{};
    zookeeper_->poll_interest(fd, wait_ms);
    if (poll(&fd, 1, std::max(wait_ms, 0)) < 0 && errno != EINTR) break;
    zookeeper_->process(fd.revents);
  }
  if (!zookeeper_->all_synced())
    LOG_WARN(
        "master: no answer from ZooKeeper within %lld ms; the workers start without the endpoints "
        "it has not given yet, and get them as soon as it answers",
        static_cast<long long>(kInitialDiscoveryWait.count()));
}

// The index of the ZooKeeper socket's entry in `polled`, or 0 for none; lowers `wait_ms` to
// the library's next timer.
size_t Master::add_zookeeper_interest(std::vector<pollfd>& polled, int& wait_ms) {
  if (!zookeeper_) return 0;
  pollfd fd{};
  zookeeper_->poll_interest(fd, wait_ms);
  polled.push_back(fd);
  return polled.size() - 1;
}

void Master::on_nodes_changed(const std::string&) {
  for (auto& slot : slots_)
    if (slot.control >= 0) slot.control_dirty = true;
  ++stats_->master().zookeeper_updates;
}

// Registration starts once every worker of the current generation serves.
bool Master::workers_ready() const {
  if (forking()) return true;  // the master itself accepts
  bool any = false;
  for (const auto& slot : slots_) {
    if (slot.retiring || slot.given_up) continue;
    if (!slot.ready) return false;
    any = true;
  }
  return any;
}

void Master::after_zookeeper_events() {
  if (!zookeeper_) return;
  send_snapshots();
  if (!registering_ && !stopping_ && !config_->zookeeper.registrations.empty() && workers_ready()) {
    registering_ = true;
    zookeeper_->set_registrations(wanted_registrations());
  }
  MasterStats& stats = stats_->master();
  stats.zookeeper_state.set(zookeeper_->state_code());
  stats.zookeeper_expiries.set(zookeeper_->session_expiries());
  stats.zookeeper_registered.set(zookeeper_->registered_count());
}

// Each worker owed the snapshot gets it whole, once the frame before it has gone: a slow
// worker holds one frame at most, however often the endpoints change.
void Master::send_snapshots() {
  std::string frame;
  for (auto& slot : slots_) {
    if (!slot.control_dirty || !slot.control_out.empty() || slot.control < 0) continue;
    if (frame.empty())
      frame = control_frame(ControlKind::kSnapshot, discovery::encode_snapshot(zookeeper_->snapshot()));
    slot.control_out = frame;
    slot.control_dirty = false;
    write_control(slot);
  }
}

void Master::close_control(WorkerSlot& slot) {
  if (slot.control >= 0) close(slot.control);
  slot.control = -1;
  slot.control_out.clear();
  slot.control_dirty = false;
}

void Master::service_control(int fd, short revents) {
  auto slot = std::find_if(slots_.begin(), slots_.end(), [fd](const WorkerSlot& s) { return s.control == fd; });
  if (slot == slots_.end()) return;
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    char bytes[64];
    ssize_t got = read(fd, bytes, sizeof bytes);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
      close_control(*slot);  // the worker is gone; SIGCHLD tells the rest
      return;
    }
    if (got > 0 && std::memchr(bytes, kControlReady, static_cast<size_t>(got)) != nullptr) slot->ready = true;
  }
  if (revents & POLLOUT) write_control(*slot);
}

void Master::write_control(WorkerSlot& slot) {
  while (!slot.control_out.empty()) {
    ssize_t wrote = write(slot.control, slot.control_out.data(), slot.control_out.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) close_control(slot);
      return;
    }
    slot.control_out.erase(0, static_cast<size_t>(wrote));
  }
}

}  // namespace rpcgate
