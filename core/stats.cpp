#include "core/stats.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace rpcgate {

void EndpointReport::publish(std::string_view text) {
  static constexpr std::string_view kTooLong = "{\"truncated\": true}";
  if (text.size() > kBytes) text = kTooLong;
  uint64_t sequence = sequence_.load(std::memory_order_relaxed);
  sequence_.store(sequence + 1, std::memory_order_relaxed);  // odd: writing
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(text_, text.data(), text.size());
  size_ = static_cast<uint32_t>(text.size());
  sequence_.store(sequence + 2, std::memory_order_release);
}

std::string EndpointReport::read() const {
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t before = sequence_.load(std::memory_order_acquire);
    if (before % 2 != 0) continue;
    uint32_t size = std::min<uint32_t>(size_, kBytes);
    std::string copy(text_, size);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) == before) return copy;
  }
  return {};
}

double HistogramTotals::percentile_us(double q) const {
  if (count == 0) return 0;
  const auto& bounds = LatencyHistogram::kBoundsUs;
  double rank = q * static_cast<double>(count);
  uint64_t below = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0 || static_cast<double>(below + buckets[i]) < rank) {
      below += buckets[i];
      continue;
    }
    if (i == bounds.size()) return static_cast<double>(bounds.back());
    double low = i == 0 ? 0.0 : static_cast<double>(bounds[i - 1]);
    double high = static_cast<double>(bounds[i]);
    return low + (high - low) * (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
  }
  return static_cast<double>(bounds.back());
}

std::unique_ptr<StatsTable> StatsTable::create(size_t slots) {
  static_assert(sizeof(Stats) % alignof(MasterStats) == 0);
  size_t bytes = sizeof(Stats) * slots + sizeof(MasterStats);
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  auto* stats = static_cast<Stats*>(memory);
  for (size_t i = 0; i < slots; ++i) new (&stats[i]) Stats();
  auto* master = new (&stats[slots]) MasterStats();
  return std::unique_ptr<StatsTable>(new StatsTable(stats, master, slots, bytes));
}

StatsTable::~StatsTable() {
  master_->~MasterStats();
  for (size_t i = 0; i < slots_; ++i) stats_[i].~Stats();
  munmap(stats_, bytes_);
}

}  // namespace rpcgate
