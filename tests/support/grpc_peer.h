// A gRPC client in miniature for unit tests and fuzz seeds: nghttp2's own client session (a real
// HTTP/2 implementation, not frames made by hand) making unary calls over bytes, and reading the
// answers back. Header-only; no test framework.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codecs/grpc/grpc_codec.h"
#include "tests/support/pi_descriptors.h"

namespace rpcgate::test {

// A python-grpc 1.51 client calling pi.PiCalculator/Calc with PiRequest{n: 1000}, grpc-timeout
// 1480m and metadata x-trace: t1, captured on the wire (hex, so that no binary is committed):
// preface, SETTINGS, WINDOW_UPDATE, SETTINGS ack, HEADERS, WINDOW_UPDATE, DATA with END_STREAM, PING.
inline constexpr std::string_view kCapturedPythonCallHex =
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a0000240400000000000002000000000003000000000004003fffff0005"
    "003fffff000600002000fe0300000001000004080000000000003f00000000000401000000000000f201040000000140053a70617468"
    "152f70692e506943616c63756c61746f722f43616c63400a3a617574686f726974790f3132372e302e302e313a35333837398386400c"
    "636f6e74656e742d74797065106170706c69636174696f6e2f677270634002746508747261696c6572734014677270632d61636365"
    "70742d656e636f64696e67176964656e746974792c206465666c6174652c20677a6970400c677270632d74696d656f757405313438"
    "306d400a757365722d6167656e7430677270632d707974686f6e2f312e35312e3120677270632d632f32392e302e3020286c696e75"
    "783b20636874747032290007782d747261636502743100000408000000000100000005000008000100000001000000000308e80700"
    "000408000000000000000005";

inline std::string from_hex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return bytes;
}

class GrpcPeer {
 public:
  struct Answer {
    std::map<std::string, std::string> headers;  // response headers and trailers together
    std::string data;                            // DATA bytes (prefixed messages)
    bool closed = false;
    uint32_t reset_code = 0;  // the error code the stream closed with (RST_STREAM), 0 = none
  };

  GrpcPeer() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &GrpcPeer::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &GrpcPeer::on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &GrpcPeer::on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &GrpcPeer::on_frame);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~GrpcPeer() { nghttp2_session_del(session_); }
  GrpcPeer(const GrpcPeer&) = delete;
  GrpcPeer& operator=(const GrpcPeer&) = delete;

  // Submits a call with `message` as its body (already prefixed) and returns its stream id.
  int32_t call(std::string_view path, std::string body,
               std::vector<std::pair<std::string, std::string>> extra_headers = {}) {
    std::vector<std::pair<std::string, std::string>> fields = {{":method", "POST"},
                                                               {":scheme", "http"},
                                                               {":path", std::string(path)},
                                                               {":authority", "test"},
                                                               {"content-type", "application/grpc"},
                                                               {"te", "trailers"}};
    fields.insert(fields.end(), extra_headers.begin(), extra_headers.end());
    std::vector<nghttp2_nv> nva;
    for (auto& [name, value] : fields)
      nva.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()), name.size(),
                     value.size(), NGHTTP2_NV_FLAG_NONE});
    bodies_.push_back(std::move(body));
    nghttp2_data_provider provider{};
    provider.source.ptr = &bodies_.back();
    provider.read_callback = &GrpcPeer::read_body;
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, this);
    offsets_[id] = 0;
    bodies_by_stream_[id] = &bodies_.back();
    return id;
  }

  void reset(int32_t stream_id) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL); }

  // Sends no more than the first `bytes` of the call's body until release(): an unfinished message.
  void hold(int32_t stream_id, size_t bytes) { held_[stream_id] = bytes; }
  void release(int32_t stream_id) {
    held_.erase(stream_id);
    nghttp2_session_resume_data(session_, stream_id);
  }

  // A setting as the server sent it.
  uint32_t server_setting(nghttp2_settings_id id) const { return nghttp2_session_get_remote_settings(session_, id); }

  // What the session has to send now.
  std::string output() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }

  // Reads the server's bytes; false when they break the session.
  bool input(std::string_view bytes) {
    return nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) ==
           static_cast<ssize_t>(bytes.size());
  }

  std::map<int32_t, Answer> answers;
  uint32_t goaway_code = 0;
  bool goaway = false;

  // A gRPC message prefix around `message`.
  static std::string prefixed(std::string_view message, bool compressed = false) {
    const auto n = static_cast<uint32_t>(message.size());
    std::string out = {static_cast<char>(compressed ? 1 : 0), static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
    out += message;
    return out;
  }

 private:
  static GrpcPeer& self(void* user_data) { return *static_cast<GrpcPeer*>(user_data); }

  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user_data) {
    GrpcPeer& peer = self(user_data);
    const std::string& body = *peer.bodies_by_stream_[stream_id];
    size_t& at = peer.offsets_[stream_id];
    size_t end = body.size();
    if (auto held = peer.held_.find(stream_id); held != peer.held_.end()) {
      end = std::min(end, held->second);
      if (at == end) return NGHTTP2_ERR_DEFERRED;
    }
    const size_t n = std::min(length, end - at);
    std::copy_n(body.data() + at, n, buf);
    at += n;
    if (at == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_length,
                       const uint8_t* value, size_t value_length, uint8_t, void* user_data) {
    self(user_data)
        .answers[frame->hd.stream_id]
        .headers[std::string(reinterpret_cast<const char*>(name), name_length)] =
        std::string(reinterpret_cast<const char*>(value), value_length);
    return 0;
  }

  static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t length,
                     void* user_data) {
    self(user_data).answers[stream_id].data.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int on_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
    Answer& answer = self(user_data).answers[stream_id];
    answer.closed = true;
    answer.reset_code = error_code;
    return 0;
  }

  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      self(user_data).goaway = true;
      self(user_data).goaway_code = frame->goaway.error_code;
    }
    return 0;
  }

  nghttp2_session* session_ = nullptr;
  std::list<std::string> bodies_;
  std::map<int32_t, std::string*> bodies_by_stream_;
  std::map<int32_t, size_t> offsets_;
  std::map<int32_t, size_t> held_;
};

// The options both grpc fuzz targets run with: the pi descriptors, unwrap, and small limits so
// that inputs reach them. Aborts when they do not load (the target would test nothing).
inline void load_fuzz_grpc_options(codec::CodecOptions& options) {
  static const std::string descriptors = write_pi_descriptors();
  options.extra["descriptors"] = {descriptors};
  options.extra["unwrap"] = true;
  options.extra["max_message_bytes"] = 4096;
  options.extra["max_header_list_bytes"] = 2048;
  if (!codec::grpc::kInfo.load(options).first.empty()) std::abort();
  std::remove(descriptors.c_str());  // loaded: the file is no longer needed
}

}  // namespace rpcgate::test
