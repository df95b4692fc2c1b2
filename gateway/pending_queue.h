// A connection's calls in request order: an intrusive doubly linked list through the calls' own
// links. An idle connection holds no queue memory (a std::deque allocates a 512-byte block and
// its map as soon as it is constructed), queuing a call allocates nothing, and a call completed
// out of order (protobuf) leaves in O(1).
#pragma once

#include <cassert>
#include <cstddef>
#include <iterator>

#include "core/pending_call.h"

namespace rpcgate {

class PendingQueue {
 public:
  PendingQueue() = default;
  PendingQueue(const PendingQueue&) = delete;
  PendingQueue& operator=(const PendingQueue&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  PendingCall* front() const { return head_; }

  // `call` must be in no queue.
  void push_back(PendingCall* call) {
    assert(call->queue_prev == nullptr && call->queue_next == nullptr && call != head_);
    call->queue_prev = tail_;
    if (tail_ != nullptr)
      tail_->queue_next = call;
    else
      head_ = call;
    tail_ = call;
    ++size_;
  }

  // `call` must be in no queue, `at` in this one.
  void insert_before(PendingCall* at, PendingCall* call) {
    assert(call->queue_prev == nullptr && call->queue_next == nullptr && call != head_);
    call->queue_next = at;
    call->queue_prev = at->queue_prev;
    (at->queue_prev != nullptr ? at->queue_prev->queue_next : head_) = call;
    at->queue_prev = call;
    ++size_;
  }

  // `call` must be in this queue.
  void remove(PendingCall* call) {
    assert(size_ > 0);
    (call->queue_prev != nullptr ? call->queue_prev->queue_next : head_) = call->queue_next;
    (call->queue_next != nullptr ? call->queue_next->queue_prev : tail_) = call->queue_prev;
    call->queue_prev = call->queue_next = nullptr;
    --size_;
  }

  PendingCall* pop_front() {
    PendingCall* call = head_;
    remove(call);
    return call;
  }

  // Empties the queue, handing each call, already unlinked, to `take` (which may free it).
  template <typename Take>
  void drain(Take take) {
    while (!empty()) take(pop_front());
  }

  // Front to back. The queue must not change while it is walked.
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = PendingCall*;
    using difference_type = std::ptrdiff_t;
    using pointer = PendingCall* const*;
    using reference = PendingCall* const&;

    Iterator() = default;
    explicit Iterator(PendingCall* call) : call_(call) {}
    reference operator*() const { return call_; }
    Iterator& operator++() {
      call_ = call_->queue_next;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator&) const = default;

   private:
    PendingCall* call_ = nullptr;
  };
  Iterator begin() const { return Iterator(head_); }
  Iterator end() const { return Iterator(); }

 private:
  PendingCall* head_ = nullptr;
  PendingCall* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rpcgate
