// One TCP connection from a worker to an upstream endpoint: connects with a timeout (and, on a
// cluster with `tls:`, runs a TLS handshake within another), writes whole request frames
// (batched, one write per loop iteration), and matches the replies to the requests in flight.
// Owns its uv_tcp_t and connect timer; freed once both are closed. What to do with the calls of a
// connection that fails is its endpoint's decision.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/connection_events.h"
#include "backends/in_flight.h"
#include "codecs/codec.h"
#include "core/byte_buffer.h"
#include "tls/tls_engine.h"

namespace rpcgate {
struct PendingCall;
}

namespace rpcgate::backends {

class Endpoint;
class Upstreams;

// The metadata key that carries a call's remaining time, in milliseconds, to upstreams whose
// codec has metadata (protobuf). The gateway also honours it on incoming requests.
inline constexpr std::string_view kTimeoutMetaKey = "timeout_ms";

class UpstreamConnection {
 public:
  // The reason a connection closes when every request on it timed out: not worth a log line.
  static constexpr std::string_view kAllTimedOut = "every request in flight timed out";

  // Connects to `endpoint` and reports to `events`.
  UpstreamConnection(Endpoint& endpoint, ConnectionEvents& events);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Starts connecting. Failure, now or later, reaches the endpoint through on_connection_closed.
  void connect();
  // Closes now. Calls in flight are handed back to the endpoint: those never written as failed
  // before sending (safe to send elsewhere), the others with `error`.
  void close(const std::string& error);

  bool connected() const { return state_ == State::kConnected; }
  bool streaming() const { return streaming_; }
  // From now on nothing is matched: a request is answered (with nothing) once written, and
  // every byte the upstream sends is passed on as it arrives (ConnectionEvents::on_push). Only
  // with no request waiting for its reply.
  void start_streaming() { streaming_ = true; }
  // Requests written or to write, not yet taken by the kernel (TLS: sealed or not).
  size_t unsent() const {
    return output_.size() + writing_.size() +
           (tls_ != nullptr ? tls_->sealed.size() + tls_->engine.pending_output() : 0);
  }
  bool closing() const { return state_ == State::kClosing; }
  // May take another request now.
  bool has_room() const;
  size_t load() const { return in_flight_.size(); }
  // The upstream closed or reset it before either side had sent anything: a server that accepts
  // and hangs up (overloaded, misconfigured), which is as good as a refused connect. So is a TLS
  // handshake that failed, even one the upstream refused only once ours had ended (TLS 1.3 tells
  // a client its certificate was refused with the first record after the handshake).
  bool hung_up_at_once() const {
    return (closed_by_peer_ && !received_any_ && !wrote_any_) || (tls_ != nullptr && tls_->refused);
  }
  // No answer to the connect within connect_timeout: maybe a SYN dropped by a full accept queue,
  // unlike a refused connect, which says nobody listens.
  bool connect_timed_out() const { return connect_timed_out_; }

  // Encodes `call` (or copies its frame, on the fast path) behind the requests before it. It is
  // written when the loop iteration ends (Upstreams::flush_all), with everything else sent to
  // this connection meanwhile.
  void send(PendingCall* call);
  // The caller of `call` gave up (timeout, client gone): its reply will be dropped.
  void orphan(PendingCall* call, bool timed_out);
  // A streamed call in flight here (Request::stream, codecs/codec.h ClientStreams): more of its
  // client's messages, its client's half-close, and room for more of the upstream's messages.
  void stream_send(PendingCall* call, std::string_view bytes);
  void stream_end(PendingCall* call);
  void stream_consume(PendingCall* call, size_t bytes);
  // Sends one request frame whose reply nobody waits for.
  void send_unanswered(std::string_view frame);
  void flush();

  bool before_poll_scheduled_ = false;  // owned by Upstreams' flush queue

 private:
  enum class State : uint8_t { kConnecting, kHandshaking, kConnected, kClosing };

  // TLS, on a cluster with `tls:`: the session, what it sealed for the next write, and how far
  // the handshake got. Behind one pointer, so that a plain connection pays only that.
  struct Tls {
    explicit Tls(SSL_CTX* context) : engine(context, tls::TlsEngine::Role::kClient) {}
    tls::TlsEngine engine;
    std::string sealed;           // output_ sealed into records, and the session's own bytes
    bool plaintext_seen = false;  // a record of the upstream's has come: the handshake held
    bool refused = false;         // the handshake failed: as good as a refused connect
  };

  static void on_connect(uv_connect_t* req, int status);
  static void on_connect_timeout(uv_timer_t* timer);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_handle_closed(uv_handle_t* handle);

  void handle_read(ssize_t nread, const uv_buf_t* buf);
  // Connected, and past the TLS handshake if any: the login, if the codec has one, then serving.
  void on_transport_ready();
  // Logged in (or no login): the codec's setup frames go out, and the owner is told.
  void on_ready();
  // Replies in `bytes` (plaintext), after what input_ holds of a partial one; false once closed.
  bool take_replies(std::string_view bytes, bool read_into_input);

  // The TLS side (upstream_tls.cpp). The handshake runs within connect_timeout of its own.
  void start_handshake();
  // Runs ciphertext through the session into `plaintext`; false when nothing more comes of this
  // read (the handshake goes on, or the connection closed).
  bool open_records(std::string_view ciphertext, std::string& plaintext);
  // Seals output_ into tls_->sealed, with what the session has to send; false once closed.
  bool seal_output();
  // Counts, logs (once per endpoint and reason) and closes, as a failed connect.
  void fail_handshake(tls::TlsFailure why, const std::string& reason);
  // A failed session's alert, or close_notify, handed to the kernel if it takes it at once.
  void send_last_words();
  // The reply to the login (connection_preamble): true when the connection may serve; else it is
  // logged, counted and closed as a failed connect.
  bool accept_login(const Response& reply);
  // Matches whole replies in `input` to their calls; returns the bytes consumed.
  size_t read_replies(std::string_view input);
  // The reply at the head of the input is larger than the limits (kOversized): its request fails
  // and the rest of it is passed over (discarding_).
  void skip_oversized_reply();
  // Stream mode: `bytes` (and what was buffered before the switch) go to the receiver as they are.
  void pass_stream(std::string_view bytes);
  void close_if_only_orphans();
  void answer_written_unmatched();
  // Fails the calls the codec could not encode, with the error it gave.
  void answer_unencodable();
  // The upstream refused `refusal.id` without acting on it: the call is lost as never sent.
  void refused(const Response& refusal);
  void set_timeout_meta(PendingCall* call);
  void rearm_quickack();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  Endpoint& endpoint_;
  // Kept apart from endpoint_: the handles finish closing after the endpoint may be gone (a
  // retired endpoint is freed once its last connection has closed).
  Upstreams& upstreams_;
  ConnectionEvents& events_;
  bool streaming_ = false;
  std::vector<PendingCall*> written_unmatched_;  // streaming: requests answered once written
  std::vector<PendingCall*> unencodable_;        // encode() refused them: answered at the next flush
  std::unique_ptr<codec::ClientCodec> codec_;
  std::unique_ptr<Tls> tls_;
  uv_tcp_t tcp_{};
  uv_timer_t connect_timer_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  bool by_id_;
  State state_ = State::kConnecting;
  int open_handles_ = 2;
  int connect_error_ = 0;    // a connect that failed at once, reported by the timer
  bool lost_calls_ = false;  // requests waiting for an answer went down with it
  bool received_any_ = false;
  bool wrote_any_ = false;
  bool closed_by_peer_ = false;
  bool connect_timed_out_ = false;
  bool logging_in_ = false;  // the login is sent and its reply not read yet: nothing else goes out
  InFlight in_flight_;
  uint64_t unwritten_seq_ = 1;  // calls from this seq on are in output_ only, never written
  ByteBuffer input_;            // an incomplete reply, kept between reads
  std::string output_;          // requests not yet handed to the kernel
  std::string writing_;         // handed to uv_write, released by on_write
  bool write_in_flight_ = false;
  bool discarding_ = false;  // passing over the rest of an oversized reply
  Response scratch_;         // replies to orphans, and errors of skipped replies
};

}  // namespace rpcgate::backends
