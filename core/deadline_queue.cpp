#include "core/deadline_queue.h"

namespace rpcgate {

DeadlineQueue::DeadlineQueue(uv_loop_t* loop, OnExpired on_expired, void* context)
    : loop_(loop), on_expired_(on_expired), context_(context) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

void DeadlineQueue::add(DeadlineNode* node, uint64_t timeout_ms) {
  uint32_t lane = 0;
  while (lane < lanes_.size() && lanes_[lane].timeout_ms != timeout_ms) ++lane;
  if (lane == lanes_.size()) lanes_.push_back(Lane{timeout_ms, nullptr, nullptr});
  Lane& target = lanes_[lane];
  node->due_ms = uv_now(loop_) + timeout_ms;
  node->lane = lane;
  node->next = nullptr;
  node->prev = target.tail;
  if (target.tail != nullptr)
    target.tail->next = node;
  else
    target.head = node;
  target.tail = node;
  if (node->due_ms < armed_due_ms_) arm();
}

void DeadlineQueue::remove(DeadlineNode* node) {
  if (!node->linked()) return;
  Lane& lane = lanes_[node->lane];
  (node->prev != nullptr ? node->prev->next : lane.head) = node->next;
  (node->next != nullptr ? node->next->prev : lane.tail) = node->prev;
  node->prev = node->next = nullptr;
  node->lane = DeadlineNode::kUnlinked;
  // The timer is left as it is: if it fires early it finds nothing due and re-arms.
}

void DeadlineQueue::arm() {
  uint64_t earliest = UINT64_MAX;
  for (const Lane& lane : lanes_)
    if (lane.head != nullptr && lane.head->due_ms < earliest) earliest = lane.head->due_ms;
  armed_due_ms_ = earliest;
  if (earliest == UINT64_MAX) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t now = uv_now(loop_);
  uv_timer_start(&timer_, &DeadlineQueue::on_timer, earliest > now ? earliest - now : 0, 0);
}

void DeadlineQueue::on_timer(uv_timer_t* timer) { static_cast<DeadlineQueue*>(timer->data)->expire_due(); }

void DeadlineQueue::expire_due() {
  armed_due_ms_ = UINT64_MAX;
  uint64_t now = uv_now(loop_);
  // Earliest first across lanes, even when the loop ran late and several lanes are due. An
  // expiry may add nodes (a retry) or remove others, so each round looks at the heads afresh.
  for (;;) {
    DeadlineNode* next = nullptr;
    for (const Lane& lane : lanes_)
      if (lane.head != nullptr && lane.head->due_ms <= now && (next == nullptr || lane.head->due_ms < next->due_ms))
        next = lane.head;
    if (next == nullptr) break;
    remove(next);
    on_expired_(context_, next);
  }
  arm();
}

void DeadlineQueue::close(uv_close_cb on_closed, void* data) {
  timer_.data = data;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
}

}  // namespace rpcgate
