// Request deadlines for one event loop, with one timer. Each distinct timeout gets a FIFO lane:
// calls with the same timeout expire in the order they started, so adding and removing are O(1)
// list operations with no allocation, and the next expiry is the earliest lane head. A gateway
// has a handful of distinct timeouts (one per route or cluster), so scanning lane heads is cheap.
#pragma once

#include <uv.h>

#include <cstdint>
#include <vector>

namespace rpcgate {

struct DeadlineNode {
  uint64_t due_ms = 0;
  DeadlineNode* prev = nullptr;
  DeadlineNode* next = nullptr;
  uint32_t lane = kUnlinked;
  void* owner = nullptr;  // what expires: handed back to the expiry callback

  static constexpr uint32_t kUnlinked = UINT32_MAX;
  bool linked() const { return lane != kUnlinked; }
};

class DeadlineQueue {
 public:
  using OnExpired = void (*)(void* context, DeadlineNode* node);

  DeadlineQueue(uv_loop_t* loop, OnExpired on_expired, void* context);
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  // Expires `node` `timeout_ms` from the loop's current time. The node must not be linked.
  void add(DeadlineNode* node, uint64_t timeout_ms);
  // Safe on an unlinked node.
  void remove(DeadlineNode* node);
  // Closes the timer; `on_closed` runs once libuv has released it.
  void close(uv_close_cb on_closed, void* data);

 private:
  struct Lane {
    uint64_t timeout_ms = 0;
    DeadlineNode* head = nullptr;
    DeadlineNode* tail = nullptr;
  };

  static void on_timer(uv_timer_t* timer);
  void expire_due();
  void arm();

  uv_loop_t* loop_;
  OnExpired on_expired_;
  void* context_;
  std::vector<Lane> lanes_;
  uv_timer_t timer_{};
  uint64_t armed_due_ms_ = UINT64_MAX;  // when the timer fires; UINT64_MAX when stopped
};

}  // namespace rpcgate
