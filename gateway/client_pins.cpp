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

std::optional<ClientPins::Verdict> ClientPins::defer(backends::Cluster& cluster, PendingCall* call) {
  const codec::Deferral step = session_->defer(call->request, deferring_ == &cluster, call->response);
  if (step == codec::Deferral::kNone) return std::nullopt;
  deferring_ = step == codec::Deferral::kEnded ? nullptr : &cluster;
  call->response.id = call->request.id;
  call->upstream.passthrough = false;
  return Verdict::kAnswered;
}

ClientPins::Verdict ClientPins::attach(backends::Cluster& cluster, PendingCall* call, const PendingQueue& pending) {
  free_released(pending);
  backends::Pin* pin = pin_for(&cluster);
  const bool keyed = cluster.sharding() != nullptr && session_ != nullptr && call->upstream.passthrough;
  if (pin == nullptr && keyed) {
    if (std::optional<Verdict> verdict = defer(cluster, call)) return *verdict;
  }
  const bool deferred = pin == nullptr && keyed && deferring_ == &cluster;
  codec::Pinning pinning =
      call->upstream.passthrough && session_ != nullptr ? session_->pinning(call->request) : codec::Pinning::kNone;
  call->upstream.starts_stream = pinning == codec::Pinning::kStream;
  auto answered_here = [&](Verdict verdict) {
    call->response.id = call->request.id;
    call->upstream.passthrough = false;
    return verdict;
  };
  if (pin == nullptr && !deferred && pinning == codec::Pinning::kLocalUnlessPinned) {
    if (session_->answer_locally(call->request, call->response)) return answered_here(Verdict::kAnswered);
    // The codec asks a shared connection instead, and finishes the answer (complete()).
    call->upstream.passthrough = false;
    call->upstream.wire.clear();
    return Verdict::kSend;
  }
  if (pin == nullptr && (pinning != codec::Pinning::kNone || deferred)) {
    // Requests sent before this one on shared connections must be answered first.
    bool earlier = shared_call_pending(pending, &cluster, nullptr);
    ErrorCode code = ErrorCode::kNone;
    std::string error;
    std::vector<std::string> preamble = session_->session_preamble();
    // The deferred MULTI goes first, on the master of this request's key.
    if (deferred) preamble.push_back(session_->deferred_frame());
    // A forwarded call's frame is the request itself: a sharded cluster finds its key there.
    const std::string_view frame = call->upstream.passthrough ? std::string_view(call->upstream.wire) : "";
    auto opened = cluster.open_pin(call->request, frame, owner_, earlier, std::move(preamble), code, error);
    if (!opened) {
      // A transaction whose command could not be placed is over: its EXEC goes to Redis, which
      // says there is no MULTI, rather than an empty success here.
      if (deferred) deferring_ = nullptr;
      call->response.set_error(code, std::move(error));
      return answered_here(Verdict::kRefused);
    }
    pin = opened.get();
    pins_.push_back(std::move(opened));
    session_->on_own_connection();
    if (deferred) {
      pin->hold().transaction = true;
      deferring_ = nullptr;
    }
  }
  if (pin != nullptr && session_ != nullptr) session_->track(call->request, pin->hold());
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
  if (call->upstream.pin != nullptr) {
    release_if_over(call->upstream.pin, pending);
    return;
  }
  backends::Pin* pin = pin_for(call->upstream.cluster);
  if (pin == nullptr || !pin->waiting_for_earlier() || call->upstream.pin != nullptr) return;
  if (!shared_call_pending(pending, call->upstream.cluster, call)) pin->release_barrier();
}

void ClientPins::release_if_over(backends::Pin* pin, const PendingQueue& pending) {
  if (pin->cluster().sharding() == nullptr || !pin->hold().clear() || pin == tunnel_ || !pin->idle()) return;
  const bool waited_on = std::any_of(pending.begin(), pending.end(), [pin](const PendingCall* other) {
    return !other->done && other->upstream.pin == pin;
  });
  if (waited_on || blocking_call_ != nullptr) return;
  auto found = std::find_if(pins_.begin(), pins_.end(), [pin](const auto& own) { return own.get() == pin; });
  if (found == pins_.end()) return;
  // Called from the pin's own answer: it is closed now and freed later (free_released).
  pin->release();
  released_.push_back(std::move(*found));
  pins_.erase(found);
  if (pins_.empty()) session_->on_own_connection_released();
}

void ClientPins::free_released(const PendingQueue& pending) {
  std::erase_if(released_, [&pending](const std::unique_ptr<backends::Pin>& pin) {
    return std::none_of(pending.begin(), pending.end(),
                        [&pin](const PendingCall* call) { return call->upstream.pin == pin.get(); });
  });
}

void ClientPins::close() {
  deferring_ = nullptr;
  blocking_call_ = nullptr;
  tunnel_ = nullptr;
  for (auto& pin : pins_) pin->close();
}

}  // namespace rpcgate
