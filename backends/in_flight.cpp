#include "backends/in_flight.h"

namespace rpcgate::backends {

uint64_t InFlight::add(PendingCall* call) {
  uint64_t seq = next_seq_++;
  if (by_id_)
    by_id_map_.emplace(seq, call);
  else
    ordered_.push_back(call);
  return seq;
}

void InFlight::forget_newest() {
  const uint64_t seq = --next_seq_;
  if (by_id_)
    by_id_map_.erase(seq);
  else
    ordered_.pop_back();
}

void InFlight::orphan(uint64_t seq) {
  PendingCall** slot = nullptr;
  if (by_id_) {
    auto found = by_id_map_.find(seq);
    if (found != by_id_map_.end()) slot = &found->second;
  } else if (seq >= front_seq_ && seq - front_seq_ < ordered_.size()) {
    slot = &ordered_[seq - front_seq_];
  }
  if (slot == nullptr || *slot == nullptr) return;
  *slot = nullptr;
  ++orphans_;
}

bool InFlight::take(std::optional<uint64_t> id, PendingCall*& call) {
  if (by_id_) {
    if (!id) return false;
    auto found = by_id_map_.find(*id);
    if (found == by_id_map_.end()) return false;
    call = found->second;
    by_id_map_.erase(found);
  } else {
    if (ordered_.empty()) return false;
    call = ordered_.front();
    ordered_.pop_front();
    ++front_seq_;
  }
  if (call == nullptr) --orphans_;
  return true;
}

}  // namespace rpcgate::backends
