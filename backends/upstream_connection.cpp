#include "backends/upstream_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "backends/cluster.h"
#include "backends/endpoint.h"
#include "backends/upstreams.h"
#include "core/log.h"
#include "core/pending_call.h"

namespace rpcgate::backends {
namespace {

constexpr size_t kKeepBufferCapacity = 256 * 1024;

}  // namespace

UpstreamConnection::UpstreamConnection(Endpoint& endpoint, ConnectionEvents& events)
    : endpoint_(endpoint),
      upstreams_(endpoint.cluster().upstreams()),
      events_(events),
      codec_(endpoint.cluster().codec().make_client(endpoint.cluster().config().codec_options)),
      by_id_(codec_->matches_by_id()),
      in_flight_(by_id_) {
  Upstreams& upstreams = endpoint_.cluster().upstreams();
  uv_tcp_init(upstreams.loop(), &tcp_);
  uv_timer_init(upstreams.loop(), &connect_timer_);
  upstreams.handle_opened();
  upstreams.handle_opened();
  tcp_.data = this;
  connect_timer_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
  codec_->connected_to(endpoint_.name());
  if (const auto& context = endpoint_.cluster().tls_context(); context != nullptr)
    tls_ = std::make_unique<Tls>(context->get());  // the session holds a reference of its own
}

void UpstreamConnection::connect() {
  auto timeout = static_cast<uint64_t>(endpoint_.cluster().config().connect_timeout.count());
  uv_timer_start(&connect_timer_, &UpstreamConnection::on_connect_timeout, timeout, 0);
  int rc = uv_tcp_connect(&connect_req_, &tcp_, endpoint_.sockaddr_ptr(), &UpstreamConnection::on_connect);
  if (rc != 0) {
    // Reported from the timer, never from inside connect(): its caller is in the middle of
    // placing a call and must not see that call fail under it.
    connect_error_ = rc;
    uv_timer_start(&connect_timer_, &UpstreamConnection::on_connect_timeout, 0, 0);
  }
}

void UpstreamConnection::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  if (self->state_ != State::kConnecting) return;  // closed meanwhile (timeout): UV_ECANCELED
  uv_timer_stop(&self->connect_timer_);
  if (status != 0) {
    self->close(std::string("cannot connect: ") + uv_strerror(status));
    return;
  }
  // Frames go out whole and at once: legacy servers read a frame with one recv(4) and one
  // recv(length), and Nagle would hold a small frame back until the previous one is acknowledged.
  uv_tcp_nodelay(&self->tcp_, 1);
  if (uv_read_start(self->stream(), &UpstreamConnection::on_alloc, &UpstreamConnection::on_read) != 0) {
    self->close("cannot read from the connection");
    return;
  }
  if (self->tls_ != nullptr) {
    self->start_handshake();
    return;
  }
  self->on_transport_ready();
}

void UpstreamConnection::on_transport_ready() {
  state_ = State::kConnected;
  // Before anything else: the upstream's own authentication (RESP AUTH). No request goes out
  // until its reply is read: one sent behind a refused login would run as the wrong user.
  std::string preamble = codec_->connection_preamble();
  if (!preamble.empty()) {
    logging_in_ = true;
    send_unanswered(preamble);
    return;
  }
  on_ready();
}

void UpstreamConnection::on_ready() {
  // Settings the codec gives every connection (READONLY): in before any request, so in order.
  std::string setup = codec_->connection_setup();
  if (!setup.empty()) send_unanswered(setup);
  events_.on_connected(this);
}

bool UpstreamConnection::accept_login(const Response& reply) {
  const Cluster& cluster = endpoint_.cluster();
  if (!reply.is_error()) {
    logging_in_ = false;
    return true;
  }
  // Redis without a password answers AUTH with an error and serves the connection all the same:
  // worth a warning (the configured password protects nothing), not a failed upstream.
  if (reply.message.find("without any password configured") != std::string::npos) {
    LOG_WARN("cluster %s: upstream %s has no password, yet the cluster sends one: %s", cluster.config().name.c_str(),
             endpoint_.name().c_str(), reply.message.c_str());
    logging_in_ = false;
    return true;
  }
  ++endpoint_.cluster().stats().login_failures;
  LOG_ERROR("cluster %s: upstream %s refused the cluster's login (its username and password): %s",
            cluster.config().name.c_str(), endpoint_.name().c_str(), reply.message.c_str());
  close("login refused: " + reply.message);
  return false;
}

void UpstreamConnection::on_connect_timeout(uv_timer_t* timer) {
  auto* self = static_cast<UpstreamConnection*>(timer->data);
  if (self->connect_error_ != 0) {
    self->close(std::string("cannot connect: ") + uv_strerror(self->connect_error_));
    return;
  }
  auto timeout = self->endpoint_.cluster().config().connect_timeout.count();
  if (self->state_ == State::kHandshaking) {
    // Connected, but the upstream does not finish the handshake (stalled, or not TLS and waiting
    // for a request): a failed connect, with the backoff of one, not a lost SYN.
    self->fail_handshake(tls::TlsFailure::kTimeout, "the TLS handshake did not finish within connect_timeout (" +
                                                        std::to_string(timeout) + " ms)");
    return;
  }
  self->connect_timed_out_ = true;
  self->close("connect timed out after " + std::to_string(timeout) + " ms");
}

bool UpstreamConnection::has_room() const {
  if (logging_in_) return false;
  if (streaming_) return state_ == State::kConnected;
  // Behind a request that timed out, a new one would wait for that late reply too.
  // A multiplexed protocol's own bound (HTTP/2's MAX_CONCURRENT_STREAMS) may be the lower one.
  const size_t depth = std::min<size_t>(endpoint_.cluster().config().pipeline_depth, codec_->max_in_flight());
  return state_ == State::kConnected && in_flight_.size() < depth && !in_flight_.head_orphaned();
}

void UpstreamConnection::send(PendingCall* call) {
  UpstreamState& state = call->upstream;
  state.connection = this;
  if (!state.preface.empty() && !streaming_) {
    in_flight_.add_orphan();  // its reply answers nobody
    output_ += state.preface;
  }
  if (streaming_)
    written_unmatched_.push_back(call);  // answered once written; what comes back is passed on
  else
    state.seq = in_flight_.add(call);
  if (state.passthrough) {
    output_ += state.wire;
  } else {
    // By id, the wire carries the gateway's sequence number, unique on this connection; the
    // client's own id goes back on the answer from the call. In order, no id is needed.
    std::optional<uint64_t> client_id = call->request.id;
    call->request.id = by_id_ ? std::optional<uint64_t>(state.seq) : std::nullopt;
    if (codec_->carries_meta()) set_timeout_meta(call);
    codec_->encode(call->request, output_);
    call->request.id = client_id;
    if (call->request.stream != nullptr) call->request.stream->placed();
    if (!streaming_ && codec_->encode_failed(scratch_)) {
      // Never on the wire: answered from flush(), outside the caller that is placing it.
      in_flight_.forget_newest();
      call->response = std::move(scratch_);
      scratch_ = Response();
      call->response.id = client_id;
      unencodable_.push_back(call);
    }
  }
  endpoint_.cluster().upstreams().schedule_flush(this);
}

void UpstreamConnection::send_unanswered(std::string_view frame) {
  if (!streaming_) in_flight_.add_orphan();
  output_.append(frame);
  endpoint_.cluster().upstreams().schedule_flush(this);
}

void UpstreamConnection::set_timeout_meta(PendingCall* call) {
  // The upstream learns how long the gateway will wait, so it can give up when nobody waits.
  // A stream whose deadline bounds only its first answer has none to tell.
  if (!call->upstream.deadline.linked() || call->upstream.deadline_until_answer) return;
  uint64_t now = endpoint_.cluster().now_ms();
  uint64_t due = call->upstream.deadline.due_ms;
  std::string left = std::to_string(due > now ? due - now : 0);
  for (auto& [key, value] : call->request.meta) {
    if (key == kTimeoutMetaKey) {
      value = std::move(left);
      return;
    }
  }
  call->request.meta.emplace_back(kTimeoutMetaKey, std::move(left));
}

void UpstreamConnection::orphan(PendingCall* call, bool timed_out) {
  if (std::erase(unencodable_, call) > 0) {
    call->upstream.connection = nullptr;
    return;
  }
  if (streaming_) {
    written_unmatched_.erase(std::remove(written_unmatched_.begin(), written_unmatched_.end(), call),
                             written_unmatched_.end());
    call->upstream.connection = nullptr;
    return;
  }
  in_flight_.orphan(call->upstream.seq);
  call->upstream.connection = nullptr;
  if (codec::ClientStreams* streams = codec_->streams(); streams != nullptr && call->request.stream != nullptr) {
    streams->abandon(call->upstream.seq);  // its reset leaves with the next flush
    upstreams_.schedule_flush(this);
  }
  // A client that went away says nothing about the upstream: its late replies will come.
  if (timed_out) close_if_only_orphans();
}

void UpstreamConnection::close_if_only_orphans() {
  // Every request here timed out and nobody waits for any reply: the upstream is stalled, or far
  // too slow. A fresh connection is cheaper than waiting for the late replies.
  if (state_ == State::kConnected && in_flight_.size() > 0 && in_flight_.live() == 0) close(std::string(kAllTimedOut));
}

void UpstreamConnection::stream_send(PendingCall* call, std::string_view bytes) {
  codec_->streams()->send(call->upstream.seq, bytes);
  upstreams_.schedule_flush(this);
}

void UpstreamConnection::stream_end(PendingCall* call) {
  codec_->streams()->end(call->upstream.seq);
  upstreams_.schedule_flush(this);
}

void UpstreamConnection::stream_consume(PendingCall* call, size_t bytes) {
  codec_->streams()->consume(call->upstream.seq, bytes);
  upstreams_.schedule_flush(this);
}

void UpstreamConnection::flush() {
  answer_unencodable();
  if ((state_ != State::kConnected && state_ != State::kHandshaking) || write_in_flight_) return;
  // What the codec has to send on its own (a streamed call's messages, window updates), taken
  // only when the socket has taken the last write: a slow upstream is not buffered for.
  if (state_ == State::kConnected) codec_->take_output(output_);
  // TLS: everything queued is sealed now, so that one flush is still one write.
  if (tls_ != nullptr && !seal_output()) return;
  std::string& out = tls_ != nullptr ? tls_->sealed : output_;
  if (out.empty()) return;
  uv_buf_t buf = uv_buf_init(out.data(), out.size());
  int written = uv_try_write(stream(), &buf, 1);
  if (written < 0 && written != UV_EAGAIN) {
    close(std::string("write failed: ") + uv_strerror(written));
    return;
  }
  unwritten_seq_ = in_flight_.next_seq();
  wrote_any_ = true;
  size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
  if (sent == out.size()) {
    out.clear();
    if (out.capacity() > kKeepBufferCapacity) std::string().swap(out);
    answer_written_unmatched();
    return;
  }
  writing_.assign(out, sent);
  out.clear();
  buf = uv_buf_init(writing_.data(), writing_.size());
  write_in_flight_ = true;
  int rc = uv_write(&write_req_, stream(), &buf, 1, &UpstreamConnection::on_write);
  if (rc != 0) {
    write_in_flight_ = false;
    close(std::string("write failed: ") + uv_strerror(rc));
    return;
  }
  answer_written_unmatched();
}

void UpstreamConnection::answer_unencodable() {
  std::vector<PendingCall*> calls;
  calls.swap(unencodable_);
  for (PendingCall* call : calls) {
    call->upstream.connection = nullptr;
    events_.on_answer(call);
  }
}

void UpstreamConnection::answer_written_unmatched() {
  // Streaming: a request has no reply of its own to wait for. It is answered with nothing, and
  // what the server sends back reaches the client as it comes.
  std::vector<PendingCall*> calls;
  calls.swap(written_unmatched_);
  for (PendingCall* call : calls) {
    call->upstream.connection = nullptr;
    call->upstream.wire.clear();
    events_.on_answer(call);
  }
}

void UpstreamConnection::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  self->write_in_flight_ = false;
  if (status < 0) {
    if (status != UV_ECANCELED) self->close(std::string("write failed: ") + uv_strerror(status));
    return;
  }
  self->writing_.clear();
  if (self->writing_.capacity() > kKeepBufferCapacity) std::string().swap(self->writing_);
  // Also when nothing waits: the codec may have more to say now that the socket took this.
  self->endpoint_.cluster().upstreams().schedule_flush(self);
}

void UpstreamConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  Upstreams& upstreams = self->endpoint_.cluster().upstreams();
  // TLS reads ciphertext into the scratch buffer always: its plaintext joins a partial reply.
  if (self->input_.empty() || self->tls_ != nullptr) {
    *buf = uv_buf_init(upstreams.read_scratch(), upstreams.scratch_bytes());
  } else {
    char* tail = self->input_.reserve_tail(upstreams.scratch_bytes());
    *buf = uv_buf_init(tail, self->input_.tail_room());
  }
}

void UpstreamConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<UpstreamConnection*>(stream->data)->handle_read(nread, buf);
}

void UpstreamConnection::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || (state_ != State::kConnected && state_ != State::kHandshaking)) return;
  if (nread < 0) {
    std::string why = nread == UV_EOF ? std::string("the upstream closed the connection")
                                      : std::string("read failed: ") + uv_strerror(static_cast<int>(nread));
    if (state_ == State::kHandshaking) {
      fail_handshake(tls::TlsFailure::kOther, why + " during the TLS handshake");
      return;
    }
    closed_by_peer_ = true;
    close(why);
    return;
  }
  received_any_ = true;
  std::string_view bytes(buf->base, static_cast<size_t>(nread));
  if (tls_ != nullptr) {
    // The codec sees plaintext, exactly as it would have come over a plain socket.
    std::string& plaintext = endpoint_.cluster().upstreams().tls_plaintext();
    plaintext.clear();
    if (!open_records(bytes, plaintext)) return;
    bytes = plaintext;
  }
  if (streaming_) {
    if (!bytes.empty()) pass_stream(bytes);
    return;
  }
  if (!take_replies(bytes, buf->base != endpoint_.cluster().upstreams().read_scratch())) return;
  // What the session says on its own (acknowledgements, window updates) goes with the next write.
  const size_t unsent_before = output_.size();
  codec_->take_output(output_);
  if (output_.size() != unsent_before) endpoint_.cluster().upstreams().schedule_flush(this);
  if (codec_->max_in_flight() == 0 && in_flight_.size() == 0 && unencodable_.empty()) {
    close("the upstream takes no more requests on this connection (GOAWAY)");
    return;
  }
  // More replies are due: the upstream may hold them back (Nagle) until we acknowledge what it
  // sent, and a delayed ACK would cost each call ~40 ms.
  if (!input_.empty() || in_flight_.size() > 0) rearm_quickack();
  input_.shrink_if_above(4 * endpoint_.cluster().upstreams().scratch_bytes());
  close_if_only_orphans();
  if (state_ == State::kConnected) events_.on_room(this);  // late replies may have freed slots
}

bool UpstreamConnection::take_replies(std::string_view bytes, bool read_into_input) {
  if (read_into_input) {
    input_.commit(bytes.size());  // read straight behind a partial reply
  } else if (!input_.empty()) {
    // TLS plaintext behind a partial reply: joined to it.
    std::memcpy(input_.reserve_tail(bytes.size()), bytes.data(), bytes.size());
    input_.commit(bytes.size());
  } else {
    // The common case: whole replies matched where they landed; only a partial tail is copied.
    size_t consumed = read_replies(bytes);
    if (state_ != State::kConnected) return false;
    if (consumed < bytes.size()) input_.assign(bytes.data() + consumed, bytes.size() - consumed);
    return true;
  }
  input_.consume(read_replies(input_.view()));
  return state_ == State::kConnected;
}

size_t UpstreamConnection::read_replies(std::string_view input) {
  size_t consumed = 0;
  // A multiplexed codec may have replies left to report after the last byte (one frame ended
  // several streams): it is asked until it needs more.
  const bool multiplexed = codec_->multiplexed();
  while ((consumed < input.size() || multiplexed) && state_ == State::kConnected) {
    std::string_view rest = input.substr(consumed);
    if (discarding_) {
      // The rest of a reply too large to hold: passed over as it arrives, never buffered.
      codec::DecodeResult result = codec_->discard(rest, scratch_);
      if (result.status == codec::DecodeStatus::kBroken) {
        close("bad reply: " + scratch_.message);
        return input.size();
      }
      consumed += result.consumed;
      if (result.status != codec::DecodeStatus::kAnswered) return consumed;
      discarding_ = false;
      continue;
    }
    if (logging_in_) {
      codec::DecodeResult result = codec_->decode(rest, scratch_);
      if (result.status == codec::DecodeStatus::kNeedMore) return consumed;
      if (result.status != codec::DecodeStatus::kAnswered) {
        close("bad reply to the login: " + scratch_.message);
        return input.size();
      }
      PendingCall* orphan = nullptr;
      in_flight_.take(std::nullopt, orphan);
      consumed += result.consumed;
      if (!accept_login(scratch_)) return input.size();
      on_ready();
      continue;
    }
    PendingCall* head = in_flight_.head();
    // In order, the next reply's call is known before reading it: a forwarded reply, a push, or
    // a late reply nobody waits for only needs its end found. By id, the reply must be parsed to
    // learn whose it is.
    codec::DecodeResult result;
    Response* into = &scratch_;
    if (by_id_) {
      result = codec_->decode(rest, scratch_);
    } else if (head == nullptr || head->upstream.passthrough) {
      result = codec_->skip(rest, scratch_);
    } else {
      into = &head->response;
      result = codec_->decode(rest, *into);
    }
    if (result.status == codec::DecodeStatus::kNeedMore) return consumed;
    if (result.status == codec::DecodeStatus::kConsumed) {  // a frame that completed no reply
      if (result.consumed == 0) return consumed;
      consumed += result.consumed;
      continue;
    }
    if (result.status == codec::DecodeStatus::kRefused) {
      consumed += result.consumed;
      refused(scratch_);
      continue;
    }
    if (result.status == codec::DecodeStatus::kOversized) {
      skip_oversized_reply();
      continue;
    }
    std::string_view frame = rest.substr(0, result.consumed);
    if (result.status == codec::DecodeStatus::kAnswered && codec_->is_push(frame)) {
      // Sent on the upstream's own account (pub/sub, RESP3 invalidations): it answers nothing.
      events_.on_push(frame);
      consumed += result.consumed;
      continue;
    }
    if (result.status == codec::DecodeStatus::kBroken) {
      std::string why = "bad reply: " + into->message;  // the endpoint adds its own name
      PendingCall* call = nullptr;
      if (!by_id_ && in_flight_.take(std::nullopt, call) && call != nullptr) {
        lost_calls_ = true;
        call->upstream.connection = nullptr;
        events_.on_call_lost(call, true, why);
      }
      close(why);
      return input.size();
    }
    PendingCall* call = nullptr;
    std::optional<uint64_t> id = by_id_ ? scratch_.id : std::nullopt;
    if (!in_flight_.take(id, call)) {
      close("a reply no request is waiting for");
      return input.size();
    }
    consumed += result.consumed;
    if (call == nullptr) continue;  // a late reply to a request that timed out
    call->upstream.connection = nullptr;
    if (call->upstream.passthrough) {
      call->upstream.wire.assign(frame);
    } else if (by_id_) {
      call->response = std::move(scratch_);
      scratch_ = Response();
    }
    call->response.id = call->request.id;
    events_.on_answer(call);
  }
  return consumed;
}

void UpstreamConnection::refused(const Response& refusal) {
  PendingCall* call = nullptr;
  if (!in_flight_.take(refusal.id, call) || call == nullptr) return;  // nobody waits for it any more
  call->upstream.connection = nullptr;
  ++call->upstream.refusals;
  // Never acted on: the cluster places it again, as one never sent, within a budget (maybe on
  // this connection, whose codec then reuses the response `refusal` is, so its message is copied
  // first).
  const std::string why = refusal.message;
  events_.on_call_lost(call, false, why);
}

void UpstreamConnection::skip_oversized_reply() {
  // Only the request it answers fails; the replies behind it still match theirs, so the
  // connection, and the other clients' requests on it, go on.
  discarding_ = true;
  ++endpoint_.cluster().stats().replies_too_large;
  LOG_WARN("cluster %s (%s): %s; its request gets TOO_LARGE (max_frame_bytes, max_elements, max_request_bytes)",
           endpoint_.cluster().config().name.c_str(), endpoint_.name().c_str(), scratch_.message.c_str());
  PendingCall* call = nullptr;
  if (!in_flight_.take(std::nullopt, call) || call == nullptr) return;  // a late reply: nobody waits
  call->upstream.connection = nullptr;
  call->upstream.passthrough = false;
  call->response.clear();
  call->response.id = call->request.id;
  call->response.set_error(ErrorCode::kTooLarge, scratch_.message);
  events_.on_answer(call);
}

void UpstreamConnection::pass_stream(std::string_view bytes) {
  // What a frame reader held of the last frame before the switch goes first: order is all that
  // counts in a byte stream.
  if (!input_.empty()) {
    events_.on_push(input_.view());
    if (state_ != State::kConnected) return;
    input_ = ByteBuffer();
  }
  events_.on_push(bytes);
}

void UpstreamConnection::rearm_quickack() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return;
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

void UpstreamConnection::close(const std::string& error) {
  if (state_ == State::kClosing) return;
  // A connection whose login was refused (or never answered) never served: a failed connect.
  bool was_connected = state_ == State::kConnected && !logging_in_;
  if (state_ == State::kConnected && tls_ != nullptr && !tls_->refused) {
    tls_->engine.shutdown();  // close_notify: the upstream can tell our close from a cut connection
    send_last_words();
  }
  state_ = State::kClosing;
  Upstreams& upstreams = endpoint_.cluster().upstreams();
  upstreams.unschedule_flush(this);
  uv_timer_stop(&connect_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &UpstreamConnection::on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&connect_timer_), &UpstreamConnection::on_handle_closed);
  uint64_t unwritten = unwritten_seq_;
  answer_unencodable();
  std::vector<PendingCall*> unmatched;
  unmatched.swap(written_unmatched_);
  for (PendingCall* call : unmatched) {
    call->upstream.connection = nullptr;
    events_.on_call_lost(call, false, error);
  }
  in_flight_.drain([&](PendingCall* call) {
    lost_calls_ = true;
    call->upstream.connection = nullptr;
    events_.on_call_lost(call, call->upstream.seq < unwritten, error);
  });
  events_.on_connection_closed(this, was_connected, lost_calls_, error);
}

void UpstreamConnection::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  self->upstreams_.handle_closed();
  if (--self->open_handles_ == 0) delete self;
}

}  // namespace rpcgate::backends
