#include "backends/upstreams.h"

#include <algorithm>

#include "backends/health_checker.h"
#include "backends/upstream_connection.h"

namespace rpcgate::backends {

Upstreams::Upstreams(uv_loop_t* loop, const conf::Config& config, char* read_scratch, size_t scratch_bytes)
    : loop_(loop),
      config_(config),
      read_scratch_(read_scratch),
      scratch_bytes_(scratch_bytes),
      deadlines_(loop, &Upstreams::on_deadline, this) {
  uv_prepare_init(loop_, &flush_hook_);
  flush_hook_.data = this;
}

Upstreams::~Upstreams() = default;

bool Upstreams::start(std::string& error) {
  for (const auto& cluster_config : config_.clusters) {
    const codec::CodecInfo* codec = codec::find_codec(cluster_config.codec);
    if (codec == nullptr) {
      error = cluster_config.origin.describe() + ": unknown codec '" + cluster_config.codec + "'";
      return false;
    }
    clusters_.push_back(std::make_unique<Cluster>(*this, cluster_config, *codec));
    if (!cluster_config.health_check.method.empty()) {
      checkers_.push_back(std::make_unique<HealthChecker>(*clusters_.back()));
      checkers_.back()->start();
    }
  }
  return true;
}

Cluster* Upstreams::find(std::string_view name) const {
  for (const auto& cluster : clusters_)
    if (cluster->config().name == name) return cluster.get();
  return nullptr;
}

void Upstreams::on_deadline(void*, DeadlineNode* node) {
  auto* call = static_cast<PendingCall*>(node->owner);
  call->upstream.cluster->on_deadline(call);
}

void Upstreams::schedule_flush(UpstreamConnection* connection) {
  if (connection->flush_scheduled_) return;
  connection->flush_scheduled_ = true;
  if (to_flush_.empty()) uv_prepare_start(&flush_hook_, &Upstreams::on_prepare);
  to_flush_.push_back(connection);
}

void Upstreams::unschedule_flush(UpstreamConnection* connection) {
  if (!connection->flush_scheduled_) return;
  connection->flush_scheduled_ = false;
  std::replace(to_flush_.begin(), to_flush_.end(), connection, static_cast<UpstreamConnection*>(nullptr));
}

void Upstreams::on_prepare(uv_prepare_t* prepare) { static_cast<Upstreams*>(prepare->data)->flush_all(); }

void Upstreams::flush_all() {
  // Runs just before the loop polls: every request queued this iteration leaves in one write
  // per connection. A flush that fails closes its connection, which may queue retries on
  // others: those are written in this same pass.
  for (size_t i = 0; i < to_flush_.size(); ++i) {
    UpstreamConnection* connection = to_flush_[i];
    if (connection == nullptr) continue;
    connection->flush_scheduled_ = false;
    connection->flush();
  }
  to_flush_.clear();
  uv_prepare_stop(&flush_hook_);
}

void Upstreams::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  for (auto& checker : checkers_) checker->close();
  for (auto& cluster : clusters_) cluster->close();
  auto on_handle_closed = [](uv_handle_t* handle) { static_cast<Upstreams*>(handle->data)->handle_closed(); };
  deadlines_.close(on_handle_closed, this);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_hook_), on_handle_closed);
}

void Upstreams::handle_closed() {
  if (--open_handles_ == 0 && closing_ && on_closed_) {
    auto done = std::move(on_closed_);
    on_closed_ = nullptr;
    done();
  }
}

}  // namespace rpcgate::backends
