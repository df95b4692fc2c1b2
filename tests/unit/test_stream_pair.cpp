// StreamPair: a streamed call's pairing, on its own (no upstream connection yet, so no loop): what
// it keeps for a replay, what it gives back to the client's window, and what it tells its owner.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gateway/stream_pair.h"

using rpcgate::Meta;
using rpcgate::PendingCall;
using rpcgate::StreamPair;

namespace {

struct Owner final : StreamPair::Owner {
  int outputs = 0;
  std::vector<uint64_t> resets;
  void on_stream_output() override { ++outputs; }
  void on_stream_reset(uint64_t id) override { resets.push_back(id); }
};

// The listener's codec as the pairing sees it: what it was told, per call.
struct Listener final : rpcgate::codec::ServerStreams {
  uint64_t adopted = 0;
  uint64_t released = 0;
  size_t consumed = 0;
  std::string sent;
  Meta headers;
  void adopt(uint64_t id, rpcgate::CallStream&) override { adopted = id; }
  void send_headers(uint64_t, const Meta& meta) override { headers = meta; }
  void send(uint64_t, std::string_view bytes) override { sent.append(bytes); }
  void consume(uint64_t, size_t bytes) override { consumed += bytes; }
  void hold_messages(bool) override {}
  void release(uint64_t id) override { released = id; }
  size_t replay_bytes() const override { return 10; }
};

// A pairing of the call with `id`, and what it talks to.
struct Paired {
  explicit Paired(uint64_t id) { call.request.id = id; }
  Owner owner;
  Listener listener;
  PendingCall call;
};

}  // namespace

TEST_CASE("what the client sends before the call is placed is kept whole for the encode that opens it") {
  Paired p(7);
  auto& [owner, listener, call] = p;
  {
    StreamPair pair(owner, listener, call, listener.replay_bytes());
    CHECK(listener.adopted == 7);
    pair.from_client("0123456789");
    pair.from_client("abcdef");  // past the replay bound, yet the call has not been sent anywhere
    CHECK(call.request.payload == "0123456789abcdef");
    CHECK(pair.may_replay());
    // Framed twice (placed, refused, placed again): the client's window gets each byte back once.
    pair.sent_to_server(16);
    pair.sent_to_server(16);
    CHECK(listener.consumed == 16);
    CHECK(owner.outputs == 1);
  }
  CHECK(listener.released == 7);  // the codec forgets the pairing with it
}

TEST_CASE("once the server answers, nothing is kept for a replay, and its messages go to the client") {
  Paired p(3);
  auto& [owner, listener, call] = p;
  StreamPair pair(owner, listener, call, listener.replay_bytes());
  pair.from_client("hello");
  pair.response_headers({{"x-a", "1"}});
  CHECK_FALSE(pair.may_replay());
  CHECK(call.request.payload.empty());
  CHECK(listener.headers == Meta{{"x-a", "1"}});
  pair.from_server("msg1");
  pair.from_server("msg2");
  CHECK(listener.sent == "msg1msg2");
  CHECK(owner.outputs == 3);
}

TEST_CASE("a client's reset is handed to the owner by id, to act on from the loop") {
  Paired p(9);
  auto& [owner, listener, call] = p;
  StreamPair pair(owner, listener, call, listener.replay_bytes());
  pair.client_reset();
  CHECK(owner.resets == std::vector<uint64_t>{9});
}
