// Latency of each request in the manner of HdrHistogram: exact below 256 ns, then 128 buckets per
// power of two (each at most 1/128 = 0.8 % wide) up to 60 s, in a fixed 30 KiB whatever the run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rpcgate::loadgen {

class LatencyHistogram {
 public:
  static constexpr uint64_t kMaxNs = 60'000'000'000;  // longer latencies count as 60 s

  void record(uint64_t ns) {
    if (ns > kMaxNs) ns = kMaxNs;
    ++counts_[index_of(ns)];
    ++count_;
    if (ns > max_ns_) max_ns_ = ns;
  }

  uint64_t count() const { return count_; }
  uint64_t max_ns() const { return max_ns_; }

  // The value at or below which a fraction `q` (0 < q <= 1) of the recorded latencies lie, as the
  // upper end of its bucket (never above the largest recorded value); 0 when nothing was recorded.
  uint64_t percentile_ns(double q) const;

 private:
  static constexpr int kSubBits = 7;                   // 128 buckets per power of two
  static constexpr uint64_t kLinear = 2u << kSubBits;  // below 256 ns one bucket per ns
  static constexpr int kMaxShift = 35 - kSubBits;      // 2^35 <= 60 s < 2^36 ns
  static constexpr size_t kBuckets = kLinear + static_cast<size_t>(kMaxShift) * (kLinear / 2);

  static constexpr size_t index_of(uint64_t ns) {
    if (ns < kLinear) return static_cast<size_t>(ns);
    int shift = 63 - __builtin_clzll(ns) - kSubBits;  // >= 1: top 8 bits kept
    uint64_t sub = ns >> shift;                       // in [128, 256)
    return static_cast<size_t>(kLinear + static_cast<uint64_t>(shift - 1) * (kLinear / 2) + (sub - kLinear / 2));
  }
  static uint64_t upper_of(size_t index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ns_ = 0;
};

}  // namespace rpcgate::loadgen
