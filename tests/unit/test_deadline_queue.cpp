// DeadlineQueue on a real libuv loop: expiry in due order across lanes, FIFO within a lane,
// removal, re-adding from the expiry callback (a retry), due_ms from uv_now, and close().
// Every test runs with timeouts of tens of milliseconds, under an unreferenced guard timer that
// stops the loop after a few seconds should the queue keep it alive by mistake.
#include <doctest/doctest.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/deadline_queue.h"

using namespace rpcgate;

namespace {

constexpr uint64_t kGuardMs = 3000;

struct Expiry {
  DeadlineNode* node;
  uint64_t at_ms;  // milliseconds since the test's start, from uv_hrtime
};

// A loop, a queue on it, and the record of what expired when.
struct Fixture {
  uv_loop_t loop{};
  uv_timer_t guard{};
  bool guard_fired = false;
  uint64_t start_ns = 0;
  std::vector<Expiry> expired;
  // Runs after recording each expiry; may add or remove nodes.
  std::function<void(DeadlineNode*)> on_expiry;
  DeadlineQueue* queue = nullptr;
  bool queue_closed = false;

  Fixture() {
    REQUIRE(uv_loop_init(&loop) == 0);
    queue = new DeadlineQueue(&loop, &Fixture::expired_cb, this);
    REQUIRE(uv_timer_init(&loop, &guard) == 0);
    guard.data = this;
    start_ns = uv_hrtime();
  }

  ~Fixture() {
    if (!queue_closed) close_queue();
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  static void expired_cb(void* context, DeadlineNode* node) {
    auto* self = static_cast<Fixture*>(context);
    self->expired.push_back({node, self->elapsed_ms()});
    if (self->on_expiry) self->on_expiry(node);
  }

  static void guard_cb(uv_timer_t* timer) {
    auto* self = static_cast<Fixture*>(timer->data);
    self->guard_fired = true;
    uv_stop(&self->loop);
  }

  uint64_t elapsed_ms() const { return (uv_hrtime() - start_ns) / 1000000; }

  // Runs the loop until nothing keeps it alive (the queue is empty and its timer stopped). The
  // guard does not keep the loop alive itself; it only stops a loop that would otherwise run on.
  void run() {
    REQUIRE(uv_timer_start(&guard, &Fixture::guard_cb, kGuardMs, 0) == 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&guard));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&guard);
    CHECK_FALSE(guard_fired);
  }

  void close_queue() { queue->close(&Fixture::queue_closed_cb, this); }

  static void queue_closed_cb(uv_handle_t* handle) {
    auto* self = static_cast<Fixture*>(handle->data);
    self->queue_closed = true;
    delete self->queue;
    self->queue = nullptr;
  }

  std::vector<DeadlineNode*> order() const {
    std::vector<DeadlineNode*> nodes;
    for (const Expiry& expiry : expired) nodes.push_back(expiry.node);
    return nodes;
  }

  const Expiry* find(const DeadlineNode* node) const {
    for (const Expiry& expiry : expired)
      if (expiry.node == node) return &expiry;
    return nullptr;
  }
};

}  // namespace

TEST_CASE("nodes with different timeouts expire in due order, not in the order added") {
  // 30 ms apart, so that each expires in its own timer pass even on a loaded machine; when the
  // loop falls behind and several lanes are due in one pass, see the stalled-loop test below.
  Fixture f;
  DeadlineNode slow, fast, middle;
  uv_update_time(&f.loop);
  f.queue->add(&slow, 70);
  f.queue->add(&fast, 10);
  f.queue->add(&middle, 40);
  CHECK(slow.linked());
  CHECK(fast.linked());
  CHECK(middle.linked());

  f.run();

  REQUIRE(f.expired.size() == 3);
  CHECK(f.order() == std::vector<DeadlineNode*>{&fast, &middle, &slow});
  // Loose timing: never early (with 5 ms of slack for clock granularity), never absurdly late.
  CHECK(f.find(&fast)->at_ms >= 5);
  CHECK(f.find(&middle)->at_ms >= 35);
  CHECK(f.find(&slow)->at_ms >= 65);
  CHECK(f.find(&slow)->at_ms < 1000);
  CHECK_FALSE(slow.linked());
  CHECK_FALSE(fast.linked());
  CHECK_FALSE(middle.linked());
}

// When the loop is late (blocked by other work) several lanes are due in one timer pass: they
// must still expire by due time, not in the order their lanes were created.
TEST_CASE("nodes due in the same pass of a late loop still expire in due order") {
  Fixture f;
  DeadlineNode slow, fast, middle;
  uv_update_time(&f.loop);
  f.queue->add(&slow, 30);
  f.queue->add(&fast, 10);
  f.queue->add(&middle, 20);
  uv_sleep(50);  // the loop is busy elsewhere; all three are overdue when it next runs timers
  f.run();
  REQUIRE(f.expired.size() == 3);
  CHECK(f.order() == std::vector<DeadlineNode*>{&fast, &middle, &slow});
}

TEST_CASE("the loop's time has reached a node's due_ms when it expires, and the node is unlinked") {
  Fixture f;
  DeadlineNode a, b;
  f.on_expiry = [&](DeadlineNode* node) {
    CHECK(uv_now(&f.loop) >= node->due_ms);
    CHECK_FALSE(node->linked());
    CHECK(node->prev == nullptr);
    CHECK(node->next == nullptr);
  };
  f.queue->add(&a, 15);
  f.queue->add(&b, 25);
  f.run();
  CHECK(f.order() == std::vector<DeadlineNode*>{&a, &b});
}

TEST_CASE("due_ms is the loop's current time plus the timeout, and owner is handed back") {
  Fixture f;
  int owner_a = 0;
  int owner_b = 0;
  DeadlineNode a, b;
  a.owner = &owner_a;
  b.owner = &owner_b;
  uv_update_time(&f.loop);
  const uint64_t now = uv_now(&f.loop);
  f.queue->add(&a, 20);
  f.queue->add(&b, 12345);
  CHECK(a.due_ms == now + 20);
  CHECK(b.due_ms == now + 12345);
  f.queue->remove(&b);

  std::vector<void*> owners;
  f.on_expiry = [&](DeadlineNode* node) { owners.push_back(node->owner); };
  f.run();
  CHECK(owners == std::vector<void*>{&owner_a});
}

TEST_CASE("a removed node never expires, wherever it sits in its lane") {
  Fixture f;
  DeadlineNode head, middle, tail, other, alone;
  f.queue->add(&head, 20);
  f.queue->add(&middle, 20);
  f.queue->add(&tail, 20);
  f.queue->add(&other, 20);
  f.queue->add(&alone, 10);  // the earliest: the timer is armed for it

  f.queue->remove(&middle);
  CHECK_FALSE(middle.linked());
  f.queue->remove(&head);
  f.queue->remove(&alone);  // the timer fires early, finds nothing due, and re-arms
  f.run();

  CHECK(f.order() == std::vector<DeadlineNode*>{&tail, &other});
  CHECK(f.find(&tail)->at_ms >= 15);
  CHECK(f.find(&head) == nullptr);
  CHECK(f.find(&middle) == nullptr);
  CHECK(f.find(&alone) == nullptr);
}

TEST_CASE("removing every node leaves nothing to expire and lets the loop end") {
  Fixture f;
  DeadlineNode a, b, c;
  f.queue->add(&a, 10);
  f.queue->add(&b, 20);
  f.queue->add(&c, 10);
  f.queue->remove(&c);
  f.queue->remove(&a);
  f.queue->remove(&b);
  f.run();
  CHECK(f.expired.empty());
  CHECK(f.elapsed_ms() < 1000);
}

TEST_CASE("remove of an unlinked node is harmless") {
  Fixture f;
  DeadlineNode never_added, twice, kept, expired_already;
  f.queue->remove(&never_added);
  CHECK_FALSE(never_added.linked());

  f.queue->add(&twice, 10);
  f.queue->add(&kept, 10);
  f.queue->remove(&twice);
  f.queue->remove(&twice);
  CHECK_FALSE(twice.linked());
  CHECK(kept.linked());

  f.queue->add(&expired_already, 5);
  f.on_expiry = [&](DeadlineNode* node) {
    f.queue->remove(node);  // the node that just expired is already unlinked
    f.queue->remove(&never_added);
  };
  f.run();
  // Both expire once (their relative order is the business of the ordering tests).
  REQUIRE(f.expired.size() == 2);
  CHECK(f.find(&expired_already) != nullptr);
  CHECK(f.find(&kept) != nullptr);
  CHECK(f.find(&twice) == nullptr);
  CHECK(f.find(&never_added) == nullptr);
  f.queue->remove(&kept);  // after expiry
  CHECK_FALSE(kept.linked());
}

TEST_CASE("nodes with the same timeout expire in the order they were added") {
  Fixture f;
  std::vector<DeadlineNode> nodes(6);
  std::vector<DeadlineNode*> expected;
  for (DeadlineNode& node : nodes) {
    f.queue->add(&node, 15);
    expected.push_back(&node);
  }
  f.run();
  CHECK(f.order() == expected);
}

TEST_CASE("same-timeout nodes added at different loop times expire FIFO, each at its own due time") {
  Fixture f;
  DeadlineNode first, second;
  f.queue->add(&first, 20);
  // Let the loop's clock move on, then add the second with the same timeout.
  uv_sleep(15);
  uv_update_time(&f.loop);
  f.queue->add(&second, 20);
  CHECK(second.due_ms >= first.due_ms + 10);
  f.run();
  CHECK(f.order() == std::vector<DeadlineNode*>{&first, &second});
  CHECK(f.find(&second)->at_ms >= 30);
}

TEST_CASE("a node re-added from its expiry callback (a retry) expires again, later") {
  Fixture f;
  DeadlineNode retried, bystander;
  int attempts = 0;
  f.on_expiry = [&](DeadlineNode* node) {
    if (node == &retried && ++attempts < 3) {
      CHECK_FALSE(node->linked());
      f.queue->add(node, 15);  // the same lane as the one being expired
      CHECK(node->linked());
    }
  };
  f.queue->add(&retried, 15);
  f.queue->add(&bystander, 150);  // far behind the three attempts (15, 30, 45 ms)
  f.run();

  CHECK(attempts == 3);
  REQUIRE(f.expired.size() == 4);
  CHECK(f.order() == std::vector<DeadlineNode*>{&retried, &retried, &retried, &bystander});
  CHECK(f.expired[0].at_ms >= 10);
  CHECK(f.expired[1].at_ms >= f.expired[0].at_ms + 10);  // not in the same pass
  CHECK(f.expired[2].at_ms >= f.expired[1].at_ms + 10);
  CHECK(f.expired[3].at_ms >= 145);
  CHECK_FALSE(retried.linked());
  CHECK_FALSE(bystander.linked());
}

TEST_CASE("a retry with a new, longer timeout opens lanes from inside the callback") {
  // Many distinct timeouts added during expiry make the lane vector grow while it is scanned.
  Fixture f;
  DeadlineNode first;
  std::vector<DeadlineNode> more(20);
  f.on_expiry = [&](DeadlineNode* node) {
    if (node != &first) return;
    for (size_t i = 0; i < more.size(); ++i) f.queue->add(&more[i], 20 + i);
  };
  f.queue->add(&first, 10);
  f.run();
  REQUIRE(f.expired.size() == 1 + more.size());
  CHECK(f.expired[0].node == &first);
  for (size_t i = 0; i < more.size(); ++i) {
    CAPTURE(i);
    CHECK(f.find(&more[i]) != nullptr);
    CHECK(f.find(&more[i])->at_ms >= 25);
  }
  CHECK(f.expired.back().at_ms >= 35);
}

TEST_CASE("an expiry callback may remove a node that is also due") {
  Fixture f;
  DeadlineNode a, b, c;
  f.on_expiry = [&](DeadlineNode* node) {
    if (node == &a) f.queue->remove(&b);
  };
  f.queue->add(&a, 10);
  f.queue->add(&b, 10);
  f.queue->add(&c, 10);
  f.run();
  CHECK(f.order() == std::vector<DeadlineNode*>{&a, &c});
}

TEST_CASE("an earlier node added after a later one re-arms the timer for the earlier") {
  Fixture f;
  DeadlineNode late, early;
  f.queue->add(&late, 2000);
  f.queue->add(&early, 10);
  f.on_expiry = [&](DeadlineNode* node) {
    if (node == &early) f.queue->remove(&late);  // end the test without waiting for `late`
  };
  f.run();
  REQUIRE(f.expired.size() == 1);
  CHECK(f.expired[0].node == &early);
  CHECK(f.expired[0].at_ms >= 5);
  CHECK(f.expired[0].at_ms < 1000);  // fired for `early`, not held back until `late`
}

TEST_CASE("close() releases the timer, so the loop closes cleanly") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  int expirations = 0;
  auto* queue = new DeadlineQueue(
      &loop, [](void* context, DeadlineNode*) { ++*static_cast<int*>(context); }, &expirations);
  DeadlineNode pending;
  queue->add(&pending, 10);  // still armed when closed

  bool closed = false;
  queue->close([](uv_handle_t* handle) { *static_cast<bool*>(handle->data) = true; }, &closed);
  // Before the loop runs, libuv still holds the handle.
  CHECK_FALSE(closed);
  CHECK(uv_loop_close(&loop) == UV_EBUSY);

  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(closed);
  CHECK(expirations == 0);
  delete queue;
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("close() of an idle queue releases the timer too") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto* queue = new DeadlineQueue(
      &loop, [](void*, DeadlineNode*) {}, nullptr);
  bool closed = false;
  queue->close([](uv_handle_t* handle) { *static_cast<bool*>(handle->data) = true; }, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(closed);
  delete queue;
  CHECK(uv_loop_close(&loop) == 0);
}
