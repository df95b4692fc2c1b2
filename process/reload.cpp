// The master's reload (SIGHUP, POST /reload): checks the new configuration, then starts a new
// generation of workers on it and retires the old one; or, when only certificate files can have
// changed, has the running workers read them again.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "admin/config_json.h"
#include "core/log.h"
#include "process/config_check.h"
#include "process/control_channel.h"
#include "process/master_internal.h"

namespace rpcgate {
namespace {

bool has_tls(const conf::Config& config) {
  return std::any_of(config.listeners.begin(), config.listeners.end(),
                     [](const auto& l) { return l.tls.has_value(); }) ||
         std::any_of(config.clusters.begin(), config.clusters.end(), [](const auto& c) { return c.tls.has_value(); });
}

// Whether `fresh` asks for nothing `running` does not, apart from what the certificate files
// hold: every setting (the effective configuration, every default filled in), and the secrets
// that view leaves out. A codec's loaded state (grpc's descriptors) cannot be compared: it
// counts as changed.
bool same_apart_from_certificates(const conf::Config& running, const conf::Config& fresh) {
  if (config_json(running) != config_json(fresh)) return false;
  for (size_t i = 0; i < running.listeners.size(); ++i) {
    const auto& a = running.listeners[i];
    const auto& b = fresh.listeners[i];
    if (a.codec_options.state || b.codec_options.state) return false;
    if (a.auth.has_value() != b.auth.has_value() || (a.auth && !(a.auth->users == b.auth->users))) return false;
  }
  for (size_t i = 0; i < running.clusters.size(); ++i) {
    const auto& a = running.clusters[i].codec_options;
    const auto& b = fresh.clusters[i].codec_options;
    if (a.state || b.state || a.auth_username != b.auth_username || a.auth_password != b.auth_password) return false;
  }
  return true;
}

}  // namespace

// SIGHUP: a valid new configuration starts a new generation of workers on it, which accept on
// the same listening sockets (new addresses are bound, dropped ones closed), and only then are
// the old workers told to drain, so no connection is refused. An invalid one changes nothing. One
// that differs from the running one only in what its certificate files hold keeps the workers
// and their connections (reload_certificates).
Master::ReloadOutcome Master::reload() {
  if (stopping_) return {false, "draining: no reload now"};
  notify_reloading();
  LOG_INFO("master: SIGHUP: reloading %s", path_.c_str());
  auto fresh = std::make_shared<conf::Config>();
  std::string error;
  if (!load_checked_config(path_, *fresh, error)) {
    // One line per problem, each with its timestamp, as log readers and greps expect.
    size_t start = 0;
    while (start < error.size()) {
      size_t end = std::min(error.find('\n', start), error.size());
      LOG_ERROR("master: reload refused: %.*s", static_cast<int>(end - start), error.data() + start);
      start = end + 1;
    }
    LOG_ERROR("master: the new configuration is invalid; still serving the previous one");
    return refuse(error);
  }
  if (fresh->process.model != config_->process.model) {
    std::string why = "process.model cannot change on reload (" + conf::to_string(config_->process.model) + " -> " +
                      conf::to_string(fresh->process.model) + "); restart rpcgate for that";
    LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
    return refuse(why);
  }
  if (fresh->process.model == conf::ProcessModel::kFork && fresh->process.max_children > stats_->size()) {
    std::string why = "process.max_children cannot grow past its value at start (" + std::to_string(stats_->size()) +
                      "), which sized the shared stats; restart rpcgate for that";
    LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
    return refuse(why);
  }
  if (!forking() && has_tls(*fresh) && same_apart_from_certificates(*config_, *fresh))
    return reload_certificates(std::move(fresh));
  unsigned count = fresh->process.model == conf::ProcessModel::kFork ? 0 : worker_count(*fresh);
  size_t live = slots_.size();
  if (live + count > stats_->size()) {
    std::string why = "too many workers still draining (" + std::to_string(live) + ") to start " +
                      std::to_string(count) + " more; reload again once they have exited";
    LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
    return refuse(why);
  }
  std::map<std::string, int> fds = listen_fds_;
  if (!bind_listeners(*fresh, fds)) {
    LOG_ERROR("master: still serving the previous configuration");
    return refuse("cannot listen on an address of the new configuration (see the log)");
  }
  // Sockets of addresses the new configuration dropped: the old workers keep their own copies
  // until they have drained.
  for (auto it = fds.begin(); it != fds.end();) {
    const std::string& address = it->first;
    bool kept = std::any_of(fresh->listeners.begin(), fresh->listeners.end(),
                            [&](const conf::ListenerConfig& l) { return l.address.to_string() == address; });
    if (kept) {
      ++it;
      continue;
    }
    LOG_INFO("master: closing the listening socket on %s", address.c_str());
    close(it->second);
    it = fds.erase(it);
  }
  listen_fds_ = std::move(fds);
  for (auto& slot : slots_) {
    slot.retiring = true;
    slot.respawn_pending = false;
  }
  config_ = std::move(fresh);
  apply_logging();
  configure_admin();
  configure_zookeeper();
  wait_for_discovery();
  spawn_generation(count);
  for (auto& slot : slots_)
    if (slot.generation < generation_) signal_worker(slot, SIGTERM);
  std::string outcome = forking() ? std::string("new connections are served with the new configuration")
                                  : std::to_string(count) + (count == 1 ? " worker" : " workers") + " of generation " +
                                        std::to_string(generation_) + " started; " + std::to_string(live) +
                                        (live == 1 ? " older worker" : " older workers") + " draining";
  LOG_INFO("master: configuration reloaded: %s", outcome.c_str());
  ++stats_->master().reloads;
  return {true, outcome};
}

// A reload that can only have changed certificate files: the workers keep running, with every
// connection they hold (idle ones too), and read the files again for the connections they accept
// from now on. The master has just loaded and checked those files (a bad one refused the reload
// before this); a worker that fails to read them, because they changed again since, says so and
// goes on with its current ones. A worker forked from now on (a respawn) starts from `fresh`.
Master::ReloadOutcome Master::reload_certificates(std::shared_ptr<conf::Config> fresh) {
  const bool level_from_admin = log_level_from_admin_;
  config_ = std::move(fresh);
  apply_logging();
  configure_admin();
  size_t told = 0;
  for (auto& slot : slots_) {
    if (slot.retiring || !slot.running() || slot.control < 0) continue;
    slot.control_out += control_frame(ControlKind::kReloadTls);
    // A worker process has its own log level, which POST /logging may have changed: the
    // reload sets the file's again, as new workers would have it.
    if (level_from_admin && slot.pid > 0)
      slot.control_out += control_frame(ControlKind::kLogLevel, config_->logging.level);
    write_control(slot);
    ++told;
  }
  std::string outcome = "only certificate files may have changed: " + std::to_string(told) +
                        (told == 1 ? " worker reads them" : " workers read them") +
                        " again for new connections; open connections stay with theirs";
  LOG_INFO("master: configuration reloaded: %s", outcome.c_str());
  ++stats_->master().reloads;
  return {true, outcome};
}

Master::ReloadOutcome Master::refuse(std::string why) {
  ++stats_->master().reload_failures;
  return {false, std::move(why)};
}

}  // namespace rpcgate
