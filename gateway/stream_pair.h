// A streamed call's pairing (docs/architecture.md, "Streamed calls"): the client's stream on the
// listener's codec and the upstream's stream on a cluster's connection, one call. It moves each
// side's message bytes to the other as they come and reopens each side's flow-control window
// only once the other side has framed what it sent, so that neither side buffers more than a
// window. Owned by the client's connection, one per streamed call, freed with the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codecs/codec.h"
#include "core/call_stream.h"
#include "core/pending_call.h"

namespace rpcgate {

class StreamPair final : public CallStream {
 public:
  // Whoever owns the pairing (the client's connection).
  class Owner {
   public:
    // The listener's codec has something to send (messages, window updates): flush it.
    virtual void on_stream_output() = 0;
    // The client reset the call: it is to be cancelled upstream and forgotten, from the loop
    // (never from inside the codec that reported it).
    virtual void on_stream_reset(uint64_t id) = 0;

   protected:
    ~Owner() = default;
  };

  // `replay_bytes`: how much of what the client sends is kept (in the call's payload) so that
  // the call can be placed again if an upstream refuses it unseen.
  StreamPair(Owner& owner, codec::ServerStreams& listener, PendingCall& call, size_t replay_bytes);
  ~StreamPair();
  StreamPair(const StreamPair&) = delete;
  StreamPair& operator=(const StreamPair&) = delete;

  PendingCall& call() { return call_; }

  void from_client(std::string_view bytes) override;
  void client_ended() override;
  void client_reset() override;
  void sent_to_client(size_t bytes) override;
  void response_headers(const Meta& meta) override;
  void from_server(std::string_view bytes) override;
  void sent_to_server(size_t bytes) override;
  void placed() override;
  bool may_replay() const override { return replayable_; }

 private:
  // The upstream began to answer: a deadline on that wait ends, and nothing is kept for a replay.
  void upstream_answered();
  // The upstream acted on the call: it will not be placed again, so nothing is kept for that.
  void stop_replay();

  Owner& owner_;
  codec::ServerStreams& listener_;
  PendingCall& call_;
  const uint64_t id_;  // the call's stream on the listener
  const size_t replay_bytes_;
  uint64_t received_ = 0;      // bytes the client sent
  uint64_t acknowledged_ = 0;  // of them, given back to its window (a replay frames some twice)
  bool replayable_ = true;
  bool client_ended_ = false;
};

}  // namespace rpcgate
