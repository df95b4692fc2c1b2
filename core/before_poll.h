// Work deferred to the end of the current loop iteration, just before libuv polls for I/O: every
// item scheduled while callbacks run is handled once, together. This is what turns many requests
// or answers produced in one iteration into one write per socket. A uv_prepare_t runs after the
// timers and before the poll, so work scheduled from I/O callbacks, timers and thread-pool
// completions alike is done before the loop sleeps.
#pragma once

#include <uv.h>

#include <algorithm>
#include <vector>

namespace rpcgate {

// T has a `bool before_poll_scheduled_` member, owned by this queue.
template <typename T>
class BeforePoll {
 public:
  using Run = void (*)(T* item);

  BeforePoll(uv_loop_t* loop, Run run) : run_(run) {
    uv_prepare_init(loop, &hook_);
    hook_.data = this;
  }
  BeforePoll(const BeforePoll&) = delete;
  BeforePoll& operator=(const BeforePoll&) = delete;

  void schedule(T* item) {
    if (item->before_poll_scheduled_) return;
    item->before_poll_scheduled_ = true;
    if (items_.empty()) uv_prepare_start(&hook_, &BeforePoll::on_prepare);
    items_.push_back(item);
  }

  // An item going away must not be run.
  void cancel(T* item) {
    if (!item->before_poll_scheduled_) return;
    item->before_poll_scheduled_ = false;
    std::replace(items_.begin(), items_.end(), item, static_cast<T*>(nullptr));
  }

  // `on_closed` gets a handle whose data is `data`.
  void close(uv_close_cb on_closed, void* data) {
    hook_.data = data;
    uv_close(reinterpret_cast<uv_handle_t*>(&hook_), on_closed);
  }

 private:
  static void on_prepare(uv_prepare_t* prepare) {
    auto* self = static_cast<BeforePoll*>(prepare->data);
    // Running an item may schedule others (a retry queued on another connection) or cancel
    // them (a connection closed): index, and re-read the size.
    for (size_t i = 0; i < self->items_.size(); ++i) {
      T* item = self->items_[i];
      if (item == nullptr) continue;
      item->before_poll_scheduled_ = false;
      self->run_(item);
    }
    self->items_.clear();
    uv_prepare_stop(&self->hook_);
  }

  Run run_;
  uv_prepare_t hook_{};
  std::vector<T*> items_;
};

}  // namespace rpcgate
