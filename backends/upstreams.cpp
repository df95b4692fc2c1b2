#include "backends/upstreams.h"

#include <algorithm>

#include "backends/health_checker.h"

namespace rpcgate::backends {

Upstreams::Upstreams(uv_loop_t* loop, const conf::Config& config, Stats& stats, char* read_scratch,
                     size_t scratch_bytes)
    : loop_(loop),
      config_(config),
      stats_(stats),
      read_scratch_(read_scratch),
      scratch_bytes_(scratch_bytes),
      deadlines_(loop, &Upstreams::on_deadline, this),
      to_flush_(loop, [](UpstreamConnection* connection) { connection->flush(); }) {}

Upstreams::~Upstreams() = default;

bool Upstreams::start(std::string& error) {
  for (const auto& cluster_config : config_.clusters) {
    const codec::CodecInfo* codec = codec::find_codec(cluster_config.codec);
    if (codec == nullptr) {
      error = cluster_config.origin.describe() + ": unknown codec '" + cluster_config.codec + "'";
      return false;
    }
    size_t index = clusters_.size();
    ClusterStats& counters = index < Stats::kMaxClusters ? stats_.clusters[index] : uncounted_;
    // A respawned worker takes over its slot: the totals go on, the dead one's gauges are gone.
    counters.pending.set(0);
    counters.connections.set(0);
    counters.pinned.set(0);
    counters.endpoints.set(cluster_config.endpoints.size());
    counters.endpoints_usable.set(cluster_config.endpoints.size());
    clusters_.push_back(std::make_unique<Cluster>(*this, cluster_config, *codec, counters));
    if (!cluster_config.health_check.method.empty()) {
      checkers_.push_back(std::make_unique<HealthChecker>(*clusters_.back()));
      checkers_.back()->start();
    }
  }
  update_gauges();
  return true;
}

Cluster* Upstreams::find(std::string_view name) const {
  for (const auto& cluster : clusters_)
    if (cluster->config().name == name) return cluster.get();
  return nullptr;
}

void Upstreams::apply_discovery(const discovery::Snapshot& snapshot) {
  for (auto& cluster : clusters_) {
    const conf::ClusterConfig& config = cluster->config();
    if (config.zookeeper_path.empty()) continue;
    auto nodes = snapshot.find(config.zookeeper_path);
    if (nodes == snapshot.end()) continue;
    cluster->set_endpoints(discovery::select_endpoints(nodes->second, config.zookeeper_prefix));
  }
  update_gauges();
}

void Upstreams::update_gauges() {
  uint64_t now = now_ms();
  Json report = Json::object();
  for (auto& cluster : clusters_) {
    auto& endpoints = cluster->endpoints();
    size_t usable = std::count_if(endpoints.begin(), endpoints.end(), [now](const auto& e) { return e->usable(now); });
    cluster->stats().endpoints.set(endpoints.size());
    cluster->stats().endpoints_usable.set(usable);
    Json list = Json::array();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const Endpoint& endpoint = *endpoints[i];
      list.push_back({{"address", endpoint.name()},
                      {"weight", cluster->weights()[i]},
                      {"health", endpoint.health(now)},
                      {"pending", endpoint.pending()},
                      {"connections", endpoint.connections()}});
    }
    report[cluster->config().name] = {{"endpoints", std::move(list)}, {"leaving", cluster->retired().size()}};
  }
  stats_.endpoints.publish(report.dump());
}

void Upstreams::on_deadline(void*, DeadlineNode* node) {
  auto* call = static_cast<PendingCall*>(node->owner);
  call->upstream.cluster->on_deadline(call);
}

void Upstreams::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  for (auto& checker : checkers_) checker->close();
  for (auto& cluster : clusters_) cluster->close();
  auto on_handle_closed = [](uv_handle_t* handle) { static_cast<Upstreams*>(handle->data)->handle_closed(); };
  deadlines_.close(on_handle_closed, this);
  to_flush_.close(on_handle_closed, this);
}

void Upstreams::handle_closed() {
  if (--open_handles_ == 0 && closing_ && on_closed_) {
    auto done = std::move(on_closed_);
    on_closed_ = nullptr;
    done();
  }
}

}  // namespace rpcgate::backends
