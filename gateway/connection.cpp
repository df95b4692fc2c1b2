#include "gateway/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "backends/cluster.h"
#include "backends/endpoint.h"
#include "backends/pin.h"
#include "core/log.h"
#include "gateway/access_log.h"
#include "gateway/calls.h"
#include "gateway/gateway.h"
#include "gateway/listener.h"

namespace rpcgate {
namespace {

// Output buffers above this are given back after a flush, so a connection that once answered
// a large result does not keep the memory while idle.
constexpr size_t kKeepOutputCapacity = 256 * 1024;
// An error message quotes at most this much of a client-chosen method name.
constexpr size_t kQuotedMethodBytes = 128;

}  // namespace

Connection::Connection(Gateway& gateway, Listener& listener)
    : gateway_(gateway),
      listener_(listener),
      codec_(listener.make_codec()),
      session_(codec_->session()),
      request_(gateway.spot_request()),
      response_(gateway.spot_response()),
      pins_(session_, *this),
      streams_(codec_->streams()),
      in_order_(codec_->answers_in_order()),
      histograms_(gateway.config().admin.latency_histograms),
      timing_(histograms_ || gateway.access_log() != nullptr),
      login_(codec_->enforces_login() ? nullptr : listener.codec_options().credentials) {
  if (session_ != nullptr) session_->set_connection_id(gateway_.next_connection_id());
  codec_->set_serving(gateway_.serving());
  if (listener.tls_context() != nullptr) tls_ = std::make_unique<Tls>(listener.tls_context());
  uv_tcp_init(gateway_.loop(), &tcp_);
  tcp_.data = this;
  gateway_.add_connection(this);
}

void Connection::start(bool reject) {
  Stats& stats = gateway_.stats();
  ++stats.connections_accepted;
  last_active_ms_ = gateway_.now_ms();
  accepted_ms_ = last_active_ms_;
  uv_tcp_nodelay(&tcp_, 1);
  if (reject && tls_ != nullptr) {
    // The error frame could only go after a handshake: the work a full listener should not do.
    ++stats.connections_rejected;
    close();
    return;
  }
  if (reject) {
    ++stats.connections_rejected;
    response_.clear();  // the loop's: it may hold another connection's last answer
    response_.set_error(ErrorCode::kOverloaded, "too many connections");
    codec_->encode(response_, output_);
    close_when_flushed_ = true;
    pump();
    return;
  }
  ++stats.connections_active;
  ++stats.connections_by_listener[listener_.index()];
  counted_active_ = true;
  if (gateway_.access_log() != nullptr) peer_ = peer_address();
  if (session_ != nullptr && session_->wants_local_address()) tell_local_address();
  pump();
}

void Connection::tell_local_address() {
  std::string host;
  uint16_t port = 0;
  if (socket_address(uv_tcp_getsockname, host, port)) session_->set_local_address(host, port);
}

std::string Connection::peer_address() {
  std::string host;
  uint16_t port = 0;
  if (!socket_address(uv_tcp_getpeername, host, port)) return {};
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// One end of the connection's socket (uv_tcp_getsockname: ours; uv_tcp_getpeername: the
// client's), as an address text and a port.
bool Connection::socket_address(int (*get)(const uv_tcp_t*, sockaddr*, int*), std::string& host, uint16_t& port) {
  sockaddr_storage address{};
  int length = sizeof address;
  char text[INET6_ADDRSTRLEN] = "";
  if (get(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    uv_ip6_name(v6, text, sizeof text);
    port = ntohs(v6->sin6_port);
  } else {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    uv_ip4_name(v4, text, sizeof text);
    port = ntohs(v4->sin_port);
  }
  host = text;
  return true;
}

void Connection::take_certificate_identity() {
  const conf::ListenerTlsConfig& settings = *listener_.config().tls;
  if (settings.settings.client_ca.empty()) return;  // no certificate asked for
  tls_->identity = tls_->engine.peer_identity(settings.identity);
  if (tls_->identity.empty() || !settings.login_by_certificate) return;
  const codec::Credentials* users = listener_.codec_options().credentials;
  const char* name = listener_.config().name.c_str();
  if (users == nullptr || !users->has_user(tls_->identity)) {
    LOG_DEBUG("listener %s: the certificate of %s names '%s', who is no user: it must log in with a password", name,
              peer_address().c_str(), tls_->identity.c_str());
    return;
  }
  // Before any request is decoded: the bytes of this read behind the handshake come next.
  login_.accept_login();
  codec_->accept_login();
  LOG_DEBUG("listener %s: %s logged in as '%s' by its certificate", name, peer_address().c_str(),
            tls_->identity.c_str());
}

void Connection::note_login_failure() {
  ++gateway_.stats().login_failures;
  if (login_failure_logged_) return;
  login_failure_logged_ = true;
  LOG_WARN(
      "listener %s: a login from %s was refused (wrong user name or password); further failures on this "
      "connection are counted, not logged",
      listener_.config().name.c_str(), peer_address().c_str());
}

void Connection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  // TLS reads ciphertext into the scratch buffer always: its plaintext joins a partial frame.
  if (self->input_.empty() || self->tls_ != nullptr) {
    *buf = uv_buf_init(self->gateway_.read_scratch(), Gateway::kReadScratchBytes);
  } else {
    // A frame is incomplete: read straight behind its first part so it ends up contiguous.
    char* tail = self->input_.reserve_tail(Gateway::kReadScratchBytes);
    *buf = uv_buf_init(tail, self->input_.tail_room());
  }
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Connection*>(stream->data)->handle_read(nread, buf);
}

void Connection::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || closing_) return;  // EAGAIN, or a read racing our own close
  if (nread < 0) {
    if (nread != UV_EOF) {
      LOG_DEBUG("listener %s: read error: %s", listener_.config().name.c_str(), uv_strerror(static_cast<int>(nread)));
      close();
      return;
    }
    read_eof_ = true;
    reading_ = false;  // libuv stops reading at EOF by itself
    if (!pins_.empty()) {
      // A session of the client's own on the server (a blocked BLPOP, a subscription) ends with
      // it, as it would at the server: waiting for its answer would keep it alive, and a BLPOP
      // would take an element nobody reads.
      close();
      return;
    }
    pump();
    return;
  }
  gateway_.stats().bytes_in += nread;
  last_active_ms_ = gateway_.now_ms();
  const bool filled = static_cast<size_t>(nread) == buf->len;
  std::string_view bytes(buf->base, static_cast<size_t>(nread));
  if (tls_ != nullptr) {
    // The codec sees plaintext, exactly as it would have come over a plain socket; the handshake
    // flights the engine answers with leave with the next flush.
    std::string& plaintext = gateway_.tls_plaintext();
    plaintext.clear();
    tls_->heard = true;
    if (!open_records(bytes, plaintext)) return;
    bytes = plaintext;
  }
  if (close_when_flushed_ || input_ended_) {
    // After QUIT or a framing error nothing more is a request, and the bytes go unread, as in
    // Redis; reading goes on only to see the client leave (see update_reading).
    input_ = ByteBuffer();
    pump();
    return;
  }
  if (pins_.tunnel() != nullptr) {
    if (!bytes.empty()) forward_to_tunnel(bytes);
    if (!closing_) tls_ != nullptr ? pump() : update_reading();
    return;
  }
  if (timing_) read_ns_ = uv_hrtime();
  if (!bytes.empty()) awaiting_bytes_ = false;

  if (buf->base != gateway_.read_scratch()) {
    input_.commit(static_cast<size_t>(nread));  // read behind a partial frame; decoded by pump()
  } else if (!input_.empty()) {
    // TLS plaintext behind a partial frame: joined to it, decoded by pump().
    std::memcpy(input_.reserve_tail(bytes.size()), bytes.data(), bytes.size());
    input_.commit(bytes.size());
  } else {
    // The common case: whole frames decoded where they landed; only a partial tail is copied.
    size_t consumed = decode_frames(bytes);
    if (consumed < bytes.size() && !broken_) input_.assign(bytes.data() + consumed, bytes.size() - consumed);
  }
  pump();
  if (closing_) return;
  if (!input_.empty()) rearm_quickack();
  input_.shrink_if_above(4 * Gateway::kReadScratchBytes);
  if (filled) yield_reading();
}

bool Connection::open_records(std::string_view ciphertext, std::string& plaintext) {
  const bool was_established = tls_->engine.established();
  const tls::TlsStatus status = tls_->engine.feed(ciphertext, plaintext);
  if (!was_established && (tls_->engine.established() || status == tls::TlsStatus::kFailed)) {
    TlsCounters& counters = gateway_.stats().tls_by_listener[listener_.index()];
    if (status == tls::TlsStatus::kFailed) {
      ++counters.failures[static_cast<size_t>(tls_->engine.failure())];
    } else {
      ++counters.handshakes;
      take_certificate_identity();
    }
  }
  switch (status) {
    case tls::TlsStatus::kOk:
      return true;
    case tls::TlsStatus::kClosed:
      // close_notify: the client's end of the stream, as an EOF on a plain socket.
      if (!plaintext.empty()) return true;  // the last requests first; the next read sees EOF
      read_eof_ = true;
      if (reading_) uv_read_stop(stream());
      reading_ = false;
      pump();
      return false;
    case tls::TlsStatus::kFailed:
      break;
  }
  // Not a TLS client, a wrong certificate, a bad record: this client alone goes, at debug level
  // since a scanner can cause it at will.
  LOG_DEBUG("listener %s: closing a TLS client from %s: %s%s", listener_.config().name.c_str(), peer_address().c_str(),
            tls_->engine.error().c_str(), was_established ? "" : " (during the handshake)");
  send_last_words();
  close();
  return false;
}

bool Connection::may_decode() const {
  const auto& config = listener_.config();
  // After QUIT or a framing error nothing more is read as a request, as Redis does.
  return !broken_ && !closing_ && !close_when_flushed_ && !input_ended_ && !pins_.blocked() &&
         pending_.size() < config.max_pipeline && output_.size() < config.output_high_water;
}

void Connection::forward_to_tunnel(std::string_view bytes) {
  // Redis closes a client whose unread input passes its query buffer limit; here the bound is
  // the listener's output_limit on what its own connection has not taken yet.
  const auto& config = listener_.config();
  backends::Pin* tunnel = pins_.tunnel();
  if (tunnel->unsent() + bytes.size() > config.output_limit) {
    ++gateway_.stats().connections_output_overflow;
    LOG_WARN(
        "listener %s: closing a client whose stream its upstream does not take (%zu bytes unsent, output_limit %zu)",
        config.name.c_str(), tunnel->unsent(), config.output_limit);
    close();
    return;
  }
  tunnel->send_raw(bytes);
}

size_t Connection::decode_frames(std::string_view input) {
  // What the codec has to say on its own goes before the answers to this read (a preface).
  codec_->take_output(output_);
  size_t consumed = 0;
  while (consumed < input.size() && pins_.tunnel() == nullptr && may_decode()) {
    request_.clear();
    response_.clear();
    codec::DecodeResult result = codec_->decode(input.substr(consumed), request_, response_);
    frame_bytes_ = result.consumed;
    switch (result.status) {
      case codec::DecodeStatus::kNeedMore:
        awaiting_bytes_ = true;
        return consumed;
      case codec::DecodeStatus::kRequest: {
        const bool last = response_.close_after;
        dispatch(input.substr(consumed, result.consumed));
        consumed += result.consumed;
        // Forwarded to the client's own connection, which the server closes after answering
        // it: the client goes with it (on_pin_lost), and nothing more it sends is a request.
        if (last) input_ended_ = true;
        break;
      }
      case codec::DecodeStatus::kAnswered:  // a request too, answered by the codec (HELLO, a bad frame)
        consumed += result.consumed;
        count_request();
        answer(request_, response_);
        break;
      case codec::DecodeStatus::kConsumed:
        consumed += result.consumed;
        break;
      case codec::DecodeStatus::kCallOpened:
        consumed += result.consumed;
        open_stream();
        break;
      case codec::DecodeStatus::kOversized:  // client codecs' own; a server codec never says them
      case codec::DecodeStatus::kRefused:
      case codec::DecodeStatus::kHangUp:
        ++gateway_.stats().protocol_errors;
        LOG_DEBUG("listener %s: closing a client that is not speaking its protocol (HTTP), without a reply",
                  listener_.config().name.c_str());
        close();
        return input.size();
      case codec::DecodeStatus::kBroken:
        ++gateway_.stats().protocol_errors;
        listener_.log_protocol_error(response_);
        broken_ = true;
        close_when_flushed_ = true;
        count_request();  // its error answer is counted: so is what it answers
        answer(request_, response_);
        return input.size();
    }
  }
  if (pins_.tunnel() != nullptr && consumed < input.size() && !closing_) {
    forward_to_tunnel(input.substr(consumed));
    return input.size();
  }
  return consumed;
}

// Every answer the client gets is to one request: so requests, errors and latency samples add up.
void Connection::count_request() {
  ++gateway_.stats().requests;
  ++gateway_.stats().requests_by_listener[listener_.index()];
}

void Connection::dispatch(std::string_view frame) {
  count_request();
  const bool stands_before = login_.stands_before(request_);
  if (stands_before) codec_->complete_params(request_);
  if (stands_before && !login_.check(request_, response_)) {
    answer(request_, response_);
    return;
  }
  const RouteTarget* target = gateway_.router().resolve(request_.method, identity());
  response_.id = request_.id;
  if (target == nullptr) {
    std::string_view method(request_.method);
    response_.set_error(ErrorCode::kUnknownMethod, "no route for method '" +
                                                       std::string(method.substr(0, kQuotedMethodBytes)) +
                                                       (method.size() > kQuotedMethodBytes ? "...'" : "'"));
    answer(request_, response_);
    return;
  }
  if (target->route != nullptr && !target->route->rename.empty()) request_.method = target->route->rename;
  if (target->cluster != nullptr) {
    call_cluster(*target, frame);
    return;
  }
  codec_->complete_params(request_);
  if (!target->handler->blocking()) {
    target->handler->handle(request_, response_);
    if (target->route != nullptr) {
      give_route_kind(target->route_index, response_);
      gateway_.stats().count_route(target->route_index, response_.is_error());
      answer_route_ = static_cast<uint32_t>(target->route_index) + 1;
    }
    answer(request_, response_);
    return;
  }
  PendingCall* call = new_call(this);
  call->request = std::move(request_);
  call->response.id = call->request.id;
  call->handler = target->handler;
  if (target->route != nullptr) call->route_index = target->route_index;
  call->started_ns = read_ns_;
  call->frame_bytes = frame_bytes_;
  pending_.push_back(call);
  run_on_thread_pool(gateway_.loop(), call);
  if (call->done) write_ready_calls();
}

void Connection::call_cluster(const RouteTarget& target, std::string_view frame) {
  backends::Cluster& cluster = *target.cluster;
  PendingCall* call = new_call(this);
  call->request = std::move(request_);
  call->response.id = call->request.id;
  if (target.route != nullptr) call->route_index = target.route_index;
  call->started_ns = read_ns_;
  call->frame_bytes = frame_bytes_;
  cluster.prepare(call, target.route);
  // The fast path: the same protocol on both sides, nothing renamed or carried that the gateway
  // must rewrite. The frame is forwarded as it came, and its reply as it comes back.
  const codec::CodecInfo& codec = listener_.codec_info();
  if (&cluster.codec() == &codec &&
      (codec.same_framing == nullptr ||
       codec.same_framing(cluster.config().codec_options, listener_.config().codec_options)) &&
      (target.route == nullptr || (target.route->rename.empty() && target.route->answer_kind.empty()))) {
    std::string_view forward = codec_->forward_frame(frame, call->request);
    call->upstream.passthrough = !forward.empty();
    call->upstream.wire.assign(forward);
  }
  if (!call->upstream.passthrough || cluster.reads_params()) codec_->complete_params(call->request);
  if (pins_.attach(cluster, call, pending_) != ClientPins::Verdict::kSend) {
    answer(call->request, call->response);
    free_call(call);
    return;
  }
  submit_call(cluster, call);
}

void Connection::submit_call(backends::Cluster& cluster, PendingCall* call) {
  pending_.push_back(call);
  cluster.submit(call);
  if (call->done) {
    // Refused at once (OVERLOADED, UNAVAILABLE): answered like any finished call.
    pins_.on_call_done(call, pending_);
    pending_.remove(call);
    if (call->response.is_error()) gateway_.stats().count_error(call->response.error, listener_.index());
    if (call->route_index != PendingCall::kNoRoute) {
      gateway_.stats().count_route(call->route_index, true);
      answer_route_ = static_cast<uint32_t>(call->route_index) + 1;
    }
    answer(call->request, call->response);
    free_answered(call);
  }
}

void Connection::open_stream() {
  // Only a call routed to a cluster whose codec streams too passes as a stream (gRPC to gRPC);
  // any other is left to the codec, which collects it whole and reports it as a request.
  const RouteTarget* target = gateway_.router().resolve(request_.method, identity());
  if (streams_ == nullptr || target == nullptr || target->cluster == nullptr || !target->cluster->streams() ||
      login_.stands_before(request_))
    return;
  count_request();
  if (target->route != nullptr && !target->route->rename.empty()) request_.method = target->route->rename;
  PendingCall* call = new_call(this);
  call->request = std::move(request_);
  call->response.id = call->request.id;
  if (target->route != nullptr) call->route_index = target->route_index;
  call->started_ns = read_ns_;
  call->frame_bytes = frame_bytes_;
  auto pair = std::make_unique<StreamPair>(*this, *streams_, *call, streams_->replay_bytes());
  call->request.stream = pair.get();
  stream_pairs_.emplace(*call->request.id, std::move(pair));
  target->cluster->prepare(call, target->route);
  submit_call(*target->cluster, call);
}

void Connection::on_stream_output() { gateway_.defer_pump(this); }

void Connection::on_stream_reset(uint64_t id) {
  reset_streams_.push_back(id);
  gateway_.defer_pump(this);
}

void Connection::cancel_reset_streams() {
  std::vector<uint64_t> ids;
  ids.swap(reset_streams_);
  for (uint64_t id : ids) {
    auto it = stream_pairs_.find(id);
    if (it == stream_pairs_.end()) continue;  // answered meanwhile
    PendingCall* call = &it->second->call();
    pending_.remove(call);
    abandon_call(call);  // the upstream is told (RST_STREAM CANCEL)
    stream_pairs_.erase(it);
  }
}

void Connection::free_answered(PendingCall* call) {
  if (call->request.stream != nullptr && call->request.id) stream_pairs_.erase(*call->request.id);
  free_call(call);
}

void Connection::on_push(std::string_view frame, const backends::Pin* from) {
  if (closing_) return;
  // Pushes come whether or not the client reads (pub/sub): unlike answers, pausing the client's
  // reads does not stop them, so the output bound is enforced here.
  const auto& config = listener_.config();
  if (unsent() + frame.size() > config.output_limit || pending_.size() >= config.max_pipeline) {
    ++gateway_.stats().connections_output_overflow;
    LOG_WARN("listener %s: closing a subscriber that does not read its messages (%zu bytes unsent, output_limit %zu)",
             config.name.c_str(), unsent(), config.output_limit);
    close();
    return;
  }
  // The upstream sent it after the replies it has sent so far, and before the reply to the first
  // call still waiting on that connection (a RESP3 invalidation right after the write that
  // caused it): it goes just there, or behind everything when nothing waits on that connection.
  auto waits_there = [from](const PendingCall* call) { return !call->done && call->upstream.pin == from; };
  auto next = std::find_if(pending_.begin(), pending_.end(), waits_there);
  if (pending_.empty() || !in_order_ || next == pending_.begin()) {
    output_.append(frame);
  } else {
    PendingCall* call = new_call(nullptr);  // a push in its place: nobody waits for it
    call->done = true;
    call->upstream.passthrough = true;
    call->upstream.wire.assign(frame);
    if (next == pending_.end())
      pending_.push_back(call);
    else
      pending_.insert_before(*next, call);
  }
  gateway_.defer_pump(this);
}

void Connection::on_pin_lost() {
  close_when_flushed_ = true;
  gateway_.defer_pump(this);
}

void Connection::answer(const Request& request, Response& response) {
  // Encoded now, even when it must wait behind earlier answers: a codec with connection state
  // (RESP after HELLO 3) encodes it as it stood when the request came.
  if (response.login_failed) note_login_failure();
  if (histograms_) spot_answers_.push_back(answer_route_);
  if (AccessLog* log = gateway_.access_log(); log != nullptr && log->sample())
    log_access(request, response, static_cast<long>(answer_route_) - 1, nullptr, read_ns_, frame_bytes_);
  answer_route_ = 0;
  if (response.is_error()) gateway_.stats().count_error(response.error, listener_.index());
  if (response.close_after) close_when_flushed_ = true;
  if (pending_.empty() || !in_order_) {
    codec_->encode(response, output_);  // nothing it must wait for: straight to the output
    return;
  }
  PendingCall* call = new_call(nullptr);  // an answer waiting its turn: nothing more to wait for
  call->response.close_after = response.close_after;
  codec_->encode(response, call->upstream.wire);
  call->upstream.passthrough = true;
  call->done = true;
  pending_.push_back(call);
}

void Connection::on_call_done(PendingCall* call) {
  pins_.on_call_done(call, pending_);  // pump() decodes what waited behind a blocking call
  if (call->response.is_error()) gateway_.stats().count_error(call->response.error, listener_.index());
  if (call->route_index != PendingCall::kNoRoute)
    gateway_.stats().count_route(call->route_index, call->response.is_error());
  if (histograms_) record_call_latency(call);
  if (AccessLog* log = gateway_.access_log(); log != nullptr && log->sample())
    log_access(call->request, call->response,
               call->route_index != PendingCall::kNoRoute ? static_cast<long>(call->route_index) : -1, call,
               call->started_ns, call->frame_bytes);
  if (!in_order_) {
    pending_.remove(call);
    write_answer(call);
  } else if (pending_.front() == call) {
    write_ready_calls();
  } else {
    return;  // answered in turn, once the calls before it are
  }
  gateway_.defer_pump(this);
}

void Connection::give_route_kind(size_t route_index, Response& response) const {
  const std::string& kind = gateway_.config().routes[route_index].answer_kind;
  if (!kind.empty() && !response.is_error()) response.kind = kind;
}

void Connection::write_ready_calls() {
  while (!pending_.empty() && pending_.front()->done) write_answer(pending_.pop_front());
}

void Connection::write_answer(PendingCall* call) {
  if (call->response.close_after) close_when_flushed_ = true;
  if (call->upstream.passthrough) {
    output_ += call->upstream.wire;  // the upstream's reply, byte for byte
  } else {
    if (call->upstream.cluster != nullptr && session_ != nullptr) session_->complete(call->request, call->response);
    if (call->route_index != PendingCall::kNoRoute) give_route_kind(call->route_index, call->response);
    codec_->encode(call->response, output_);
  }
  free_answered(call);
}

void Connection::log_access(const Request& request, const Response& response, long route, const PendingCall* call,
                            uint64_t started_ns, uint64_t bytes) {
  AccessRecord record;
  record.listener = listener_.config().name;
  record.peer = peer_;
  if (tls_ != nullptr) record.identity = tls_->identity;
  record.method = request.method;
  record.route = route;
  if (call != nullptr && call->upstream.cluster != nullptr) record.cluster = call->upstream.cluster->config().name;
  if (call != nullptr && call->upstream.answered_by != nullptr) record.endpoint = call->upstream.answered_by->name();
  record.status = response.is_error() ? error_code_name(response.error) : std::string_view("OK");
  record.bytes = bytes;
  record.latency_us = started_ns == 0 ? 0 : (uv_hrtime() - started_ns) / 1000;
  gateway_.access_log()->write(record);
}

void Connection::record_spot_latencies() {
  uint64_t elapsed = uv_hrtime() - read_ns_;
  Stats& stats = gateway_.stats();
  LatencyHistogram& by_listener = stats.latency_by_listener[listener_.index()];
  for (uint32_t route : spot_answers_) {
    by_listener.record_ns(elapsed);
    if (route > 0 && route <= Stats::kMaxRoutes) stats.latency_by_route[route - 1].record_ns(elapsed);
  }
  spot_answers_.clear();
}

void Connection::record_call_latency(const PendingCall* call) {
  uint64_t elapsed = uv_hrtime() - call->started_ns;
  Stats& stats = gateway_.stats();
  stats.latency_by_listener[listener_.index()].record_ns(elapsed);
  if (call->route_index < Stats::kMaxRoutes) stats.latency_by_route[call->route_index].record_ns(elapsed);
  if (call->upstream.cluster != nullptr) call->upstream.cluster->stats().latency.record_ns(elapsed);
}

void Connection::flush() {
  if (!spot_answers_.empty()) record_spot_latencies();
  if (closing_) return;
  // Streamed messages wait in their codec (and their upstreams with them) while the client
  // does not read: output_ holds at most what high water lets through.
  if (streams_ != nullptr) streams_->hold_messages(unsent() >= listener_.config().output_high_water);
  codec_->take_output(output_);  // and what the answers made it say, with them
  if (write_ != nullptr) return;
  // TLS: everything pending is sealed now, so that one flush is still one write.
  if (tls_ != nullptr && !seal_output()) return;
  std::string& out = tls_ != nullptr ? tls_->sealed : output_;
  if (out.empty()) return;
  if (out.size() > listener_.config().output_limit) {
    ++gateway_.stats().connections_output_overflow;
    LOG_WARN("listener %s: closing a client that does not read its answers (%zu bytes unsent, output_limit %zu)",
             listener_.config().name.c_str(), out.size(), listener_.config().output_limit);
    close();
    return;
  }
  // Try the write now: usually the kernel takes it all and no request object is needed.
  uv_buf_t buf = uv_buf_init(out.data(), out.size());
  int written = uv_try_write(stream(), &buf, 1);
  if (written < 0 && written != UV_EAGAIN) {
    LOG_DEBUG("listener %s: write error: %s", listener_.config().name.c_str(), uv_strerror(written));
    close();
    return;
  }
  size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
  gateway_.stats().bytes_out += sent;
  if (sent == out.size()) {
    out.clear();
    if (out.capacity() > kKeepOutputCapacity) std::string().swap(out);
    return;
  }
  // The socket is full: hand the rest to libuv and collect further answers behind it.
  write_ = std::make_unique<Write>();
  write_->req.data = this;
  write_->bytes.assign(out, sent);
  out.clear();
  buf = uv_buf_init(write_->bytes.data(), write_->bytes.size());
  int rc = uv_write(&write_->req, stream(), &buf, 1, &Connection::on_write);
  if (rc != 0) {
    write_.reset();
    close();
  }
}

bool Connection::seal_output() {
  // Before the handshake ends, answers wait as plaintext; only the handshake's own bytes leave.
  if (tls_->engine.established() && !output_.empty()) {
    if (tls_->engine.seal(output_, tls_->sealed) != tls::TlsStatus::kOk) {
      LOG_DEBUG("listener %s: closing a TLS client: %s", listener_.config().name.c_str(), tls_->engine.error().c_str());
      close();
      return false;
    }
    output_.clear();
    if (output_.capacity() > kKeepOutputCapacity) std::string().swap(output_);
  }
  tls_->engine.take_output(tls_->sealed);
  return true;
}

void Connection::send_last_words() {
  if (write_ != nullptr || closing_) return;  // behind a write in flight they would be out of order
  tls_->sealed.clear();
  tls_->engine.take_output(tls_->sealed);
  if (tls_->sealed.empty()) return;
  uv_buf_t buf = uv_buf_init(tls_->sealed.data(), tls_->sealed.size());
  uv_try_write(stream(), &buf, 1);  // best effort: the connection closes either way
  tls_->sealed.clear();
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  // libuv is done with the request: it and its bytes go, whatever the status.
  std::unique_ptr<Write> done = std::move(self->write_);
  if (status < 0) {
    self->close();  // also reached with UV_ECANCELED while closing
    return;
  }
  self->gateway_.stats().bytes_out += done->bytes.size();
  done.reset();
  self->pump();
}

void Connection::pump() {
  if (!reset_streams_.empty()) cancel_reset_streams();
  // Frames buffered while the pipeline or the output was full: the client may send nothing
  // more until they are answered, so they are decoded as soon as there is room.
  flush();
  // Decoding goes on behind a write in flight until output_high_water; reading pauses at the
  // same bound (update_reading), so input_ never holds more than a partial frame and one read.
  while (!closing_ && !input_.empty() && !awaiting_bytes_ && may_decode()) {
    input_.consume(decode_frames(input_.view()));
    if (broken_) input_ = ByteBuffer();
    flush();
  }
  // The frame that spanned reads is whole: its buffer goes (it grew to take a whole read behind
  // the frame's start, 128 KiB), so that a connection holds read memory only while a frame is
  // incomplete, and not for ever once one command of its has straddled two reads.
  if (input_.empty() && input_.capacity() > 0) input_ = ByteBuffer();
  if (closing_) return;
  bool all_answered = pending_.empty() && output_.empty() && write_ == nullptr;
  // Whatever is left in input_ now is the start of a frame that will never be completed.
  if (all_answered && (close_when_flushed_ || read_eof_)) {
    if (tls_ != nullptr && tls_->engine.established()) {
      tls_->engine.shutdown();  // close_notify: the client can tell our close from a cut connection
      send_last_words();
    }
    close();
    return;
  }
  update_reading();
}

void Connection::update_reading() {
  const auto& config = listener_.config();
  // A connection that will close once answered still reads, dropping the bytes, so that it sees
  // its client leave: a client's pinned session (a BLPOP blocked behind a QUIT) ends with it.
  // Behind a blocked call, bytes wait undecoded, as in a blocked Redis client's query buffer, up
  // to a bound.
  // Streaming, the client's bytes go on as they come, bounded by forward_to_tunnel.
  const bool room = pending_.size() < config.max_pipeline && unsent() < config.output_high_water &&
                    (!pins_.blocked() || input_.size() < kBlockedInputBytes);
  const bool want = !read_eof_ && (close_when_flushed_ || input_ended_ || pins_.tunnel() != nullptr || room);
  if (want && !reading_) {
    reading_ = uv_read_start(stream(), &Connection::on_alloc, &Connection::on_read) == 0;
  } else if (!want && reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Connection::yield_reading() {
  // A read that filled its buffer has more behind it, and libuv would read this connection again,
  // up to 32 times, before any other: a client that pipelines megabytes would hold the loop while
  // the others wait. Each connection gets one read per poll instead, as in Redis; pump() starts
  // reading again just before the next one.
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
  gateway_.defer_pump(this);
}

void Connection::rearm_quickack() {
  // A frame is incomplete: its sender may be waiting for our ACK before it sends the rest (a
  // legacy client writing prefix and body separately, with Nagle on). Linux clears quick-ACK
  // mode by itself, and setting it also sends an ACK that delayed-ACK was holding back.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return;
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

void Connection::close_if_idle(uint64_t now_ms) {
  if (closing_) return;
  if (tls_ != nullptr && !tls_->engine.established() &&
      now_ms - accepted_ms_ >= static_cast<uint64_t>(listener_.config().tls->handshake_timeout.count())) {
    // A handshake that never finishes holds a descriptor and a session for nothing.
    ++gateway_.stats().tls_by_listener[listener_.index()].failures[static_cast<size_t>(tls::TlsFailure::kTimeout)];
    LOG_DEBUG("listener %s: closing a TLS client from %s that did not finish its handshake in %lld ms",
              listener_.config().name.c_str(), peer_address().c_str(),
              static_cast<long long>(listener_.config().tls->handshake_timeout.count()));
    close();
    return;
  }
  if (!pending_.empty() || write_ != nullptr || !output_.empty()) return;
  uint64_t quiet_ms = now_ms - last_active_ms_;
  // A client whose handshake has begun is still connecting, one round trip from its first
  // request: a draining worker lets it finish (handshake_timeout bounds that) rather than close
  // it between its ClientHello and that request, which would fail a call during every reload.
  const bool connecting = tls_ != nullptr && tls_->heard && !tls_->engine.established();
  if (draining_ && input_.empty() && quiet_ms >= kDrainQuietMs && !connecting) {
    close();
    return;
  }
  auto idle_ms = static_cast<uint64_t>(listener_.config().idle_timeout.count());
  if (idle_ms == 0 || quiet_ms < idle_ms) return;
  ++gateway_.stats().connections_idle_closed;
  LOG_DEBUG("listener %s: closing a connection idle for %llu ms", listener_.config().name.c_str(),
            static_cast<unsigned long long>(quiet_ms));
  close();
}

void Connection::drain() {
  draining_ = true;
  codec_->begin_drain();  // its goodbye (GOAWAY) leaves with the next flush
  pump();
}

void Connection::set_serving(bool serving) {
  codec_->set_serving(serving);
  if (!closing_) flush();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  gateway_.cancel_deferred_pump(this);
  pending_.drain(abandon_call);
  stream_pairs_.clear();  // their calls are gone with the queue
  reset_streams_.clear();
  // A pinned connection is closed, never handed on; the pins are freed with this, in on_close.
  pins_.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::on_close);
}

void Connection::on_close(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self->counted_active_) {
    --self->gateway_.stats().connections_active;
    --self->gateway_.stats().connections_by_listener[self->listener_.index()];
  }
  self->listener_.on_connection_closed();
  self->gateway_.remove_connection(self);
  delete self;
}

}  // namespace rpcgate
