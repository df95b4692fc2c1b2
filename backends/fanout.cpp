#include "backends/fanout.h"

#include <algorithm>

#include "backends/cluster.h"

namespace rpcgate::backends {

Fanout::Fanout(Cluster& cluster, PendingCall* whole, std::vector<std::string> parts, Spread spread)
    : cluster_(cluster), whole_(whole), spread_(std::move(spread)) {
  for (std::string& frame : parts) {
    PendingCall* part = new_call(this);
    part->request.method = whole->request.method;
    part->upstream = UpstreamState();
    part->upstream.cluster = &cluster;
    part->upstream.timeout_ms = whole->upstream.timeout_ms;
    part->upstream.deadline.owner = part;
    part->upstream.order_owner = whole->owner;
    part->upstream.passthrough = true;
    part->upstream.wire = std::move(frame);
    parts_.push_back(part);
  }
  left_ = parts_.size();
  heard_.assign(parts_.size(), false);
}

Fanout::~Fanout() {
  for (PendingCall* part : parts_) free_call(part);
}

void Fanout::start() {
  // A part refused at once (UNAVAILABLE, OVERLOADED) is finished by submit() without a word to
  // its owner: it is counted here, and the whole answered only after the loop, from one place.
  starting_ = true;
  for (size_t i = 0; i < parts_.size(); ++i) {
    PendingCall* part = parts_[i];
    cluster_.submit_part(part, spread_.targets.empty() ? nullptr : spread_.targets[i]);
    if (part->done && !heard_[i]) {
      part->upstream.passthrough = false;  // refused at once: the error is its response
      --left_;
    }
  }
  starting_ = false;
  spread_.targets.clear();  // endpoints may go; their names stay
  if (left_ == 0) finish(false);
}

void Fanout::on_call_done(PendingCall* part) {
  // Told during start() too, when a part fails at once on its endpoint (a connect refused then).
  heard_[static_cast<size_t>(std::find(parts_.begin(), parts_.end(), part) - parts_.begin())] = true;
  if (--left_ == 0 && !starting_) finish(true);
}

void Fanout::cancel() {
  for (PendingCall* part : parts_)
    if (!part->done) cluster_.cancel(part);
  whole_->upstream.fanout = nullptr;
  delete this;
}

void Fanout::finish(bool notify) {
  PendingCall* whole = whole_;
  whole->upstream.fanout = nullptr;
  std::vector<std::string_view> replies;
  for (PendingCall* part : parts_) {
    // The first part that failed here (not Redis's error reply: a timeout, a lost connection)
    // answers for the whole, as the command would have failed whole.
    if (!part->upstream.passthrough) {
      const Response failure = part->response;
      Cluster& cluster = cluster_;
      delete this;
      cluster.finish_whole(whole, &failure, notify);
      return;
    }
    replies.push_back(part->upstream.wire);
  }
  std::string merged;
  codec::Sharding& sharding = *cluster_.sharding();
  const bool split = spread_.owners.empty();  // else spread over the whole keyspace
  const bool fits =
      split ? sharding.merge(whole->upstream.resend, replies, merged)
            : sharding.whole_keyspace()->merge_whole(whole->upstream.resend, replies, spread_.owners, merged);
  Cluster& cluster = cluster_;
  delete this;
  if (!fits) {
    Response failure;
    failure.set_error(ErrorCode::kUpstreamError,
                      split ? "the parts of a split command answered replies that do not fit it"
                            : "the masters answered replies that do not fit the command");
    cluster.finish_whole(whole, &failure, notify);
    return;
  }
  whole->upstream.wire = std::move(merged);
  cluster.finish_whole(whole, nullptr, notify);
}

}  // namespace rpcgate::backends
