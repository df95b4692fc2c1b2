#include "gateway/stream_pair.h"

#include <algorithm>
#include <string>

#include "backends/cluster.h"
#include "backends/upstream_connection.h"

namespace rpcgate {

StreamPair::StreamPair(Owner& owner, codec::ServerStreams& listener, PendingCall& call, size_t replay_bytes)
    : owner_(owner), listener_(listener), call_(call), id_(call.request.id.value_or(0)), replay_bytes_(replay_bytes) {
  listener_.adopt(id_, *this);
}

StreamPair::~StreamPair() { listener_.release(id_); }

void StreamPair::from_client(std::string_view bytes) {
  received_ += bytes.size();
  std::string& kept = call_.request.payload;
  backends::UpstreamConnection* upstream = call_.upstream.connection;
  if (upstream == nullptr) {
    // Not on a connection yet (connecting, or placed again): kept whole for the encode that
    // opens the call. The client's window bounds it, since it reopens only as bytes leave.
    kept.append(bytes);
    return;
  }
  upstream->stream_send(&call_, bytes);
  if (!replayable_) return;
  if (kept.size() + bytes.size() <= replay_bytes_) {
    kept.append(bytes);
  } else {
    replayable_ = false;
    std::string().swap(kept);
  }
}

void StreamPair::client_ended() {
  client_ended_ = true;
  if (call_.upstream.connection == nullptr) return;  // placed() ends it
  call_.upstream.connection->stream_end(&call_);
  call_.upstream.cluster->start_answer_deadline(&call_);
}

void StreamPair::client_reset() { owner_.on_stream_reset(id_); }

void StreamPair::sent_to_client(size_t bytes) {
  if (call_.upstream.connection != nullptr) call_.upstream.connection->stream_consume(&call_, bytes);
}

void StreamPair::response_headers(const Meta& meta) {
  upstream_answered();
  listener_.send_headers(id_, meta);
  owner_.on_stream_output();
}

void StreamPair::from_server(std::string_view bytes) {
  upstream_answered();
  listener_.send(id_, bytes);
  owner_.on_stream_output();
}

void StreamPair::sent_to_server(size_t bytes) {
  const uint64_t fresh = std::min<uint64_t>(bytes, received_ - acknowledged_);
  if (fresh == 0) return;
  acknowledged_ += fresh;
  listener_.consume(id_, fresh);
  owner_.on_stream_output();
}

void StreamPair::placed() {
  if (!client_ended_) return;
  call_.upstream.connection->stream_end(&call_);
  call_.upstream.cluster->start_answer_deadline(&call_);
}

void StreamPair::upstream_answered() {
  if (call_.upstream.cluster != nullptr) call_.upstream.cluster->on_first_answer(&call_);
  stop_replay();
}

void StreamPair::stop_replay() {
  if (!replayable_) return;
  replayable_ = false;
  std::string().swap(call_.request.payload);
}

}  // namespace rpcgate
