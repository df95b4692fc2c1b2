// The Redis pinning policy of one client connection: which of its calls need an upstream
// connection of the client's own (a pin), opening one per cluster when they do, answering here
// what needs no upstream while the client has none, and holding the client's input behind a
// blocking call or handing it to the pin it streams with. The connection keeps its calls and
// answers them; this only decides where each goes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "codecs/upstream_session.h"
#include "core/pending_call.h"
#include "gateway/pending_queue.h"

namespace rpcgate {

namespace backends {
class Cluster;
class Pin;
}  // namespace backends

class ClientPins {
 public:
  // What attach() made of a call.
  enum class Verdict : uint8_t {
    kSend,      // submit it to its cluster: on its pin when call->upstream.pin is set, else shared
    kAnswered,  // call->response holds the codec's answer, made here: answer it and free it
    kRefused,   // call->response holds the cluster's error (no endpoint, max_pinned): the same
  };

  // `session`: the codec's upstream session, or null for codecs without one, whose calls never
  // pin. `owner` hears of the pins' calls, pushes and losses (the client connection).
  ClientPins(codec::UpstreamSession* session, CallOwner& owner) : session_(session), owner_(owner) {}
  ~ClientPins();
  ClientPins(const ClientPins&) = delete;
  ClientPins& operator=(const ClientPins&) = delete;

  // Decides where `call`, prepared for `cluster` and not queued yet, goes. `pending` is the
  // client's calls so far, in request order: a new pin waits for the shared ones among them.
  Verdict attach(backends::Cluster& cluster, PendingCall* call, const PendingQueue& pending);
  // `call` is finished (answered, or refused by its cluster): input held behind it may be read,
  // and a pin waiting for the client's earlier shared calls to its cluster may go once none is
  // left in `pending`.
  void on_call_done(const PendingCall* call, const PendingQueue& pending);
  // The client is going: closes every pin. They are freed with this object, not now: this may
  // run inside one of their own callbacks (a push the client cannot take).
  void close();

  bool empty() const { return pins_.empty(); }
  // The client's pin to `cluster`, or null.
  backends::Pin* pin_for(const backends::Cluster* cluster) const;
  // A blocking call on a pin is unanswered: the client's later input waits.
  bool blocked() const { return blocking_call_ != nullptr; }
  // The pin the client's bytes go to unread, once it streams; null until then.
  backends::Pin* tunnel() const { return tunnel_; }

 private:
  // A sharded cluster's (Redis Cluster's) pins follow their keys: a session that names none
  // (MULTI) waits for a request that does, answered here meanwhile (kAnswered), or goes on to
  // open the pin (kSend).
  std::optional<Verdict> defer(backends::Cluster& cluster, PendingCall* call);
  // A sharded cluster's pin with nothing left on it, and nothing out: given up, so that the
  // client's next calls there follow their keys again.
  void release_if_over(backends::Pin* pin, const PendingQueue& pending);
  // Frees the pins given up that no call of `pending` names any more.
  void free_released(const PendingQueue& pending);

  codec::UpstreamSession* session_;
  CallOwner& owner_;
  std::vector<std::unique_ptr<backends::Pin>> pins_;      // at most one per cluster
  std::vector<std::unique_ptr<backends::Pin>> released_;  // closed, kept while a call names them
  const backends::Cluster* deferring_ = nullptr;          // a MULTI waits for a key there
  const PendingCall* blocking_call_ = nullptr;
  backends::Pin* tunnel_ = nullptr;
};

}  // namespace rpcgate
