// The grpc codec's client side: one nghttp2 client session per upstream connection, each request a
// stream of its own (HEADERS, then its one message as DATA). Replies are fed to nghttp2 one whole
// frame per decode(), and a call is reported once the frame that ends its stream (the trailers) is
// read; a frame that ends several (GOAWAY) has them reported one per decode. What the session sends
// on its own (its preface and settings, acknowledgements, window updates, the rest of a message
// flow control held back) leaves with the next encode() or through take_output().
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codecs/grpc/descriptors.h"
#include "codecs/grpc/grpc_codec.h"
#include "codecs/grpc/grpc_message.h"
#include "codecs/grpc/grpc_status.h"
#include "codecs/grpc/http2.h"

namespace rpcgate::codec::grpc {
namespace {

// How many streams nghttp2 itself opens before the peer's SETTINGS say how many it takes.
constexpr size_t kStreamsBeforeSettings = 100;
// grpc-timeout has at most 8 digits.
constexpr uint64_t kMaxTimeoutAmount = 99'999'999;

// Meta that may travel as a header: not the deadline, which goes as grpc-timeout.
bool sendable_meta(std::string_view name, std::string_view value) {
  return name != kTimeoutMeta && sendable_header(name, value);
}

// The call's remaining time as grpc-timeout: milliseconds while they fit in 8 digits, else
// seconds, rounded up, so that the upstream never gives up before the gateway does.
std::string timeout_header(std::string_view ms_text) {
  uint64_t ms = 0;
  auto [end, ec] = std::from_chars(ms_text.data(), ms_text.data() + ms_text.size(), ms);
  if (ec != std::errc() || end != ms_text.data() + ms_text.size()) return {};
  if (ms <= kMaxTimeoutAmount) return std::to_string(ms) + "m";
  return std::to_string(std::min(kMaxTimeoutAmount, (ms + 999) / 1000)) + "S";
}

class GrpcClientCodec final : public ClientCodec, public ClientStreams {
 public:
  explicit GrpcClientCodec(const CodecOptions& options)
      : settings_(settings_of(options)),
        descriptors_(std::static_pointer_cast<const Descriptors>(options.state)),
        max_depth_(options.limits.max_depth),
        scheme_(options.upstream_tls ? "https" : "http") {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &GrpcClientCodec::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &GrpcClientCodec::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &GrpcClientCodec::on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &GrpcClientCodec::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &GrpcClientCodec::on_stream_close);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_closed_streams(option, 1);
    // Windows reopen by hand: at once for an answer read whole, and for a streamed call's
    // messages once its client has been sent them (consume).
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_client_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    const nghttp2_settings_entry entries[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_bytes},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(settings_.max_header_list_bytes)},
    };
    // Sent, behind the client preface nghttp2 writes itself, with the first bytes that leave.
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(settings_.initial_window_bytes));
  }

  ~GrpcClientCodec() override { nghttp2_session_del(session_); }
  GrpcClientCodec(const GrpcClientCodec&) = delete;
  GrpcClientCodec& operator=(const GrpcClientCodec&) = delete;

  void connected_to(std::string_view peer) override { authority_.assign(peer); }

  void encode(const Request& request, std::string& out) override {
    failed_ = false;
    Stream stream;
    stream.request_id = request.id;
    if (request.stream != nullptr) {
      // Streamed: the client's bytes as they came, already in gRPC's framing, untranslated.
      stream.streamed = true;
      stream.peer = request.stream;
      stream.outgoing = request.payload;
    } else {
      std::string message;
      if (!message_of(request, stream, message)) return;
      append_message(message, stream.outgoing);
    }

    const std::string path = "/" + request.method;
    std::string timeout;
    std::vector<nghttp2_nv> headers = {header(":method", "POST"),
                                       header(":scheme", scheme_),
                                       header(":path", path),
                                       header(":authority", authority_),
                                       header("content-type", "application/grpc"),
                                       header("te", "trailers"),
                                       header("user-agent", "rpcgate")};
    for (const auto& [name, value] : request.meta) {
      if (name == kTimeoutMeta) {
        if (!timeout.empty()) continue;  // the header views `timeout`: it is set once
        timeout = timeout_header(value);
        if (!timeout.empty()) headers.push_back(header("grpc-timeout", timeout));
      } else if (sendable_meta(name, value) || (request.stream != nullptr && compression_header(name))) {
        headers.push_back(header(name, value));
      }
    }
    nghttp2_data_provider provider{};
    provider.read_callback = &GrpcClientCodec::read_outgoing;
    const int32_t stream_id =
        nghttp2_submit_request(session_, nullptr, headers.data(), headers.size(), &provider, nullptr);
    if (stream_id < 0) {
      fail(ErrorCode::kUnavailable, std::string("cannot open a stream: ") + nghttp2_strerror(stream_id));
      return;
    }
    if (stream.streamed && request.id) by_request_[*request.id] = stream_id;
    streams_.emplace(stream_id, std::move(stream));
    out += out_;  // what the session said before, first: frames keep their order
    out_.clear();
    send_pending(out);
  }

  bool encode_failed(Response& error) override {
    if (!failed_) return false;
    error = std::move(failure_);
    failure_ = Response();
    failed_ = false;
    return true;
  }

  DecodeResult decode(std::string_view input, Response& response) override {
    if (!done_.empty()) return report(response, 0);
    if (input.size() < kFrameHeaderBytes) return {};
    const size_t length = frame_length(input);
    // Refused the moment the header announces it, never buffered.
    if (length > kMaxFrameBytes) return broken(response, NGHTTP2_FRAME_SIZE_ERROR, "a frame larger than 16384 bytes");
    if (input.size() < kFrameHeaderBytes + length) return {};
    const size_t frame = kFrameHeaderBytes + length;
    const ssize_t read = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(input.data()), frame);
    if (read < 0) return broken(response, NGHTTP2_PROTOCOL_ERROR, nghttp2_strerror(static_cast<int>(read)));
    send_pending(out_);
    if (goaway_sent_ != NGHTTP2_NO_ERROR) return broken(response, goaway_sent_, "the upstream broke the protocol");
    if (!done_.empty()) return report(response, frame);
    return {DecodeStatus::kConsumed, frame};
  }

  // Replies are matched by stream, so every frame is read; skipping is the same work.
  DecodeResult skip(std::string_view input, Response& error) override { return decode(input, error); }

  void take_output(std::string& out) override {
    out += out_;
    out_.clear();
    send_pending(out);
  }

  size_t max_in_flight() const override {
    if (goaway_received_) return 0;
    if (!settings_received_) return kStreamsBeforeSettings;
    return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }

  bool multiplexed() const override { return true; }

  ClientStreams* streams() override { return this; }

  void send(uint64_t id, std::string_view bytes) override {
    Stream* stream = streamed(id);
    if (stream == nullptr || stream->ended) return;
    stream->outgoing.append(bytes);
    nghttp2_session_resume_data(session_, by_request_[id]);
  }

  void end(uint64_t id) override {
    Stream* stream = streamed(id);
    if (stream == nullptr || stream->ended) return;
    stream->ended = true;
    nghttp2_session_resume_data(session_, by_request_[id]);
  }

  void consume(uint64_t id, size_t bytes) override {
    if (streamed(id) != nullptr) nghttp2_session_consume_stream(session_, by_request_[id], bytes);
  }

  void abandon(uint64_t id) override {
    Stream* stream = streamed(id);
    if (stream == nullptr) return;
    stream->peer = nullptr;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, by_request_[id], NGHTTP2_CANCEL);
  }
  bool carries_meta() const override { return true; }
  bool matches_by_id() const override { return true; }

 private:
  struct Stream {
    std::optional<uint64_t> request_id;  // the gateway's id, echoed on the answer
    const Method* method = nullptr;      // the answer's type; null = its bytes as the payload
    std::string outgoing;                // the prefixed request message, until it is sent
    size_t sent = 0;
    std::string http_status;
    std::string grpc_status;
    std::string grpc_message;
    std::string details;   // grpc-status-details-bin, base64 as it came
    std::string encoding;  // grpc-encoding of the answer
    Meta meta;             // custom metadata of the response headers,
    Meta trailers;         // and of the trailers (or of a trailers-only answer's one block)
    size_t header_bytes = 0;
    std::string body;       // the answer's DATA
    bool finished = false;  // reported: what still comes on the stream is dropped
    // A streamed call: its pairing (null once abandoned or finished), and whether its client
    // has half-closed (`outgoing` then ends the stream once sent).
    bool streamed = false;
    CallStream* peer = nullptr;
    bool ended = false;
  };
  struct Done {
    DecodeStatus status = DecodeStatus::kAnswered;
    Response response;
  };

  static GrpcClientCodec& self(void* user_data) { return *static_cast<GrpcClientCodec*>(user_data); }

  Stream* find(int32_t stream_id) {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
  }

  // The open streamed call the gateway knows as `id`, or null.
  Stream* streamed(uint64_t id) {
    auto it = by_request_.find(id);
    return it == by_request_.end() ? nullptr : find(it->second);
  }

  void fail(ErrorCode code, std::string message) {
    failed_ = true;
    failure_.clear();
    failure_.set_error(code, std::move(message));
  }

  // The request's message: params through the descriptors, or its payload bytes as they are.
  bool message_of(const Request& request, Stream& stream, std::string& message) {
    if (descriptors_) {
      const Method* method = descriptors_->find(request.method);
      if (method == nullptr) {
        fail(ErrorCode::kUnknownMethod,
             "method '" + request.method.substr(0, 128) + "' is not in the cluster's descriptors");
        return false;
      }
      if (method->streaming()) {
        fail(ErrorCode::kUnknownMethod,
             "method '" + request.method + "' streams, and only unary calls are translated yet");
        return false;
      }
      std::string error;
      if (!params_to_message(*method, request.params, settings_.unwrap, message, error)) {
        fail(ErrorCode::kBadRequest, error);
        return false;
      }
      stream.method = method;
      return true;
    }
    if (!request.payload.empty()) {
      message = request.payload;
    } else if (request.params.is_binary()) {
      const auto& bytes = request.params.get_binary();
      message.assign(bytes.begin(), bytes.end());
    } else if (!request.params.is_null()) {
      fail(ErrorCode::kBadRequest, "the request has params, and the cluster no descriptors to encode them with");
      return false;
    }
    return true;
  }

  // The answer is whole (its stream ended): the response, or the error it carries.
  void finish(int32_t stream_id, Stream& stream) {
    stream.finished = true;
    Done& done = done_.emplace_back();
    Response& response = done.response;
    response.id = stream.request_id;
    uint32_t status = 0;
    auto [end, ec] =
        std::from_chars(stream.grpc_status.data(), stream.grpc_status.data() + stream.grpc_status.size(), status);
    if (stream.http_status != "200") {
      response.set_error(ErrorCode::kUpstreamError,
                         "the upstream answered HTTP status " + stream.http_status.substr(0, 8) + ", not 200");
    } else if (stream.grpc_status.empty() || ec != std::errc() ||
               end != stream.grpc_status.data() + stream.grpc_status.size()) {
      response.set_error(ErrorCode::kUpstreamError, "the upstream's answer has no valid grpc-status");
    } else if (status != 0) {
      std::string text = percent_decode(stream.grpc_message);
      if (text.empty()) text = "grpc-status " + std::to_string(status) + " from the upstream";
      response.set_error(error_of(status), std::move(text));
      // As the upstream sent them, for a gRPC client (the table above keeps a dozen codes).
      response.trailers.emplace_back(kStatusTrailer, stream.grpc_status);
      if (!stream.grpc_message.empty()) response.trailers.emplace_back(kMessageTrailer, stream.grpc_message);
      if (!stream.details.empty()) response.trailers.emplace_back(kDetailsTrailer, std::move(stream.details));
    } else if (!stream.streamed) {
      decode_message(stream, response);
    }
    if (stream.streamed && !stream.ended) {
      // Its messages went to the client as they came; what the client still sends is not: the
      // server has answered. Our side of the stream ends.
      stream.ended = true;
      std::string().swap(stream.outgoing);
      stream.sent = 0;
      nghttp2_session_resume_data(session_, stream_id);
    }
    stream.peer = nullptr;
    response.meta = std::move(stream.meta);
    for (auto& entry : stream.trailers) response.trailers.push_back(std::move(entry));
    std::string().swap(stream.body);
  }

  void decode_message(const Stream& stream, Response& response) {
    bool compressed = false;
    std::string_view message;
    std::string error;
    if (!cut_message(stream.body, compressed, message, error)) {
      response.set_error(ErrorCode::kUpstreamError, "the upstream's answer: " + error);
      return;
    }
    std::string inflated;
    if (compressed) {
      bool too_large = false;
      if (stream.encoding != "gzip") {
        response.set_error(ErrorCode::kUpstreamError, "the upstream's answer is compressed with '" +
                                                          stream.encoding.substr(0, 64) + "', not gzip");
        return;
      }
      if (!gunzip(message, settings_.max_message_bytes, inflated, error, too_large)) {
        response.set_error(too_large ? ErrorCode::kTooLarge : ErrorCode::kUpstreamError,
                           "the upstream's answer: " + error);
        return;
      }
      message = inflated;
    }
    if (stream.method == nullptr) {
      response.payload.assign(message);
      return;
    }
    if (!message_to_result(*stream.method, message, settings_.unwrap, max_depth_, response.result, error)) {
      response.result = nullptr;
      response.set_error(ErrorCode::kUpstreamError, "the upstream's answer: " + error);
    }
  }

  // The stream's answer cannot be taken (too large): it fails with `code`, and the upstream is
  // told to stop sending it.
  void give_up(int32_t stream_id, Stream& stream, ErrorCode code, std::string why) {
    stream.finished = true;
    std::string().swap(stream.body);
    Done& done = done_.emplace_back();
    done.response.id = stream.request_id;
    done.response.set_error(code, std::move(why));
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name_bytes, size_t name_length,
                       const uint8_t* value_bytes, size_t value_length, uint8_t, void* user_data) {
    GrpcClientCodec& codec = self(user_data);
    const int32_t id = frame->hd.stream_id;
    Stream* stream = codec.find(id);
    if (stream == nullptr || stream->finished) return 0;
    // HTTP/2's own measure of a header list (RFC 9113, 6.5.2), trailers included.
    stream->header_bytes += name_length + value_length + 32;
    if (stream->header_bytes > codec.settings_.max_header_list_bytes) {
      codec.give_up(id, *stream, ErrorCode::kTooLarge,
                    "the upstream's header list is larger than " +
                        std::to_string(codec.settings_.max_header_list_bytes) + " bytes (max_header_list_bytes)");
      return 0;
    }
    std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    std::string_view value(reinterpret_cast<const char*>(value_bytes), value_length);
    if (name == ":status") {
      stream->http_status = value;
    } else if (name == "grpc-status") {
      stream->grpc_status = value;
    } else if (name == "grpc-message") {
      stream->grpc_message = value.substr(0, 1024);
    } else if (name == "grpc-encoding" && stream->peer == nullptr) {
      stream->encoding = value;
    } else if (compression_header(name) && stream->peer != nullptr) {
      stream->meta.emplace_back(name, value);  // a streamed answer's messages pass as compressed
    } else if (name == kDetailsTrailer) {
      stream->details = value;
    } else if (!reserved_header(name)) {
      // Bounded with the header list, above. A trailers-only answer's one block (it ends the
      // stream) is trailers.
      const bool trailers =
          frame->headers.cat != NGHTTP2_HCAT_RESPONSE || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      (trailers ? stream->trailers : stream->meta).emplace_back(name, value);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t length,
                           void* user_data) {
    GrpcClientCodec& codec = self(user_data);
    Stream* stream = codec.find(stream_id);
    if (stream != nullptr && stream->peer != nullptr && !stream->finished) {
      // The connection's window reopens at once (one slow client must not hold the other
      // calls back); the stream's once the client has been sent the bytes.
      nghttp2_session_consume_connection(codec.session_, length);
      stream->peer->from_server(std::string_view(reinterpret_cast<const char*>(data), length));
      return 0;
    }
    nghttp2_session_consume(codec.session_, stream_id, length);
    if (stream == nullptr || stream->finished || stream->streamed) return 0;
    const size_t limit = codec.settings_.max_message_bytes + kPrefixBytes;
    // The message's own length is judged as soon as its prefix is here, before the rest is held.
    if (body_bound(stream->body, std::string_view(reinterpret_cast<const char*>(data), length)) > limit) {
      codec.give_up(stream_id, *stream, ErrorCode::kTooLarge,
                    "the upstream's answer is larger than " + std::to_string(codec.settings_.max_message_bytes) +
                        " bytes (max_message_bytes)");
      return 0;
    }
    stream->body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    GrpcClientCodec& codec = self(user_data);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0)
      codec.settings_received_ = true;
    // No new stream from here; nghttp2 closes those above its last stream id as refused.
    if (frame->hd.type == NGHTTP2_GOAWAY) codec.goaway_received_ = true;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Stream* stream = codec.find(frame->hd.stream_id);
    if (stream == nullptr || stream->finished) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (end_stream) {
      codec.finish(frame->hd.stream_id, *stream);
    } else if (stream->peer != nullptr && frame->hd.type == NGHTTP2_HEADERS &&
               frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      stream->peer->response_headers(stream->meta);  // its messages follow
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
      self(user_data).goaway_sent_ = frame->goaway.error_code;
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
    GrpcClientCodec& codec = self(user_data);
    auto it = codec.streams_.find(stream_id);
    if (it == codec.streams_.end()) return 0;
    Stream& stream = it->second;
    if (!stream.finished) {
      Done& done = codec.done_.emplace_back();
      done.response.id = stream.request_id;
      if (error_code == NGHTTP2_REFUSED_STREAM) {
        // Not acted on (RST_STREAM REFUSED_STREAM, or above a GOAWAY's last stream id): safe anywhere.
        done.status = DecodeStatus::kRefused;
        done.response.set_error(ErrorCode::kUnavailable, "the upstream refused the stream");
      } else {
        done.response.set_error(ErrorCode::kUnavailable, std::string("the upstream reset the stream (") +
                                                             nghttp2_http2_strerror(error_code) + ")");
      }
    }
    if (stream.request_id) codec.by_request_.erase(*stream.request_id);
    codec.streams_.erase(it);
    return 0;
  }

  static ssize_t read_outgoing(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                               nghttp2_data_source*, void* user_data) {
    Stream* stream = self(user_data).find(stream_id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    const size_t n = std::min(length, stream->outgoing.size() - stream->sent);
    std::copy_n(stream->outgoing.data() + stream->sent, n, buf);
    stream->sent += n;
    if (stream->peer != nullptr && n > 0) stream->peer->sent_to_server(n);
    if (stream->streamed && !stream->ended && stream->sent == stream->outgoing.size()) {
      // All the client sent so far is framed: the stream waits for more (send, end).
      stream->outgoing.clear();
      stream->sent = 0;
      return n > 0 ? static_cast<ssize_t>(n) : static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED);
    }
    if (stream->sent == stream->outgoing.size()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      std::string().swap(stream->outgoing);
      stream->sent = 0;
    }
    return static_cast<ssize_t>(n);
  }

  DecodeResult report(Response& response, size_t consumed) {
    Done& done = done_.front();
    response = std::move(done.response);
    const DecodeStatus status = done.status;
    done_.pop_front();
    return {status, consumed};
  }

  void send_pending(std::string& out) {
    if (!grpc::send_pending(session_, out))
      goaway_sent_ = NGHTTP2_INTERNAL_ERROR;  // out of memory: the session is over
  }

  DecodeResult broken(Response& response, uint32_t code, std::string_view why) {
    if (goaway_sent_ == NGHTTP2_NO_ERROR) {
      nghttp2_session_terminate_session(session_, code);
      goaway_sent_ = code;
      send_pending(out_);
    }
    response.clear();
    response.set_error(ErrorCode::kUpstreamError,
                       "HTTP/2: " + std::string(why) + " (GOAWAY " + nghttp2_http2_strerror(code) + ")");
    return {DecodeStatus::kBroken, 0};
  }

  Settings settings_;
  std::shared_ptr<const Descriptors> descriptors_;  // null: messages travel as payload
  size_t max_depth_;
  std::string_view scheme_;  // ":scheme": https to an upstream reached over TLS
  std::string authority_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, Stream> streams_;       // node-based: a Stream stays put while others come
  std::unordered_map<uint64_t, int32_t> by_request_;  // streamed calls: the gateway's id to the stream
  std::deque<Done> done_;                             // streams ended by frames read, not yet reported
  std::string out_;                                   // the session's bytes not yet taken
  bool failed_ = false;                               // the last encode() put nothing on the wire
  Response failure_;
  bool settings_received_ = false;
  bool goaway_received_ = false;
  uint32_t goaway_sent_ = NGHTTP2_NO_ERROR;  // the error of a GOAWAY we sent: the session is over
};

}  // namespace

std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options) {
  return std::make_unique<GrpcClientCodec>(options);
}

}  // namespace rpcgate::codec::grpc
