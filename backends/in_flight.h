// The requests sent on one upstream connection and not yet answered, matched to replies in send
// order (json, resp) or by the id the gateway gave them (protobuf). A request whose caller gave
// up (timeout, client gone) stays as an orphan until its late reply arrives, so that the replies
// after it still match their requests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rpcgate {
struct PendingCall;
}

namespace rpcgate::backends {

class InFlight {
 public:
  explicit InFlight(bool by_id) : by_id_(by_id) {}

  // Records `call` as sent next; returns its sequence number (its id on the wire when by id).
  uint64_t add(PendingCall* call);
  // Takes back the request add() recorded last: it never reached the wire (its encode failed).
  void forget_newest();
  // The caller of `seq` gave up; its reply will be dropped.
  void orphan(uint64_t seq);
  // Records a request sent for no caller at all: its reply is dropped.
  void add_orphan() {
    add(nullptr);
    ++orphans_;
  }
  // The request a reply answers: the oldest one (in order) or the one with `id`. Returns false
  // when nothing matches (a reply nobody asked for: the upstream is confused). `call` is null
  // for an orphan.
  bool take(std::optional<uint64_t> id, PendingCall*& call);
  // The live calls, oldest first, leaving the set empty: for a connection that closes.
  template <typename F>
  void drain(F&& each);

  size_t size() const { return by_id_ ? by_id_map_.size() : ordered_.size(); }
  size_t live() const { return size() - orphans_; }
  // In order only: the next reply belongs to a request nobody waits for, and every request
  // behind it waits on that late reply.
  bool head_orphaned() const { return !by_id_ && !ordered_.empty() && ordered_.front() == nullptr; }
  // The front call in order, for choosing how to read its reply; null for an orphan or by id.
  PendingCall* head() const { return by_id_ || ordered_.empty() ? nullptr : ordered_.front(); }
  uint64_t next_seq() const { return next_seq_; }

 private:
  bool by_id_;
  uint64_t next_seq_ = 1;
  uint64_t front_seq_ = 1;  // in order: the seq of ordered_.front()
  size_t orphans_ = 0;
  std::deque<PendingCall*> ordered_;
  std::unordered_map<uint64_t, PendingCall*> by_id_map_;
};

template <typename F>
void InFlight::drain(F&& each) {
  if (by_id_) {
    std::vector<std::pair<uint64_t, PendingCall*>> calls(by_id_map_.begin(), by_id_map_.end());
    by_id_map_.clear();
    std::sort(calls.begin(), calls.end());  // oldest first, as in order
    for (auto& [seq, call] : calls)
      if (call != nullptr) each(call);
  } else {
    auto calls = std::move(ordered_);
    ordered_.clear();
    front_seq_ = next_seq_;
    for (PendingCall* call : calls)
      if (call != nullptr) each(call);
  }
  orphans_ = 0;
}

}  // namespace rpcgate::backends
