// The four load balancers behind make_load_balancer. Each pick is allocation-free in the common
// case: it runs once per upstream request, on the worker's loop.
#include "backends/load_balancer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <utility>

namespace rpcgate::backends {
namespace {

constexpr size_t kNone = LoadBalancer::kNone;

bool usable(std::span<const EndpointView> endpoints, size_t i) { return i < endpoints.size() && endpoints[i].usable; }

// The first usable index other than `avoid`, scanning from `start` and wrapping; `avoid` itself
// when it is the only usable one. Round robin and least_pending share this rotation.
size_t next_usable(std::span<const EndpointView> endpoints, size_t start, size_t avoid) {
  const size_t n = endpoints.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (endpoints[i].usable && i != avoid) return i;
  }
  return usable(endpoints, avoid) ? avoid : kNone;
}

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a spreads short keys poorly in the high bits, which is what lower_bound on the ring looks
// at; the finaliser fixes that. This ring is NOT compatible with twemproxy's MD5 ketama: a key
// lands on different endpoints than it would there. We accept that: no crypto dependency, and the
// ring only has to agree with itself across our own workers and restarts, which it does (it
// depends only on the endpoint names, not on their order, process or platform).
uint64_t hash_bytes(const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  return mix64(h);
}

uint64_t hash_text(std::string_view text) { return hash_bytes(text.data(), text.size()); }

// Equal weights: a plain rotation. Unequal: nginx's smooth weighted round robin, which spreads a
// heavy endpoint's turns out (a, b, a, c, a) instead of running them back to back.
class RoundRobin final : public LoadBalancer {
 public:
  void reset(const std::vector<std::string>& names, const std::vector<unsigned>& weights) override {
    next_ = names.empty() ? 0 : next_ % names.size();
    weighted_ = std::adjacent_find(weights.begin(), weights.end(), std::not_equal_to<>()) != weights.end();
    weights_.assign(weights.begin(), weights.end());
    current_.assign(weights.size(), 0);
  }

  size_t pick(const Request&, std::span<const EndpointView> endpoints, size_t avoid) override {
    if (endpoints.empty()) return kNone;
    if (weighted_ && weights_.size() == endpoints.size()) return pick_weighted(endpoints, avoid);
    const size_t chosen = next_usable(endpoints, next_ % endpoints.size(), avoid);
    if (chosen != kNone) next_ = (chosen + 1) % endpoints.size();
    return chosen;
  }

 private:
  size_t pick_weighted(std::span<const EndpointView> endpoints, size_t avoid) {
    int64_t total = 0;
    size_t best = kNone;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (!endpoints[i].usable || i == avoid) continue;
      current_[i] += weights_[i];
      total += weights_[i];
      if (best == kNone || current_[i] > current_[best]) best = i;
    }
    if (best == kNone) return usable(endpoints, avoid) ? avoid : kNone;
    current_[best] -= total;
    return best;
  }

  size_t next_ = 0;
  bool weighted_ = false;
  std::vector<int64_t> weights_;
  std::vector<int64_t> current_;
};

class Random final : public LoadBalancer {
 public:
  Random() {
    std::random_device device;
    const auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    state_ = mix64((uint64_t{device()} << 32 | device()) ^ now) | 1;  // xorshift must not start at 0
  }

  void reset(const std::vector<std::string>&, const std::vector<unsigned>& weights) override { weights_ = weights; }

  size_t pick(const Request&, std::span<const EndpointView> endpoints, size_t avoid) override {
    uint64_t total = 0;
    for (size_t i = 0; i < endpoints.size(); ++i)
      if (endpoints[i].usable && i != avoid) total += weight(i);
    if (total == 0) return usable(endpoints, avoid) ? avoid : kNone;
    // Modulo bias over 2^64 is far below anything a load test could see.
    uint64_t skip = next() % total;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (!endpoints[i].usable || i == avoid) continue;
      if (skip < weight(i)) return i;
      skip -= weight(i);
    }
    return kNone;  // unreachable: the weights summed to more than skip
  }

 private:
  uint64_t weight(size_t i) const { return i < weights_.size() ? weights_[i] : 1; }

  uint64_t next() {  // xorshift64*
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dULL;
  }

  uint64_t state_;
  std::vector<unsigned> weights_;
};

// Pending calls per unit of weight: a weight-2 endpoint is as loaded with 8 pending as a weight-1
// one with 4.
class LeastPending final : public LoadBalancer {
 public:
  void reset(const std::vector<std::string>&, const std::vector<unsigned>& weights) override { weights_ = weights; }

  size_t pick(const Request&, std::span<const EndpointView> endpoints, size_t avoid) override {
    const size_t n = endpoints.size();
    if (n == 0) return kNone;
    // Without a rotating start, ties (the idle case) would always go to the lowest index.
    const size_t start = start_++ % n;
    size_t best = kNone;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (start + k) % n;
      if (!endpoints[i].usable || i == avoid) continue;
      if (best == kNone || endpoints[i].pending * weight(best) < endpoints[best].pending * weight(i)) best = i;
    }
    if (best != kNone) return best;
    return usable(endpoints, avoid) ? avoid : kNone;
  }

 private:
  uint64_t weight(size_t i) const { return i < weights_.size() ? weights_[i] : 1; }

  size_t start_ = 0;
  std::vector<unsigned> weights_;
};

class ConsistentHash final : public LoadBalancer {
 public:
  explicit ConsistentHash(std::string_view hash_key) {
    if (hash_key.empty()) return;  // the first argument
    whole_params_ = true;
    if (hash_key == "params") return;
    if (hash_key.starts_with("params.")) hash_key.remove_prefix(7);
    while (true) {
      const size_t dot = hash_key.find('.');
      const std::string_view part = hash_key.substr(0, dot);
      Step step{std::string(part), 0, false};
      const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), step.index);
      step.is_index = ec == std::errc() && end == part.data() + part.size() && !part.empty();
      path_.push_back(std::move(step));
      if (dot == std::string_view::npos) break;
      hash_key.remove_prefix(dot + 1);
    }
  }

  // A weight-w endpoint has w times the points, so about w times the keys.
  void reset(const std::vector<std::string>& names, const std::vector<unsigned>& weights) override {
    ring_.clear();
    ring_.reserve(names.size() * kPointsPerEndpoint);
    for (size_t e = 0; e < names.size(); ++e) {
      const size_t points = kPointsPerEndpoint * (e < weights.size() ? weights[e] : 1);
      for (size_t i = 0; i < points; ++i)
        ring_.emplace_back(hash_text(names[e] + "-" + std::to_string(i)), static_cast<uint32_t>(e));
    }
    std::sort(ring_.begin(), ring_.end());  // a hash tie orders by index, the same in every worker
  }

  bool reads_params() const override { return true; }

  size_t pick(const Request& request, std::span<const EndpointView> endpoints, size_t avoid) override {
    if (endpoints.empty() || ring_.empty()) return kNone;
    const uint64_t h = hash_value(key_of(request.params));
    auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                               [](const std::pair<uint64_t, uint32_t>& point, uint64_t v) { return point.first < v; });
    size_t at = static_cast<size_t>(it - ring_.begin());
    // A down endpoint's keys go to the next points clockwise, i.e. where they would be if it
    // were removed, and come back when it is usable again. One lap bounds the walk.
    bool avoid_seen = false;
    for (size_t k = 0; k < ring_.size(); ++k, ++at) {
      const size_t i = ring_[at % ring_.size()].second;
      if (!usable(endpoints, i)) continue;
      if (i != avoid) return i;
      avoid_seen = true;
    }
    return avoid_seen ? avoid : kNone;
  }

 private:
  static constexpr size_t kPointsPerEndpoint = 160;

  struct Step {
    std::string key;  // object member name
    size_t index;     // array position, when the step is all digits
    bool is_index;
  };

  // A path that does not resolve yields null, so every such request hashes the same and lands
  // on one endpoint: a misconfigured hash_key concentrates load but never fails a request.
  const Json& key_of(const Json& params) const {
    static const Json kNull;
    if (!whole_params_) return params.is_array() && !params.empty() ? params.front() : params;
    const Json* value = &params;
    for (const Step& step : path_) {
      if (value->is_object()) {
        auto found = value->find(step.key);
        if (found == value->end()) return kNull;
        value = &*found;
      } else if (value->is_array() && step.is_index && step.index < value->size()) {
        value = &(*value)[step.index];
      } else {
        return kNull;
      }
    }
    return *value;
  }

  // Integers hash as their decimal text so that 7 and "7" (RESP sends everything as text) meet.
  static uint64_t hash_value(const Json& value) {
    switch (value.type()) {
      case Json::value_t::string:
        return hash_text(value.get_ref<const std::string&>());
      case Json::value_t::binary: {
        const auto& bytes = value.get_binary();
        return hash_bytes(bytes.data(), bytes.size());
      }
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned: {
        char text[24];
        const auto result = value.is_number_unsigned() ? std::to_chars(text, text + sizeof text, value.get<uint64_t>())
                                                       : std::to_chars(text, text + sizeof text, value.get<int64_t>());
        return hash_bytes(text, static_cast<size_t>(result.ptr - text));
      }
      case Json::value_t::null:
        return hash_text("null");
      default:  // replace, not throw, on invalid UTF-8 inside an object: no exceptions on the loop
        return hash_text(value.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }

  bool whole_params_ = false;                        // false: the first argument
  std::vector<Step> path_;                           // steps below params; empty means params itself
  std::vector<std::pair<uint64_t, uint32_t>> ring_;  // (point hash, endpoint index), sorted
};

}  // namespace

// An unknown name is a caller bug (the config loader validates it): nullptr, not a silent default.
std::unique_ptr<LoadBalancer> make_load_balancer(std::string_view name, std::string_view hash_key) {
  if (name == "round_robin") return std::make_unique<RoundRobin>();
  if (name == "random") return std::make_unique<Random>();
  if (name == "least_pending") return std::make_unique<LeastPending>();
  if (name == "consistent_hash") return std::make_unique<ConsistentHash>(hash_key);
  return nullptr;
}

}  // namespace rpcgate::backends
