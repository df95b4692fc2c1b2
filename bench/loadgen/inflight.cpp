// Slots for the requests in flight on one connection, allocated once.
#include "bench/loadgen/inflight.h"

namespace rpcgate::loadgen {

InFlight::InFlight(uint32_t capacity)
    : capacity_(capacity), slots_(capacity), used_(capacity, 0), free_(capacity), order_(capacity) {
  for (uint32_t i = 0; i < capacity; ++i) free_[i] = capacity - 1 - i;  // slot 0 on top
}

InFlightRequest& InFlight::push() {
  uint32_t slot = free_.back();
  free_.pop_back();
  used_[slot] = 1;
  order_[(head_ + size_) % capacity_] = slot;
  ++size_;
  InFlightRequest& request = slots_[slot];
  request.id = (next_sequence_++ << 16) | slot;
  return request;
}

void InFlight::pop_oldest() {
  uint32_t slot = order_[head_];
  used_[slot] = 0;
  free_.push_back(slot);
  head_ = (head_ + 1) % capacity_;
  --size_;
}

const InFlightRequest* InFlight::find(uint64_t id) const {
  uint64_t slot = id & (kMaxCapacity - 1);
  if (slot >= capacity_ || !used_[slot] || slots_[slot].id != id) return nullptr;
  return &slots_[slot];
}

void InFlight::remove(const InFlightRequest& request) {
  auto slot = static_cast<uint32_t>(&request - slots_.data());
  used_[slot] = 0;
  free_.push_back(slot);
  --size_;  // the order ring is not kept on this path: such protocols never ask for the oldest
}

}  // namespace rpcgate::loadgen
