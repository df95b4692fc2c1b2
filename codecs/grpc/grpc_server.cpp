// The grpc codec's server side: one nghttp2 server session per connection, fed one whole HTTP/2
// frame per decode() (the client preface first), so that each decode reports at most one finished
// call. The session's own frames (settings and ping acknowledgements, window updates, GOAWAY) are
// collected after every frame and leave through take_output(); answers leave on their own streams,
// in completion order.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codecs/grpc/descriptors.h"
#include "codecs/grpc/grpc_codec.h"
#include "codecs/grpc/grpc_message.h"
#include "codecs/grpc/grpc_status.h"
#include "codecs/grpc/health.h"
#include "codecs/grpc/http2.h"
#include "codecs/grpc/reflection.h"

namespace rpcgate::codec::grpc {
namespace {

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// A reflection stream answers no more requests while this much of its answers waits to be sent:
// the rest wait in its window, so a client that asks without reading holds little here.
constexpr size_t kReflectionAnswersBound = 256 << 10;
class GrpcServerCodec final : public ServerCodec, public ServerStreams {
 public:
  explicit GrpcServerCodec(const CodecOptions& options)
      : settings_(settings_of(options)),
        descriptors_(std::static_pointer_cast<const Descriptors>(options.state)),
        max_depth_(options.limits.max_depth) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &GrpcServerCodec::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &GrpcServerCodec::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &GrpcServerCodec::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &GrpcServerCodec::on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &GrpcServerCodec::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &GrpcServerCodec::on_stream_close);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // The rapid-reset bound (CVE-2023-44487): a token bucket of resets; an empty bucket ends the
    // connection with GOAWAY.
    nghttp2_option_set_stream_reset_rate_limit(option, settings_.max_resets, settings_.resets_per_second);
    // No closed streams kept for the priority tree: a client cannot make us hold them.
    nghttp2_option_set_no_closed_streams(option, 1);
    // Windows are reopened by hand: at once for what is read whole (unary calls), and for a
    // streamed call's messages only once its upstream has taken them (consume), so that a slow
    // upstream slows its client instead of making rpcgate buffer.
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);

    const nghttp2_settings_entry entries[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_bytes},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(settings_.max_header_list_bytes)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
    // The connection's window as large as a stream's: one big message need not wait for updates
    // the connection's 64 KiB default would ration.
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(settings_.initial_window_bytes));
  }

  ~GrpcServerCodec() override { nghttp2_session_del(session_); }
  GrpcServerCodec(const GrpcServerCodec&) = delete;
  GrpcServerCodec& operator=(const GrpcServerCodec&) = delete;

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override {
    size_t frame = 0;
    if (!preface_seen_) {
      const size_t have = std::min(input.size(), kClientPreface.size());
      // Anything else (HTTP/1.1 on the gRPC port) is no client of ours: closed without a word.
      if (input.substr(0, have) != kClientPreface.substr(0, have)) return {DecodeStatus::kHangUp, 0};
      if (have < kClientPreface.size()) return {};
      frame = kClientPreface.size();
    } else {
      if (input.size() < kFrameHeaderBytes) return {};
      const size_t length = frame_length(input);
      // Refused the moment the header announces it, never buffered.
      if (length > kMaxFrameBytes) return broken(reply, NGHTTP2_FRAME_SIZE_ERROR, "a frame larger than 16384 bytes");
      if (input.size() < kFrameHeaderBytes + length) return {};
      frame = kFrameHeaderBytes + length;
    }
    const ssize_t read = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(input.data()), frame);
    if (read < 0) {
      const uint32_t code = read == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR;
      return broken(reply, code, nghttp2_strerror(static_cast<int>(read)));
    }
    preface_seen_ = true;
    send_pending(out_);
    if (goaway_code_ != NGHTTP2_NO_ERROR) {
      // nghttp2 ended the session itself: a protocol error, or its reset limiter (which says
      // INTERNAL_ERROR) once the client has reset more streams than max_resets allows.
      return broken(reply, goaway_code_,
                    resets_ == 0
                        ? "the client broke the protocol"
                        : "the session ended after " + std::to_string(resets_) + " stream resets from the client");
    }
    const int32_t opened = opened_;
    opened_ = 0;
    if (opened != 0 && open_call(opened, request)) return {DecodeStatus::kCallOpened, frame};
    const int32_t ready = ready_;
    ready_ = 0;
    if (ready != 0) return finish_call(ready, frame, request, reply);
    return {DecodeStatus::kConsumed, frame};
  }

  void encode(const Response& response, std::string& out) override {
    out += out_;  // what the session said before, first: frames keep their order
    out_.clear();
    if (!response.id) {
      // An answer to no call: the connection is refused (too many connections) or broken. Its
      // error goes out as GOAWAY, unless the session already sent one.
      if (goaway_code_ == NGHTTP2_NO_ERROR && !terminated_) {
        const uint32_t code =
            response.error == ErrorCode::kOverloaded ? NGHTTP2_REFUSED_STREAM : NGHTTP2_INTERNAL_ERROR;
        nghttp2_session_terminate_session(session_, code);
        terminated_ = true;
      }
      send_pending(out);
      return;
    }
    const auto stream_id = static_cast<int32_t>(*response.id);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) {  // the client reset the stream, or left: nobody to answer
      send_pending(out);
      return;
    }
    Stream& stream = it->second;
    std::string message;
    std::string error;
    if (stream.adopted) {
      finish_stream(stream_id, stream, response);
    } else if (response.is_error()) {
      // A health check of a service the listener does not serve is NOT_FOUND (Stream::health).
      Meta status = stream.health == Stream::Health::kUnknownService ? own_status(Status::kNotFound, response.message)
                                                                     : status_trailers(response);
      respond(stream_id, stream, response.meta, std::move(status), response.trailers);
    } else if (response_message(stream, response, message, error)) {
      stream.answer.clear();
      append_message(message, stream.answer);
      respond(stream_id, stream, response.meta, {{"grpc-status", "0"}}, response.trailers);
    } else {
      respond(stream_id, stream, {}, own_status(Status::kInternal, error), {});
    }
    send_pending(out);
  }

  bool answers_in_order() const override { return false; }

  ServerStreams* streams() override { return this; }

  void adopt(uint64_t id, CallStream& peer) override {
    Stream* stream = find(static_cast<int32_t>(id));
    if (stream == nullptr) return;
    stream->adopted = true;
    stream->taken = true;
    stream->peer = &peer;
  }

  void send_headers(uint64_t id, const Meta& meta) override {
    Stream* stream = find(static_cast<int32_t>(id));
    if (stream != nullptr && stream->adopted && !stream->responded)
      start_response(static_cast<int32_t>(id), *stream, meta);
  }

  void send(uint64_t id, std::string_view bytes) override {
    const auto stream_id = static_cast<int32_t>(id);
    Stream* stream = find(stream_id);
    if (stream == nullptr || !stream->adopted || stream->finished) return;
    if (!stream->responded) start_response(stream_id, *stream, {});
    stream->answer.append(bytes);
    nghttp2_session_resume_data(session_, stream_id);
  }

  void consume(uint64_t id, size_t bytes) override {
    if (find(static_cast<int32_t>(id)) != nullptr)
      nghttp2_session_consume_stream(session_, static_cast<int32_t>(id), bytes);
  }

  void hold_messages(bool hold) override {
    if (hold == hold_) return;
    hold_ = hold;
    if (hold) return;
    for (auto& [id, stream] : streams_)
      if (stream.adopted && stream.responded) nghttp2_session_resume_data(session_, id);
  }

  size_t replay_bytes() const override { return settings_.max_message_bytes + kPrefixBytes; }

  void release(uint64_t id) override {
    if (Stream* stream = find(static_cast<int32_t>(id)); stream != nullptr) stream->peer = nullptr;
  }

  void take_output(std::string& out) override {
    out += out_;
    out_.clear();
    send_pending(out);
  }

  void set_serving(bool serving) override {
    if (serving == serving_) return;
    serving_ = serving;
    for (auto& [id, stream] : streams_)
      if (stream.watching) send_watched_status(id, stream);
  }

  void begin_drain() override {
    set_serving(false);
    // GOAWAY naming the last call taken: the client sends new calls elsewhere, those taken are
    // answered, and nghttp2 ignores any stream the client opens after it.
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }

 private:
  struct Stream {
    std::string path;
    std::string content_type;
    std::string encoding;         // grpc-encoding
    std::string accept_encoding;  // grpc-accept-encoding: for a streamed call's upstream
    bool post = false;
    Meta meta;
    size_t header_bytes = 0;
    std::string body;  // the request's DATA, while it is incomplete
    // Set when the call is refused before it is whole (too large): answered at once, and what
    // the client still sends on the stream is dropped.
    ErrorCode refused = ErrorCode::kNone;
    std::string refusal;
    bool taken = false;              // handed to the gateway, as a request or an answer
    const Method* method = nullptr;  // for the answer: its output type; null = bytes as they come
    // A health check's answer is a HealthCheckResponse; one for a service the listener does not
    // serve is NOT_FOUND, as the health protocol says, a code no rpcgate error maps to.
    enum class Health { kNo, kCheck, kUnknownService } health = Health::kNo;
    std::string answer;  // the answer's prefixed message, sent by the data provider
    size_t answer_sent = 0;
    Meta trailers;  // what follows it: the status, then the upstream's trailing metadata
    // A streamed call (adopt): its messages pass to `peer` (null once released) as they come,
    // and the upstream's are appended to `answer` until its response (`finished`) ends it.
    bool adopted = false;
    CallStream* peer = nullptr;
    bool responded = false;  // the response's headers are submitted
    bool finished = false;   // its response came: the trailers follow what `answer` holds
    // Server reflection, which a listener with descriptors answers itself (serve_reflection):
    // adopted with no peer, its requests held in `body` until answered.
    bool reflection = false;
    bool client_ended = false;
    // A health Watch, which the listener answers itself: the status it last sent, and a new one
    // each time the gateway's readiness changes (set_serving), until the client goes.
    bool watching = false;
    bool watched_service_known = false;
    Serving watched = Serving::kUnknown;
  };

  static GrpcServerCodec& self(void* user_data) { return *static_cast<GrpcServerCodec*>(user_data); }

  Stream* find(int32_t stream_id) {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
  }

  // The call is answered with `code` at the end of this frame; or, for a header list still
  // arriving (`now` false), once it has ended (on_frame_recv), so that the answer never starts
  // while the client's header block is cut in CONTINUATION frames.
  void refuse(int32_t stream_id, Stream& stream, ErrorCode code, std::string why, bool now = true) {
    if (stream.refused != ErrorCode::kNone || stream.taken) return;
    stream.refused = code;
    stream.refusal = std::move(why);
    drop_body(stream);
    if (now) ready_ = stream_id;
  }

  void drop_body(Stream& stream) {
    pending_bytes_ -= stream.body.size();
    std::string().swap(stream.body);
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user_data).streams_.try_emplace(frame->hd.stream_id);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name_bytes, size_t name_length,
                       const uint8_t* value_bytes, size_t value_length, uint8_t, void* user_data) {
    GrpcServerCodec& codec = self(user_data);
    const int32_t id = frame->hd.stream_id;
    Stream* stream = codec.find(id);
    if (stream == nullptr || stream->refused != ErrorCode::kNone) return 0;
    // HTTP/2's own measure of a header list (RFC 9113, 6.5.2), trailers included.
    stream->header_bytes += name_length + value_length + 32;
    if (stream->header_bytes > codec.settings_.max_header_list_bytes) {
      stream->meta.clear();
      codec.refuse(id, *stream, ErrorCode::kTooLarge,
                   "header list larger than " + std::to_string(codec.settings_.max_header_list_bytes) +
                       " bytes (max_header_list_bytes)",
                   false);
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: nothing a unary call needs
    std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    std::string_view value(reinterpret_cast<const char*>(value_bytes), value_length);
    if (name == ":path") {
      stream->path = value;
    } else if (name == ":method") {
      stream->post = value == "POST";
    } else if (name == "content-type") {
      stream->content_type = value;
    } else if (name == "grpc-encoding") {
      stream->encoding = value;
    } else if (name == "grpc-accept-encoding") {
      stream->accept_encoding = value;
    } else if (name == "grpc-timeout") {
      if (auto ms = parse_timeout_ms(value))
        stream->meta.emplace_back(kTimeoutMeta, std::to_string(std::max<uint64_t>(*ms, 1)));
    } else if (!reserved_header(name)) {
      stream->meta.emplace_back(name, value);  // custom metadata; "-bin" values stay base64
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t length,
                           void* user_data) {
    GrpcServerCodec& codec = self(user_data);
    Stream* stream = codec.find(stream_id);
    if (stream != nullptr && stream->reflection) {
      // The connection's window at once; the stream's as its requests are answered.
      nghttp2_session_consume_connection(codec.session_, length);
      if (stream->finished) {
        nghttp2_session_consume_stream(codec.session_, stream_id, length);
        return 0;
      }
      stream->body.append(reinterpret_cast<const char*>(data), length);
      codec.pending_bytes_ += length;
      codec.serve_reflection_stream(stream_id, *stream);
      return 0;
    }
    if (stream != nullptr && stream->peer != nullptr) {
      // The connection's window reopens at once (a slow upstream must not hold other calls
      // back); the stream's once the upstream has taken the bytes.
      nghttp2_session_consume_connection(codec.session_, length);
      stream->peer->from_client(std::string_view(reinterpret_cast<const char*>(data), length));
      return 0;
    }
    // Held in the body (bounded below) or dropped: the client may send more at once.
    nghttp2_session_consume(codec.session_, stream_id, length);
    if (stream == nullptr || stream->refused != ErrorCode::kNone || stream->taken) return 0;
    const Settings& settings = codec.settings_;
    const size_t limit = settings.max_message_bytes + kPrefixBytes;
    // The message's own length is judged as soon as its prefix is here, before the rest is held.
    if (body_bound(stream->body, std::string_view(reinterpret_cast<const char*>(data), length)) > limit) {
      codec.refuse(stream_id, *stream, ErrorCode::kTooLarge,
                   "message larger than " + std::to_string(settings.max_message_bytes) + " bytes (max_message_bytes)");
      return 0;
    }
    if (codec.pending_bytes_ + length > settings.max_pending_bytes) {
      codec.refuse(stream_id, *stream, ErrorCode::kOverloaded,
                   "the connection holds " + std::to_string(codec.pending_bytes_) +
                       " bytes of unfinished messages (max_pending_bytes)");
      return 0;
    }
    stream->body.append(reinterpret_cast<const char*>(data), length);
    codec.pending_bytes_ += length;
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    GrpcServerCodec& codec = self(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM) ++codec.resets_;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Stream* stream = codec.find(frame->hd.stream_id);
    if (stream == nullptr) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (stream->peer != nullptr) {
      if (end_stream) stream->peer->client_ended();
      return 0;
    }
    const bool head = frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
    if (head && codec.starts_reflection(frame->hd.stream_id, *stream)) stream->reflection = true;
    if (stream->reflection) {
      stream->client_ended |= end_stream;
      codec.serve_reflection_stream(frame->hd.stream_id, *stream);
      return 0;
    }
    if (stream->taken) return 0;
    // The head of a call that may stream: the gateway decides (kCallOpened) before its messages.
    if (head && !end_stream && stream->refused == ErrorCode::kNone) codec.opened_ = frame->hd.stream_id;
    // A call is whole at END_STREAM; one refused while its headers came is answered once they end.
    const bool refused_headers = frame->hd.type == NGHTTP2_HEADERS && stream->refused != ErrorCode::kNone;
    if (end_stream || refused_headers) codec.ready_ = frame->hd.stream_id;
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
      self(user_data).goaway_code_ = frame->goaway.error_code;
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
    GrpcServerCodec& codec = self(user_data);
    auto it = codec.streams_.find(stream_id);
    if (it == codec.streams_.end()) return 0;
    codec.pending_bytes_ -= it->second.body.size();
    // Closed before its response: the client reset it (or nghttp2 did, for an error of its).
    CallStream* reset = it->second.finished ? nullptr : it->second.peer;
    codec.streams_.erase(it);
    if (codec.ready_ == stream_id) codec.ready_ = 0;
    if (codec.opened_ == stream_id) codec.opened_ = 0;
    if (reset != nullptr) reset->client_reset();
    return 0;
  }

  static ssize_t read_answer(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                             uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
    GrpcServerCodec& codec = self(user_data);
    Stream* stream = codec.find(stream_id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    if (stream->adopted && codec.hold_ && !stream->finished) return NGHTTP2_ERR_DEFERRED;
    if (stream->reflection && !stream->finished && stream->answer_sent == stream->answer.size()) {
      // Its answers are all framed: the requests held back behind them are answered now.
      stream->answer.clear();
      stream->answer_sent = 0;
      codec.serve_reflection_stream(stream_id, *stream);
    }
    const size_t n = std::min(length, stream->answer.size() - stream->answer_sent);
    std::copy_n(stream->answer.data() + stream->answer_sent, n, buf);
    stream->answer_sent += n;
    if (stream->peer != nullptr && n > 0) stream->peer->sent_to_client(n);
    if (stream->adopted && !stream->finished && stream->answer_sent == stream->answer.size()) {
      // All the upstream sent so far is framed: the stream waits for more (send, resume).
      stream->answer.clear();
      stream->answer_sent = 0;
      return n > 0 ? static_cast<ssize_t>(n) : static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED);
    }
    if (stream->answer_sent == stream->answer.size()) {
      // The status follows as trailers, which end the stream.
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const std::vector<nghttp2_nv> trailers = headers_of(stream->trailers);
      nghttp2_submit_trailer(session, stream_id, trailers.data(), trailers.size());
      Meta().swap(stream->trailers);
      std::string().swap(stream->answer);
      stream->answer_sent = 0;
    }
    return static_cast<ssize_t>(n);
  }

  static std::vector<nghttp2_nv> headers_of(const Meta& fields) {
    std::vector<nghttp2_nv> headers;
    headers.reserve(fields.size());
    for (const auto& [name, value] : fields) headers.push_back(header(name, value));
    return headers;
  }

  // rpcgate's own status for an answer: the code of its error, and its message percent-encoded.
  static Meta own_status(Status status, std::string_view message) {
    Meta status_fields{{"grpc-status", std::to_string(static_cast<uint32_t>(status))}};
    if (!message.empty()) status_fields.emplace_back("grpc-message", percent_encode(message.substr(0, 1024)));
    return status_fields;
  }

  // The status an error answer ends with: a gRPC upstream's own, exactly as it sent it (any code,
  // even one rpcgate's table lacks; grpc_client.cpp keeps it in the trailers), or rpcgate's.
  static Meta status_trailers(const Response& response) {
    Meta status_fields;
    for (const auto& [name, value] : response.trailers)
      if (name == kStatusTrailer || name == kMessageTrailer || name == kDetailsTrailer)
        status_fields.emplace_back(name, value);
    if (!status_fields.empty() && status_fields.front().first == kStatusTrailer) return status_fields;
    return own_status(status_of(response.error), response.message);
  }

  // Answers the stream: headers with the response metadata `meta`; the message in
  // Stream::answer, if any; then the trailers: `status` and the trailing metadata `trailing`.
  // With no message and no metadata before it, an error goes trailers-only, in one HEADERS frame,
  // as gRPC servers send it.
  void respond(int32_t stream_id, Stream& stream, const Meta& meta, Meta status, const Meta& trailing) {
    stream.trailers = std::move(status);
    for (const auto& [name, value] : trailing)
      if (sendable_header(name, value)) stream.trailers.emplace_back(name, value);
    // nghttp2 copies the fields when the frame is submitted: views of `meta` and the literals do.
    std::vector<nghttp2_nv> headers;
    headers.reserve(2 + meta.size() + stream.trailers.size());
    headers.push_back(header(":status", "200"));
    headers.push_back(header("content-type", "application/grpc"));
    for (const auto& [name, value] : meta)
      if (sendable_header(name, value)) headers.push_back(header(name, value));
    if (stream.answer.empty() && headers.size() == 2) {
      for (const auto& [name, value] : stream.trailers) headers.push_back(header(name, value));
      nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(), nullptr);
      Meta().swap(stream.trailers);
      return;
    }
    nghttp2_data_provider provider{};
    provider.read_callback = &GrpcServerCodec::read_answer;
    nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(), &provider);
  }

  // A streamed call's response headers, with the upstream's metadata: its messages follow as
  // they come (read_answer defers while it has none).
  void start_response(int32_t stream_id, Stream& stream, const Meta& meta) {
    stream.responded = true;
    std::vector<nghttp2_nv> headers;
    headers.reserve(2 + meta.size());
    headers.push_back(header(":status", "200"));
    headers.push_back(header("content-type", "application/grpc"));
    for (const auto& [name, value] : meta)
      if (sendable_header(name, value) || compression_header(name)) headers.push_back(header(name, value));
    nghttp2_data_provider provider{};
    provider.read_callback = &GrpcServerCodec::read_answer;
    nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(), &provider);
  }

  // A streamed call's response: its trailers (the upstream's status and trailing metadata, or
  // rpcgate's error) once every message before them is framed; trailers-only when nothing was.
  void finish_stream(int32_t stream_id, Stream& stream, const Response& response) {
    stream.finished = true;
    stream.peer = nullptr;
    Meta status = response.is_error() ? status_trailers(response) : Meta{{"grpc-status", "0"}};
    if (!stream.responded) {
      respond(stream_id, stream, response.meta, std::move(status), response.trailers);
      return;
    }
    stream.trailers = std::move(status);
    for (const auto& [name, value] : response.trailers)
      if (sendable_header(name, value)) stream.trailers.emplace_back(name, value);
    nghttp2_session_resume_data(session_, stream_id);
  }

  // Server reflection is answered here when the listener has descriptors to answer it from (a
  // listener without passes it through like any call): its response starts at once, and its
  // answers follow as its requests come.
  bool starts_reflection(int32_t stream_id, Stream& stream) {
    if (!descriptors_ || stream.refused != ErrorCode::kNone || !stream.post ||
        !stream.content_type.starts_with("application/grpc") || stream.path.empty() ||
        !is_reflection_method(std::string_view(stream.path).substr(1)))
      return false;
    stream.adopted = true;
    stream.taken = true;
    start_response(stream_id, stream, {});
    return true;
  }

  void serve_reflection_stream(int32_t stream_id, Stream& stream) {
    if (stream.finished) return;
    size_t taken = 0;
    std::string error;
    const bool served =
        serve_reflection(*descriptors_, stream.body, stream.encoding == "gzip", settings_.max_message_bytes,
                         kReflectionAnswersBound, stream.answer, taken, error);
    pending_bytes_ -= taken;
    if (taken > 0) nghttp2_session_consume_stream(session_, stream_id, taken);
    if (!served || (stream.client_ended && stream.body.empty())) {
      drop_body(stream);
      stream.finished = true;
      stream.trailers = served ? Meta{{"grpc-status", "0"}} : own_status(Status::kInvalidArgument, error);
    }
    nghttp2_session_resume_data(session_, stream_id);
  }

  void send_watched_status(int32_t stream_id, Stream& stream) {
    const Serving status = !stream.watched_service_known ? Serving::kServiceUnknown
                           : serving_                    ? Serving::kServing
                                                         : Serving::kNotServing;
    if (status == stream.watched) return;
    stream.watched = status;
    append_message(health_response(status), stream.answer);
    nghttp2_session_resume_data(session_, stream_id);
  }

  // The head of `stream_id` as a request, when the call may stream: any call without
  // descriptors (the listener cannot tell a streaming one), or a streaming method of them. The
  // stream keeps its metadata for the unary path, which takes the call when nobody adopts it.
  bool open_call(int32_t stream_id, Request& request) {
    const Stream* stream = find(stream_id);
    if (stream == nullptr || !stream->post || !stream->content_type.starts_with("application/grpc")) return false;
    std::string_view path(stream->path);
    if (path.size() < 4 || path[0] != '/' || path.find('/', 1) == std::string_view::npos) return false;
    const std::string_view name = path.substr(1);
    if (name == kOwnHealthMethod || name == kHealthWatchMethod) return false;
    if (descriptors_) {
      const Method* method = descriptors_->find(name);
      if (method == nullptr || !method->streaming()) return false;
    }
    request.method.assign(name);
    request.id = static_cast<uint64_t>(stream_id);
    request.meta = stream->meta;
    if (!stream->encoding.empty()) request.meta.emplace_back("grpc-encoding", stream->encoding);
    if (!stream->accept_encoding.empty()) request.meta.emplace_back("grpc-accept-encoding", stream->accept_encoding);
    return true;
  }

  bool response_message(const Stream& stream, const Response& response, std::string& message, std::string& error) {
    if (stream.method != nullptr)
      return result_to_message(*stream.method, response.result, settings_.unwrap, message, error);
    if (stream.health == Stream::Health::kCheck) {
      message = health_response(serving_of(response.result));
      return true;
    }
    if (!response.payload.empty()) {
      message = response.payload;
    } else if (response.result.is_binary()) {
      const auto& bytes = response.result.get_binary();
      message.assign(bytes.begin(), bytes.end());
    } else if (!response.result.is_null()) {
      error = "the answer has a result, and the listener no descriptors to encode it with";
      return false;
    }
    return true;
  }

  void send_pending(std::string& out) {
    if (!grpc::send_pending(session_, out))
      goaway_code_ = NGHTTP2_INTERNAL_ERROR;  // out of memory: the session is over
  }

  DecodeResult broken(Response& reply, uint32_t code, std::string_view why) {
    if (!terminated_ && goaway_code_ == NGHTTP2_NO_ERROR) nghttp2_session_terminate_session(session_, code);
    terminated_ = true;
    send_pending(out_);
    reply.clear();
    reply.set_error(code == NGHTTP2_ENHANCE_YOUR_CALM ? ErrorCode::kOverloaded : ErrorCode::kBadRequest,
                    "HTTP/2: " + std::string(why) + " (GOAWAY " + nghttp2_http2_strerror(code) + ")");
    return {DecodeStatus::kBroken, 0};
  }

  DecodeResult answered(int32_t stream_id, size_t frame, Response& reply, ErrorCode code, std::string message) {
    reply.id = static_cast<uint64_t>(stream_id);
    reply.set_error(code, std::move(message));
    return {DecodeStatus::kAnswered, frame};
  }

  // The call on `stream_id` is whole, or refused: a request for the gateway, or its answer.
  DecodeResult finish_call(int32_t stream_id, size_t frame, Request& request, Response& reply) {
    Stream* found = find(stream_id);
    if (found == nullptr || found->taken) return {DecodeStatus::kConsumed, frame};
    Stream& stream = *found;
    stream.taken = true;
    const std::string body = std::move(stream.body);
    pending_bytes_ -= body.size();
    stream.body.clear();
    if (stream.refused != ErrorCode::kNone) return answered(stream_id, frame, reply, stream.refused, stream.refusal);
    if (!stream.post) return answered(stream_id, frame, reply, ErrorCode::kBadRequest, "gRPC calls are POST requests");
    if (!stream.content_type.starts_with("application/grpc"))
      return answered(stream_id, frame, reply, ErrorCode::kBadRequest,
                      "content-type '" + stream.content_type.substr(0, 64) + "' is not application/grpc");
    std::string_view path(stream.path);
    if (path.size() < 4 || path[0] != '/' || path.find('/', 1) == std::string_view::npos)
      return answered(stream_id, frame, reply, ErrorCode::kUnknownMethod,
                      "path '" + std::string(path.substr(0, 128)) + "' is not /package.Service/Method");
    const std::string_view name = path.substr(1);

    bool compressed = false;
    std::string_view message;
    std::string error;
    if (!cut_message(body, compressed, message, error))
      return answered(stream_id, frame, reply, ErrorCode::kBadRequest, error);
    std::string inflated;
    if (compressed) {
      if (stream.encoding != "gzip")
        return answered(stream_id, frame, reply, ErrorCode::kUnknownMethod,
                        "grpc-encoding '" + stream.encoding.substr(0, 64) + "' is not supported (gzip is)");
      bool too_large = false;
      if (!gunzip(message, settings_.max_message_bytes, inflated, error, too_large))
        return answered(stream_id, frame, reply, too_large ? ErrorCode::kTooLarge : ErrorCode::kBadRequest, error);
      message = inflated;
    }

    request.params = nullptr;
    if (name == kHealthWatchMethod) {
      std::string service;
      if (!health_service(message, service))
        return answered(stream_id, frame, reply, ErrorCode::kBadRequest, "not a grpc.health.v1.HealthCheckRequest");
      // A service it does not serve is SERVICE_UNKNOWN, and the stream stays open, as the health
      // protocol has Watch answer it.
      stream.watched_service_known = service.empty() || (descriptors_ && descriptors_->has_service(service));
      stream.watching = true;
      stream.adopted = true;
      start_response(stream_id, stream, {});
      send_watched_status(stream_id, stream);
      return {DecodeStatus::kConsumed, frame};
    }
    if (name == kOwnHealthMethod) {
      // The gateway answers it from its readiness (the `health` handler), for the server as a
      // whole ("") and for each service of the descriptors.
      std::string service;
      if (!health_service(message, service))
        return answered(stream_id, frame, reply, ErrorCode::kBadRequest, "not a grpc.health.v1.HealthCheckRequest");
      if (!service.empty() && !(descriptors_ && descriptors_->has_service(service))) {
        stream.health = Stream::Health::kUnknownService;
        return answered(stream_id, frame, reply, ErrorCode::kUnknownMethod,
                        "service '" + service.substr(0, 128) + "' is not in the listener's descriptors");
      }
      stream.health = Stream::Health::kCheck;
      request.params = std::move(service);
    } else if (descriptors_) {
      const Method* method = descriptors_->find(name);
      if (method == nullptr)
        return answered(stream_id, frame, reply, ErrorCode::kUnknownMethod,
                        "method '" + std::string(name.substr(0, 128)) + "' is not in the listener's descriptors");
      if (method->streaming())
        return answered(stream_id, frame, reply, ErrorCode::kUnknownMethod,
                        "method '" + std::string(name) +
                            "' streams, and a streaming call passes only through a route to a grpc cluster");
      if (!message_to_params(*method, message, settings_.unwrap, max_depth_, request.params, error))
        return answered(stream_id, frame, reply, ErrorCode::kBadRequest, error);
      stream.method = method;
    } else {
      request.payload.assign(message);
    }
    request.method.assign(name);
    request.id = static_cast<uint64_t>(stream_id);
    request.meta = std::move(stream.meta);
    return {DecodeStatus::kRequest, frame};
  }

  Settings settings_;
  std::shared_ptr<const Descriptors> descriptors_;  // null: messages travel as payload
  size_t max_depth_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, Stream> streams_;  // node-based: a Stream stays put while others come
  std::string out_;                              // the session's bytes not yet taken
  size_t pending_bytes_ = 0;                     // Stream::body, all streams together
  uint64_t resets_ = 0;                          // RST_STREAM frames from the client, for the message when that ends it
  int32_t ready_ = 0;                            // the stream the frame just read finished (or refused), 0 = none
  int32_t opened_ = 0;                           // the call whose head the frame just read was, 0 = none
  bool hold_ = false;                            // streamed messages wait: the connection's output is full
  bool serving_ = true;                          // the gateway's readiness, for health Watch streams
  bool preface_seen_ = false;
  bool terminated_ = false;                  // we ended the session
  uint32_t goaway_code_ = NGHTTP2_NO_ERROR;  // the error of a GOAWAY sent, by nghttp2 or by us
};

}  // namespace

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options) {
  return std::make_unique<GrpcServerCodec>(options);
}

}  // namespace rpcgate::codec::grpc
