// Reading percentiles back out of the latency histogram.
#include "bench/loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace rpcgate::loadgen {

uint64_t LatencyHistogram::upper_of(size_t index) {
  static_assert(index_of(kMaxNs) < kBuckets, "60 s has a bucket");
  if (index < kLinear) return index;
  size_t above = index - kLinear;
  int shift = static_cast<int>(above / (kLinear / 2)) + 1;
  uint64_t sub = kLinear / 2 + above % (kLinear / 2);
  return ((sub + 1) << shift) - 1;
}

uint64_t LatencyHistogram::percentile_ns(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_of(i), max_ns_);
  }
  return max_ns_;
}

}  // namespace rpcgate::loadgen
