// A listening socket of one configured listener: accepts connections and counts them against
// the listener's max_connections. Owns its uv_tcp_t; frees itself in the close callback.
#pragma once

#include <uv.h>

#include <string>

#include "codecs/codec.h"
#include "conf/config.h"
#include "core/log.h"
#include "tls/tls_context.h"

namespace rpcgate {

class Gateway;

class Listener {
 public:
  // `index` is the listener's position in the config (its per-listener counters).
  Listener(Gateway& gateway, const conf::ListenerConfig& config, size_t index, const codec::CodecInfo& codec);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Serves the listening socket `fd` (made by open_listen_socket, here or in the master), which
  // it takes over; on failure fills `error` and the caller must still close().
  bool listen(int fd, std::string& error);
  // Stops accepting. The object is freed once libuv has closed the socket and the last of its
  // connections has closed, since connections keep referring to their listener.
  void close();
  void on_connection_closed();
  // A client broke the protocol; logged at most once a second per listener.
  void log_protocol_error(const Response& reply);
  // fdpass: takes the connection pending on `pipe` (accepted by the master) as if accepted here.
  void adopt(uv_stream_t* pipe);
  // fork: serves the connection the master accepted before forking this process.
  void adopt_fd(int fd);

  const conf::ListenerConfig& config() const { return config_; }
  // The TLS context a new connection is accepted with; null on a plain listener. A connection
  // holds the one it was accepted with for as long as it lives.
  const std::shared_ptr<tls::ServerContext>& tls_context() const { return tls_context_; }
  // A reload that changed only certificate files: reads them again for the connections accepted
  // from now on. False, with `error` naming the file and why, when they do not load; the context
  // in use stays.
  bool reload_tls(std::string& error);
  size_t index() const { return index_; }
  std::unique_ptr<codec::ServerCodec> make_codec() const { return codec_.make_server(codec_options_); }
  const codec::CodecInfo& codec_info() const { return codec_; }
  const codec::CodecOptions& codec_options() const { return codec_options_; }

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_close(uv_handle_t* handle);
  void free_when_unused();
  void log_rejection();

  Gateway& gateway_;
  const conf::ListenerConfig& config_;
  size_t index_;
  const codec::CodecInfo& codec_;
  codec::CodecOptions codec_options_;  // the config's, plus what the routes imply
  std::shared_ptr<tls::ServerContext> tls_context_;
  uv_tcp_t tcp_{};
  size_t active_ = 0;
  bool closing_ = false;
  bool handle_closed_ = false;
  LogThrottle rejection_log_;
  LogThrottle protocol_error_log_;
};

}  // namespace rpcgate
