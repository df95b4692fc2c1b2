// A request that could not be answered on the spot (it runs on the thread pool or on an upstream),
// or an answer waiting behind one: the connection keeps these in request order and writes each
// once every call before it is written.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/deadline_queue.h"
#include "core/handler.h"
#include "core/message.h"

namespace rpcgate {

namespace backends {
class Cluster;
class Endpoint;
class Fanout;
class Pin;
class UpstreamConnection;
}  // namespace backends

struct PendingCall;

// Whoever waits for a call's answer: a client connection, or an active health check.
class CallOwner {
 public:
  virtual void on_call_done(PendingCall* call) = 0;
  // A frame its pinned upstream connection `from` sent on its own (pub/sub, RESP3
  // invalidations), to pass on as it is.
  virtual void on_push(std::string_view frame, const backends::Pin* from) {
    (void)frame;
    (void)from;
  }
  // Its pinned upstream connection closed: the session it held on the server is gone.
  virtual void on_pin_lost() {}

 protected:
  ~CallOwner() = default;
};

// Where an upstream call is; kept by backends/, which alone changes it.
struct UpstreamState {
  backends::Cluster* cluster = nullptr;
  backends::Endpoint* endpoint = nullptr;              // picked; set while waiting or in flight
  backends::UpstreamConnection* connection = nullptr;  // set while in flight
  backends::Pin* pin = nullptr;                        // the client's own connection, if it has one
  const backends::Endpoint* answered_by = nullptr;     // once finished: the endpoint that answered
  // After it the connection streams: what the upstream sends is passed on unread (SUBSCRIBE,
  // SYNC; UpstreamConnection::start_streaming).
  bool starts_stream = false;
  uint64_t seq = 0;  // its place on that connection
  DeadlineNode deadline;
  uint64_t timeout_ms = 0;  // per attempt
  // A streamed call with no deadline of its client's or its route's: the cluster's
  // request_timeout bounds only its wait for the upstream's first answer once the client has
  // sent all it had (half-closed), as a unary call's; the stream lasts as long as its two ends
  // keep it otherwise.
  bool deadline_until_answer = false;
  int retries_left = 0;
  int refusals = 0;  // times an upstream refused it unseen (REFUSED_STREAM, above a GOAWAY's last stream)
  bool idempotent = false;
  bool fixed_endpoint = false;  // an active health check or a pinned call: this endpoint or nothing
  bool health_check = false;    // an active health check's, not a client's
  // The fast path: client and upstream speak the same codec, so `wire` holds the request frame
  // exactly as the client sent it, and then the reply frame exactly as the upstream sent it.
  bool passthrough = false;
  std::string wire;
  // A sharded cluster's call (codecs/sharding.h): its request frame, kept to be sent again when
  // the reply redirects it (the reply takes `wire`); the redirects followed so far; and a frame
  // sent just before it on the same connection, its reply dropped (an ASK's ASKING).
  std::string resend;
  uint8_t redirects = 0;
  std::string_view preface;
  // A request split by shard: its parts, out on their shards (backends/fanout.h); and on a part,
  // the whole's owner, whose calls it stays in order with.
  backends::Fanout* fanout = nullptr;
  const CallOwner* order_owner = nullptr;
};

struct PendingCall {
  Request request;
  Response response;
  bool done = false;
  // Null once the owner is gone: a thread pool call is then freed by its completion callback,
  // and its late answer goes nowhere.
  CallOwner* owner = nullptr;
  const Handler* handler = nullptr;  // an in-process call, or
  UpstreamState upstream;            // an upstream call (upstream.cluster set)
  // The route that chose the target, by its place in the config; kNoRoute when none did.
  static constexpr size_t kNoRoute = SIZE_MAX;
  size_t route_index = kNoRoute;
  uint64_t started_ns = 0;   // when its frame was read (uv_hrtime), for the latency histograms
  uint64_t frame_bytes = 0;  // the request frame's size, for the access log
  uv_work_t work{};
  // Its place in its connection's PendingQueue (gateway/pending_queue.h); null while in none.
  PendingCall* queue_prev = nullptr;
  PendingCall* queue_next = nullptr;
};

// The only places a call is made and freed. Its owner (a client connection, a health check)
// makes it, and frees it once it is written or withdrawn; clusters, endpoints, pins and queues
// only link and unlink it (Cluster::cancel unlinks, its owner then frees).
PendingCall* new_call(CallOwner* owner);
void free_call(PendingCall* call);

}  // namespace rpcgate
