// One downstream client connection: reads bytes, has its listener's codec cut them into requests,
// routes each, and writes the answers back in request order, batched into as few writes as the
// kernel allows. Owns its uv_tcp_t; freed only in the handle's close callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "codecs/codec.h"
#include "core/byte_buffer.h"
#include "core/pending_call.h"
#include "gateway/client_pins.h"
#include "gateway/login_gate.h"
#include "gateway/pending_queue.h"
#include "gateway/router.h"
#include "gateway/stream_pair.h"
#include "tls/tls_context.h"
#include "tls/tls_engine.h"

namespace rpcgate {

class Gateway;
class Listener;

namespace backends {
class Cluster;
class Pin;
}  // namespace backends

class Connection final : public CallOwner, public StreamPair::Owner {
 public:
  Connection(Gateway& gateway, Listener& listener);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  // Starts serving an accepted socket. `reject` answers one "too many connections" error and closes.
  void start(bool reject);
  // Closes now; pending calls are abandoned. Safe to call more than once and from callbacks.
  void close();
  // Shutting down: close once every request sent so far has been answered (see kDrainQuietMs).
  void drain();
  // The gateway's readiness changed (Gateway::serving): the codec is told, and says so to the
  // clients that watch it.
  void set_serving(bool serving);
  // Closes the connection when it has had no traffic and no work for its listener's idle_timeout,
  // or, while draining, for kDrainQuietMs.
  void close_if_idle(uint64_t now_ms);
  // A draining connection keeps reading, so that requests a client sent before the signal are
  // still answered; it closes once everything is answered and the client has been quiet this
  // long. Closing a socket with unread bytes would reset it, losing those requests.
  static constexpr uint64_t kDrainQuietMs = 50;
  // Bytes read behind a blocked call (a Redis BLPOP) before reading pauses.
  static constexpr size_t kBlockedInputBytes = 256 * 1024;

  void on_call_done(PendingCall* call) override;
  void on_push(std::string_view frame, const backends::Pin* from) override;
  void on_pin_lost() override;
  void on_stream_output() override;
  void on_stream_reset(uint64_t id) override;
  // After any progress (a read, a completed call, a finished write, a drain): decodes frames
  // buffered while paused, writes what is ready, then reads on, pauses, or closes.
  void pump();

  // The gateway's intrusive list of live connections, and its deferred pumps.
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  bool before_poll_scheduled_ = false;  // owned by the gateway's pump queue

 private:
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* handle);

  void handle_read(ssize_t nread, const uv_buf_t* buf);
  // TLS: runs the ciphertext read through the engine into `plaintext`; false when the connection
  // is closed (a failed handshake) or the client sent close_notify.
  bool open_records(std::string_view ciphertext, std::string& plaintext);
  // TLS: encrypts output_ into sealed_, with what the session has to send on its own; false
  // when the session failed and the connection is closed.
  bool seal_output();
  // TLS: a failed session's alert, or close_notify, handed to the kernel if it takes it at once.
  void send_last_words();
  // Decodes and dispatches whole frames from `input`; returns the bytes consumed.
  size_t decode_frames(std::string_view input);
  // Streaming: `bytes` from the client go to pins_.tunnel() as they are, or the client is closed when
  // they would pass output_limit.
  void forward_to_tunnel(std::string_view bytes);
  bool may_decode() const;
  void count_request();
  void dispatch(std::string_view frame);
  void call_cluster(const RouteTarget& target, std::string_view frame);
  // A call the codec opened before its messages (kCallOpened): streamed to a cluster that streams
  // too, or left to the codec, which then reports it whole as a request.
  void open_stream();
  // Places `call` on `cluster`; one refused at once (OVERLOADED, UNAVAILABLE) is answered at once.
  void submit_call(backends::Cluster& cluster, PendingCall* call);
  // The calls whose clients reset their streams: cancelled upstream and forgotten.
  void cancel_reset_streams();
  // Frees a finished or abandoned call, and its stream pairing if it has one.
  void free_answered(PendingCall* call);
  // An answer made on the spot, to `request`.
  void answer(const Request& request, Response& response);
  // Mutual TLS, once the handshake is done: the client certificate's identity, and with
  // login_by_certificate the login it stands for.
  void take_certificate_identity();
  // The client's identity from its certificate, for routing; "" when it has none.
  std::string_view identity() const { return tls_ != nullptr ? std::string_view(tls_->identity) : std::string_view(); }
  void note_login_failure();
  // "ip:port" of the client ("[ip6]:port"), or "" when the socket cannot say.
  std::string peer_address();
  bool socket_address(int (*get)(const uv_tcp_t*, sockaddr*, int*), std::string& host, uint16_t& port);
  // Tells the codec the address the client reached us by (UpstreamSession::wants_local_address).
  void tell_local_address();
  void log_access(const Request& request, const Response& response, long route, const PendingCall* call,
                  uint64_t started_ns, uint64_t bytes);
  void enqueue(PendingCall* call);
  // A successful answer of a route with `kind:` carries that kind (the `out` of JSON clients).
  void give_route_kind(size_t route_index, Response& response) const;
  void write_ready_calls();
  void write_answer(PendingCall* call);
  void flush();
  // The latency histograms: answers made on the spot are timed together, just before they are
  // written; a call answered later is timed when it completes.
  void record_spot_latencies();
  void record_call_latency(const PendingCall* call);
  void update_reading();
  void yield_reading();
  void rearm_quickack();
  // Answers encoded and not yet taken by the kernel.
  size_t unsent() const {
    return output_.size() + (tls_ != nullptr ? tls_->sealed.size() + tls_->engine.pending_output() : 0) +
           (write_ != nullptr ? write_->bytes.size() : 0);
  }

  Gateway& gateway_;
  Listener& listener_;
  uv_tcp_t tcp_{};
  std::unique_ptr<codec::ServerCodec> codec_;
  // The codec's upstream session (codecs/upstream_session.h); null for codecs without one, whose
  // calls never pin an upstream connection.
  codec::UpstreamSession* session_;
  // The loop's (Gateway::spot_request): every request is decoded into request_, and every
  // answer made on the spot is built in response_, before the next connection decodes.
  Request& request_;
  Response& response_;

  ByteBuffer input_;    // bytes of an incomplete frame, kept between reads
  std::string output_;  // answers encoded and not yet handed to the kernel
  // TLS, on a listener with `tls:`: the listener's context (held: the engine's ALPN callback
  // points into it), the session, and output_ sealed into records for the next write. Behind one
  // pointer, so that a plain connection pays only that.
  struct Tls {
    explicit Tls(std::shared_ptr<tls::ServerContext> listener_context)
        : context(std::move(listener_context)), engine(context->get(), tls::TlsEngine::Role::kServer) {}
    std::shared_ptr<tls::ServerContext> context;
    tls::TlsEngine engine;
    std::string sealed;
    bool heard = false;    // the client has sent something: its handshake has begun
    std::string identity;  // its certificate's (ListenerTlsConfig::identity), once established
  };
  std::unique_ptr<Tls> tls_;
  // What the kernel did not take at once: libuv's write request and the bytes it sends. Nearly
  // every answer leaves whole with uv_try_write, so this is allocated only for a write that
  // waits, and freed by its on_write: an idle connection holds neither (224 bytes).
  struct Write {
    uv_write_t req{};
    std::string bytes;
  };
  std::unique_ptr<Write> write_;  // set while a write is in flight
  PendingQueue pending_;          // in request order
  ClientPins pins_;               // the client's own upstream connections, and what they hold back
  // Streamed calls (codecs with ServerStreams): their pairings, by the listener's id of the call,
  // and the ones whose clients reset them, to cancel from the loop.
  codec::ServerStreams* streams_;
  std::unordered_map<uint64_t, std::unique_ptr<StreamPair>> stream_pairs_;
  std::vector<uint64_t> reset_streams_;

  uint64_t read_ns_ = 0;                // when the last read arrived
  uint64_t frame_bytes_ = 0;            // the size of the frame being handled
  std::string peer_;                    // "ip:port", for the access log
  std::vector<uint32_t> spot_answers_;  // routes (+ 1) of the answers made on the spot since the last flush
  uint64_t last_active_ms_ = 0;
  uint64_t accepted_ms_ = 0;   // for the TLS handshake timeout
  uint32_t answer_route_ = 0;  // the route of the answer being made on the spot, + 1 (0: none)

  // The flags last, together, so that they share one word.
  bool in_order_ = true;               // false: the codec carries ids, answers leave as they complete
  const bool histograms_;              // admin.latency_histograms
  const bool timing_;                  // histograms or the access log: reads are timed
  LoginGate login_;                    // the listener's users, when the codec leaves the login to the gateway
  bool login_failure_logged_ = false;  // one log line per connection, however many attempts
  bool reading_ = false;
  bool awaiting_bytes_ = false;  // input_ holds only part of a frame: decode again after a read
  bool read_eof_ = false;        // the client half-closed: answer what was read, then close
  bool broken_ = false;          // framing error: no more decoding
  bool close_when_flushed_ = false;
  bool input_ended_ = false;  // a QUIT went to the client's own connection: no more requests
  bool closing_ = false;
  bool draining_ = false;
  bool counted_active_ = false;
};

}  // namespace rpcgate
