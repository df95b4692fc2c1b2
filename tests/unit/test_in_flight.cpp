// InFlight: the requests sent on one upstream connection. In order (json, resp): replies match the
// oldest request, an orphan keeps its place and yields null. By id (protobuf): replies match their
// sequence number in any order. drain() hands back the live calls and leaves the set empty.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "backends/in_flight.h"
#include "core/pending_call.h"

using namespace rpcgate;
using namespace rpcgate::backends;

namespace {

// Takes the next reply in order; REQUIREs that something matched.
PendingCall* take_next(InFlight& in_flight) {
  PendingCall* call = reinterpret_cast<PendingCall*>(0x1);  // poisoned, so a null result is real
  REQUIRE(in_flight.take(std::nullopt, call));
  return call;
}

std::vector<PendingCall*> drained(InFlight& in_flight) {
  std::vector<PendingCall*> calls;
  in_flight.drain([&](PendingCall* call) { calls.push_back(call); });
  return calls;
}

}  // namespace

TEST_CASE("in order: take returns calls in the order they were added, with consecutive seqs") {
  std::array<PendingCall, 3> calls{};
  InFlight in_flight(false);
  CHECK(in_flight.next_seq() == 1);
  CHECK(in_flight.add(&calls[0]) == 1);
  CHECK(in_flight.add(&calls[1]) == 2);
  CHECK(in_flight.add(&calls[2]) == 3);
  CHECK(in_flight.next_seq() == 4);
  CHECK(in_flight.size() == 3);
  CHECK(in_flight.live() == 3);

  CHECK(take_next(in_flight) == &calls[0]);
  CHECK(take_next(in_flight) == &calls[1]);
  CHECK(take_next(in_flight) == &calls[2]);
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);

  // A reply nobody asked for.
  PendingCall* call = &calls[0];
  CHECK_FALSE(in_flight.take(std::nullopt, call));
  CHECK(in_flight.next_seq() == 4);  // taking does not consume seqs
}

TEST_CASE("in order: an orphan in the middle yields null in its place, the others in order") {
  std::array<PendingCall, 3> calls{};
  InFlight in_flight(false);
  in_flight.add(&calls[0]);
  const uint64_t middle = in_flight.add(&calls[1]);
  in_flight.add(&calls[2]);

  in_flight.orphan(middle);
  CHECK(in_flight.size() == 3);
  CHECK(in_flight.live() == 2);
  // Orphaning twice counts once.
  in_flight.orphan(middle);
  CHECK(in_flight.live() == 2);

  CHECK(take_next(in_flight) == &calls[0]);
  CHECK(in_flight.size() == 2);
  CHECK(in_flight.live() == 1);
  CHECK(take_next(in_flight) == nullptr);
  CHECK(in_flight.size() == 1);
  CHECK(in_flight.live() == 1);
  CHECK(take_next(in_flight) == &calls[2]);
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("in order: orphaning a seq that is not in flight is harmless") {
  std::array<PendingCall, 3> calls{};
  InFlight in_flight(false);
  in_flight.orphan(1);  // nothing added yet
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);

  const uint64_t first = in_flight.add(&calls[0]);
  in_flight.add(&calls[1]);
  CHECK(take_next(in_flight) == &calls[0]);
  in_flight.orphan(first);  // already answered
  in_flight.orphan(0);      // never issued
  in_flight.orphan(3);      // not issued yet
  in_flight.orphan(1000);
  CHECK(in_flight.size() == 1);
  CHECK(in_flight.live() == 1);
  CHECK_FALSE(in_flight.head_orphaned());
  CHECK(in_flight.head() == &calls[1]);

  // Seq 3 is the next one issued, and the earlier orphan(3) did not touch it.
  CHECK(in_flight.add(&calls[2]) == 3);
  CHECK(in_flight.live() == 2);
  CHECK(take_next(in_flight) == &calls[1]);
  CHECK(take_next(in_flight) == &calls[2]);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("in order: head() and head_orphaned() follow the front of the queue") {
  std::array<PendingCall, 2> calls{};
  InFlight in_flight(false);
  CHECK(in_flight.head() == nullptr);
  CHECK_FALSE(in_flight.head_orphaned());

  const uint64_t first = in_flight.add(&calls[0]);
  const uint64_t second = in_flight.add(&calls[1]);
  CHECK(in_flight.head() == &calls[0]);
  CHECK_FALSE(in_flight.head_orphaned());

  in_flight.orphan(second);  // not the head
  CHECK(in_flight.head() == &calls[0]);
  CHECK_FALSE(in_flight.head_orphaned());

  in_flight.orphan(first);
  CHECK(in_flight.head() == nullptr);
  CHECK(in_flight.head_orphaned());
  CHECK(in_flight.size() == 2);
  CHECK(in_flight.live() == 0);

  CHECK(take_next(in_flight) == nullptr);
  CHECK(in_flight.head_orphaned());
  CHECK(take_next(in_flight) == nullptr);
  CHECK_FALSE(in_flight.head_orphaned());
  CHECK(in_flight.head() == nullptr);
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("by id: take matches any order; unknown ids and missing ids do not match") {
  std::array<PendingCall, 3> calls{};
  InFlight in_flight(true);
  const uint64_t a = in_flight.add(&calls[0]);
  const uint64_t b = in_flight.add(&calls[1]);
  const uint64_t c = in_flight.add(&calls[2]);
  CHECK(a == 1);
  CHECK(b == 2);
  CHECK(c == 3);
  CHECK(in_flight.size() == 3);
  // By id there is no head.
  CHECK(in_flight.head() == nullptr);
  CHECK_FALSE(in_flight.head_orphaned());

  PendingCall* call = nullptr;
  CHECK_FALSE(in_flight.take(uint64_t{99}, call));
  CHECK_FALSE(in_flight.take(std::nullopt, call));
  CHECK(call == nullptr);  // untouched when nothing matched
  CHECK(in_flight.size() == 3);

  REQUIRE(in_flight.take(c, call));
  CHECK(call == &calls[2]);
  REQUIRE(in_flight.take(a, call));
  CHECK(call == &calls[0]);
  CHECK_FALSE(in_flight.take(a, call));  // answered already
  REQUIRE(in_flight.take(b, call));
  CHECK(call == &calls[1]);
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("by id: an orphan's reply gives null; orphaning an unknown id is harmless") {
  std::array<PendingCall, 2> calls{};
  InFlight in_flight(true);
  const uint64_t a = in_flight.add(&calls[0]);
  const uint64_t b = in_flight.add(&calls[1]);

  in_flight.orphan(77);
  CHECK(in_flight.live() == 2);
  in_flight.orphan(a);
  in_flight.orphan(a);
  CHECK(in_flight.size() == 2);
  CHECK(in_flight.live() == 1);
  CHECK(in_flight.head() == nullptr);
  CHECK_FALSE(in_flight.head_orphaned());  // only meaningful in order

  PendingCall* call = &calls[1];
  REQUIRE(in_flight.take(a, call));
  CHECK(call == nullptr);
  CHECK(in_flight.size() == 1);
  CHECK(in_flight.live() == 1);
  REQUIRE(in_flight.take(b, call));
  CHECK(call == &calls[1]);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("in order: drain hands only the live calls, oldest first, and empties the set") {
  std::array<PendingCall, 4> calls{};
  InFlight in_flight(false);
  in_flight.add(&calls[0]);
  const uint64_t second = in_flight.add(&calls[1]);
  in_flight.add(&calls[2]);
  const uint64_t fourth = in_flight.add(&calls[3]);
  in_flight.orphan(second);
  in_flight.orphan(fourth);
  CHECK(take_next(in_flight) == &calls[0]);  // answered before the close

  CHECK(drained(in_flight) == std::vector<PendingCall*>{&calls[2]});
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
  CHECK(in_flight.head() == nullptr);
  CHECK_FALSE(in_flight.head_orphaned());
  PendingCall* call = nullptr;
  CHECK_FALSE(in_flight.take(std::nullopt, call));
  CHECK(drained(in_flight).empty());

  // Seqs continue after a drain, and orphan/take keep working on the new ones.
  CHECK(in_flight.next_seq() == 5);
  const uint64_t fifth = in_flight.add(&calls[0]);
  const uint64_t sixth = in_flight.add(&calls[1]);
  CHECK(fifth == 5);
  CHECK(sixth == 6);
  in_flight.orphan(second);  // a seq from before the drain: harmless
  CHECK(in_flight.live() == 2);
  in_flight.orphan(fifth);
  CHECK(in_flight.head_orphaned());
  CHECK(in_flight.live() == 1);
  CHECK(take_next(in_flight) == nullptr);
  CHECK(take_next(in_flight) == &calls[1]);
  CHECK(in_flight.size() == 0);
}

TEST_CASE("in order: drain with many calls keeps their order") {
  std::vector<PendingCall> calls(10);
  InFlight in_flight(false);
  std::vector<PendingCall*> expected;
  for (size_t i = 0; i < calls.size(); ++i) {
    const uint64_t seq = in_flight.add(&calls[i]);
    if (i % 3 == 1)
      in_flight.orphan(seq);
    else
      expected.push_back(&calls[i]);
  }
  CHECK(in_flight.live() == expected.size());
  CHECK(drained(in_flight) == expected);
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
}

TEST_CASE("by id: drain hands every live call once and empties the set; seqs continue") {
  std::array<PendingCall, 4> calls{};
  InFlight in_flight(true);
  const uint64_t a = in_flight.add(&calls[0]);
  in_flight.add(&calls[1]);
  const uint64_t c = in_flight.add(&calls[2]);
  in_flight.add(&calls[3]);
  in_flight.orphan(a);
  PendingCall* call = nullptr;
  REQUIRE(in_flight.take(c, call));
  CHECK(call == &calls[2]);

  std::vector<PendingCall*> got = drained(in_flight);
  // The map has no order of its own; compare as sets here (see the order check below).
  std::vector<PendingCall*> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<PendingCall*>{&calls[1], &calls[3]});
  CHECK(in_flight.size() == 0);
  CHECK(in_flight.live() == 0);
  CHECK(drained(in_flight).empty());

  CHECK(in_flight.next_seq() == 5);
  const uint64_t e = in_flight.add(&calls[0]);
  CHECK(e == 5);
  CHECK_FALSE(in_flight.take(a, call));  // a seq from before the drain no longer matches
  REQUIRE(in_flight.take(e, call));
  CHECK(call == &calls[0]);
  CHECK(in_flight.size() == 0);
}

// in_flight.h promises drain() hands "The live calls, oldest first". By id the calls sit in an
// unordered_map, which libstdc++ walks newest first: drain must sort them.
TEST_CASE("by id: drain hands the live calls oldest first, as the header promises") {
  std::vector<PendingCall> calls(64);
  InFlight in_flight(true);
  std::vector<PendingCall*> expected;
  for (PendingCall& call : calls) {
    in_flight.add(&call);
    expected.push_back(&call);
  }
  CHECK(drained(in_flight) == expected);
}

TEST_CASE("heap-allocated PendingCalls go through an InFlight and come back intact") {
  InFlight in_flight(false);
  auto* first = new PendingCall();
  auto* second = new PendingCall();
  first->request.method = "get";
  second->request.method = "set";
  const uint64_t seq = in_flight.add(first);
  in_flight.add(second);
  in_flight.orphan(seq);
  delete first;  // the caller gave up and freed it; the slot holds no pointer to it any more
  CHECK(take_next(in_flight) == nullptr);
  PendingCall* got = take_next(in_flight);
  REQUIRE(got == second);
  CHECK(got->request.method == "set");
  delete got;
}
