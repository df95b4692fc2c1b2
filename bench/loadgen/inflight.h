// The requests one connection has sent and not yet seen answered, at most --pipeline of them.
// RESP and JSON answer in request order, so the answer in hand is the oldest request's; protobuf
// answers in completion order and names the request by its id, which encodes the request's slot.
#pragma once

#include <cstdint>
#include <vector>

namespace rpcgate::loadgen {

struct InFlightRequest {
  uint64_t id = 0;       // protobuf's request id: (sequence << 16) | slot, never 0
  uint64_t key = 0;      // resp set/get: the key number, to know the value the answer must hold
  uint64_t sent_ns = 0;  // when the write that carried it began
};

class InFlight {
 public:
  static constexpr uint32_t kMaxCapacity = 1u << 16;  // the slot must fit the id's low 16 bits

  explicit InFlight(uint32_t capacity);

  uint32_t size() const { return size_; }
  uint32_t room() const { return capacity_ - size_; }

  // A slot for a new request, with a fresh id; the caller fills in the rest.
  InFlightRequest& push();

  // The oldest request (size() > 0), and dropping it: for answers in request order.
  const InFlightRequest& oldest() const { return slots_[order_[head_]]; }
  void pop_oldest();

  // The request `id` names, if it is in flight, and dropping it: for answers matched by id.
  const InFlightRequest* find(uint64_t id) const;
  void remove(const InFlightRequest& request);

 private:
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint64_t next_sequence_ = 1;
  std::vector<InFlightRequest> slots_;
  std::vector<uint8_t> used_;
  std::vector<uint32_t> free_;   // a stack of free slot numbers
  std::vector<uint32_t> order_;  // a ring of slot numbers, oldest first (request-order protocols)
  uint32_t head_ = 0;
};

}  // namespace rpcgate::loadgen
