// PendingQueue: a connection's FIFO of calls, linked through the calls themselves.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "gateway/pending_queue.h"

using rpcgate::PendingCall;
using rpcgate::PendingQueue;

namespace {

std::vector<PendingCall*> contents(const PendingQueue& queue) { return {queue.begin(), queue.end()}; }

bool unlinked(const PendingCall& call) { return call.queue_prev == nullptr && call.queue_next == nullptr; }

}  // namespace

TEST_CASE("an empty queue") {
  PendingQueue queue;
  CHECK(queue.empty());
  CHECK(queue.size() == 0);
  CHECK(queue.front() == nullptr);
  CHECK(queue.begin() == queue.end());
}

TEST_CASE("first in, first out, and each call unlinked once it leaves") {
  PendingCall calls[4];
  PendingQueue queue;
  for (PendingCall& call : calls) queue.push_back(&call);
  CHECK(queue.size() == 4);
  CHECK(contents(queue) == std::vector<PendingCall*>{&calls[0], &calls[1], &calls[2], &calls[3]});
  for (PendingCall& call : calls) {
    CHECK(queue.front() == &call);
    CHECK(queue.pop_front() == &call);
    CHECK(unlinked(call));
  }
  CHECK(queue.empty());
  // A call that left may be queued again (in this queue or another).
  queue.push_back(&calls[2]);
  CHECK(queue.front() == &calls[2]);
  CHECK(queue.size() == 1);
  CHECK(queue.pop_front() == &calls[2]);
}

TEST_CASE("remove from the front, the middle, the back and a queue of one") {
  PendingCall calls[5];
  PendingQueue queue;
  for (PendingCall& call : calls) queue.push_back(&call);
  queue.remove(&calls[2]);
  CHECK(contents(queue) == std::vector<PendingCall*>{&calls[0], &calls[1], &calls[3], &calls[4]});
  queue.remove(&calls[0]);
  CHECK(contents(queue) == std::vector<PendingCall*>{&calls[1], &calls[3], &calls[4]});
  queue.remove(&calls[4]);
  CHECK(contents(queue) == std::vector<PendingCall*>{&calls[1], &calls[3]});
  // The back is appended to correctly after its removal.
  queue.push_back(&calls[4]);
  CHECK(contents(queue) == std::vector<PendingCall*>{&calls[1], &calls[3], &calls[4]});
  queue.remove(&calls[1]);
  queue.remove(&calls[3]);
  CHECK(queue.size() == 1);
  queue.remove(&calls[4]);
  CHECK(queue.empty());
  CHECK(queue.front() == nullptr);
  for (const PendingCall& call : calls) CHECK(unlinked(call));
}

TEST_CASE("drain hands over every call in order, unlinked, and may free them") {
  PendingQueue queue;
  std::vector<PendingCall*> pushed;
  for (int i = 0; i < 6; ++i) {
    pushed.push_back(new PendingCall());
    queue.push_back(pushed.back());
  }
  std::vector<PendingCall*> taken;
  queue.drain([&](PendingCall* call) {
    CHECK(unlinked(*call));
    taken.push_back(call);
    delete call;
  });
  CHECK(taken == pushed);
  CHECK(queue.empty());
  CHECK(queue.size() == 0);
}

TEST_CASE("iteration serves the standard algorithms") {
  PendingCall calls[3];
  calls[1].done = true;
  PendingQueue queue;
  for (PendingCall& call : calls) queue.push_back(&call);
  CHECK(std::any_of(queue.begin(), queue.end(), [](const PendingCall* call) { return call->done; }));
  CHECK(std::find(queue.begin(), queue.end(), &calls[2]) != queue.end());
  CHECK(std::count_if(queue.begin(), queue.end(), [](const PendingCall* call) { return !call->done; }) == 2);
  while (!queue.empty()) queue.pop_front();
}

TEST_CASE("random pushes, pops and removals agree with a std::deque") {
  std::mt19937 random(12345);
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < 64; ++i) calls.push_back(std::make_unique<PendingCall>());
  std::vector<PendingCall*> idle;
  for (auto& call : calls) idle.push_back(call.get());
  PendingQueue queue;
  std::deque<PendingCall*> model;
  for (int step = 0; step < 20000; ++step) {
    unsigned action = random() % 3;
    if (action == 0 && !idle.empty()) {
      size_t pick = random() % idle.size();
      PendingCall* call = idle[pick];
      idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(pick));
      queue.push_back(call);
      model.push_back(call);
    } else if (action == 1 && !model.empty()) {
      REQUIRE(queue.pop_front() == model.front());
      idle.push_back(model.front());
      model.pop_front();
    } else if (action == 2 && !model.empty()) {
      auto at = model.begin() + static_cast<std::ptrdiff_t>(random() % model.size());
      queue.remove(*at);
      idle.push_back(*at);
      model.erase(at);
    }
    REQUIRE(queue.size() == model.size());
    REQUIRE(queue.front() == (model.empty() ? nullptr : model.front()));
  }
  CHECK(std::equal(queue.begin(), queue.end(), model.begin(), model.end()));
  for (PendingCall* call : idle) CHECK(unlinked(*call));
  queue.drain([](PendingCall*) {});
}
