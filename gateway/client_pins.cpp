#include "gateway/client_pins.h"

#include <algorithm>
#include <string>

#include "backends/cluster.h"
#include "backends/pin.h"

namespace rpcgate {
namespace {

// Whether a call other than `except` to `cluster`, sent on a shared connection, is unanswered.
bool shared_call_pending(const PendingQueue& pending, const backends::Cluster* cluster, const PendingCall* except) {
  return std::any_of(pending.begin(), pending.end(), [&](const PendingCall* other) {
    return other != except && !other->done && other->upstream.cluster == cluster && other->upstream.pin == nullptr;
  });
}

}  // namespace

ClientPins::~ClientPins() = default;

backends::Pin* ClientPins::pin_for(const backends::Cluster* cluster) const {
  for (const auto& pin : pins_)
    if (&pin->cluster() == cluster) return pin.get();
  return nullptr;
}

ClientPins::Verdict ClientPins::attach(backends::Cluster& cluster, PendingCall* call, const PendingQueue& pending) {
  backends::Pin* pin = pin_for(&cluster);
  codec::Pinning pinning =
      call->upstream.passthrough && session_ != nullptr ? session_->pinning(call->request) : codec::Pinning::kNone;
  call->upstream.starts_stream = pinning == codec::Pinning::kStream;
  auto answered_here = [&](Verdict verdict) {
    call->response.id = call->request.id;
    call->upstream.passthrough = false;
    return verdict;
  };
  if (pin == nullptr && pinning == codec::Pinning::kLocalUnlessPinned) {
    if (session_->answer_locally(call->request, call->response)) return answered_here(Verdict::kAnswered);
    // The codec asks a shared connection instead, and finishes the answer (complete()).
    call->upstream.passthrough = false;
    call->upstream.wire.clear();
    return Verdict::kSend;
  }
  if (pin == nullptr && pinning != codec::Pinning::kNone) {
    // Requests sent before this one on shared connections must be answered first.
    bool earlier = shared_call_pending(pending, &cluster, nullptr);
    ErrorCode code = ErrorCode::kNone;
    std::string error;
    auto opened = cluster.open_pin(call->request, owner_, earlier, session_->session_preamble(), code, error);
    if (!opened) {
      call->response.set_error(code, std::move(error));
      return answered_here(Verdict::kRefused);
    }
    pin = opened.get();
    pins_.push_back(std::move(opened));
    session_->on_own_connection();
  }
  // Once the client has a pin to a cluster, all its calls there take it, in order.
  call->upstream.pin = pin;
  // Redis reads nothing more from a client it holds in a blocking command.
  if (pinning == codec::Pinning::kBlocking) blocking_call_ = call;
  // Its answers will no longer be one per request, so the gateway can no longer tell where one
  // ends: it steps aside, and everything the client sends from here on goes to its own
  // connection unread, as everything from there comes back (a stream both ways).
  if (call->upstream.starts_stream) tunnel_ = pin;
  return Verdict::kSend;
}

void ClientPins::on_call_done(const PendingCall* call, const PendingQueue& pending) {
  if (call == blocking_call_) blocking_call_ = nullptr;
  if (call->upstream.cluster == nullptr || pins_.empty()) return;
  backends::Pin* pin = pin_for(call->upstream.cluster);
  if (pin == nullptr || !pin->waiting_for_earlier() || call->upstream.pin != nullptr) return;
  if (!shared_call_pending(pending, call->upstream.cluster, call)) pin->release_barrier();
}

void ClientPins::close() {
  blocking_call_ = nullptr;
  tunnel_ = nullptr;
  for (auto& pin : pins_) pin->close();
}

}  // namespace rpcgate
