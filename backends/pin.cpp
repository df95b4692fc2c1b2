#include "backends/pin.h"

#include <algorithm>

#include "backends/cluster.h"
#include "backends/endpoint.h"
#include "backends/upstream_connection.h"
#include "core/log.h"
#include "core/pending_call.h"

namespace rpcgate::backends {

Pin::Pin(Cluster& cluster, Endpoint& endpoint, CallOwner& owner, bool wait_for_earlier,
         std::vector<std::string> preamble)
    : cluster_(cluster),
      endpoint_(endpoint),
      owner_(owner),
      connection_(new UpstreamConnection(endpoint, *this)),
      preamble_(std::move(preamble)),
      wait_for_earlier_(wait_for_earlier) {
  ++cluster_.stats().pins;
  ++cluster_.stats().pinned;
  connection_->connect();
}

Pin::~Pin() { close(); }

void Pin::release_barrier() {
  wait_for_earlier_ = false;
  send_queued();
}

void Pin::submit(PendingCall* call) {
  call->upstream.endpoint = &endpoint_;
  queue_.push_back(call);
  send_queued();
}

void Pin::send_queued() {
  while (connected_ && !wait_for_earlier_ && !queue_.empty() && connection_->has_room()) {
    PendingCall* call = queue_.front();
    if (call->upstream.starts_stream && !connection_->streaming()) {
      // Once the replies owed (the preamble's, a session command's) are in, everything the
      // server sends is passed on as it comes.
      if (connection_->load() > 0) return;
      connection_->start_streaming();
    }
    queue_.pop_front();
    connection_->send(call);
  }
  if (connected_ && !wait_for_earlier_ && queue_.empty() && !raw_.empty()) {
    connection_->send_unanswered(raw_);
    raw_.clear();
  }
}

void Pin::send_raw(std::string_view bytes) {
  if (connection_ == nullptr) return;  // lost: the client closes after its answers
  raw_.append(bytes);
  send_queued();
}

size_t Pin::unsent() const { return raw_.size() + (connection_ != nullptr ? connection_->unsent() : 0); }

void Pin::cancel(PendingCall* call) {
  auto queued = std::find(queue_.begin(), queue_.end(), call);
  if (queued != queue_.end()) {
    queue_.erase(queued);
  } else if (call->upstream.connection != nullptr) {
    call->upstream.connection->orphan(call, false);
  }
}

void Pin::close() {
  if (connection_ == nullptr) return;
  connection_->close("the client closed its connection");
}

void Pin::release() {
  if (connection_ == nullptr) return;
  released_ = true;
  connection_->close("the client's session on it is over");
}

bool Pin::idle() const {
  return connection_ != nullptr && queue_.empty() && raw_.empty() && connection_->load() == 0 &&
         !connection_->streaming();
}

void Pin::on_connected(UpstreamConnection*) {
  connected_ = true;
  for (const std::string& frame : preamble_) connection_->send_unanswered(frame);
  send_queued();
}

void Pin::on_room(UpstreamConnection*) { send_queued(); }

void Pin::on_answer(PendingCall* call) { cluster_.on_answer(call); }

void Pin::on_call_lost(PendingCall* call, bool sent, const std::string& error) {
  cluster_.on_attempt_failed(call, sent, ErrorCode::kUpstreamError, "upstream " + endpoint_.name() + ": " + error);
}

void Pin::on_connection_closed(UpstreamConnection*, bool was_connected, bool, const std::string& error) {
  bool client_left = error == "the client closed its connection";
  connection_ = nullptr;
  --cluster_.stats().pinned;
  endpoint_.release_pin_slot();
  if (!was_connected) endpoint_.record_failure(error);
  std::deque<PendingCall*> calls;
  calls.swap(queue_);
  for (PendingCall* call : calls)
    cluster_.on_attempt_failed(call, false, ErrorCode::kUpstreamError,
                               "upstream " + endpoint_.name() + ": pinned connection lost: " + error);
  // The client's session on the server is gone, as it would be had the server closed on it.
  if (!client_left && !released_) owner_.on_pin_lost();
}

void Pin::on_push(std::string_view frame) { owner_.on_push(frame, this); }

}  // namespace rpcgate::backends
