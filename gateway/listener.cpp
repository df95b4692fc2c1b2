#include "gateway/listener.h"

#include "backends/cluster.h"
#include "core/log.h"
#include "gateway/connection.h"
#include "gateway/gateway.h"

namespace rpcgate {
namespace {

constexpr int kBacklog = 511;

}  // namespace

Listener::Listener(Gateway& gateway, const conf::ListenerConfig& config, size_t index, const codec::CodecInfo& codec)
    : gateway_(gateway), config_(config), index_(index), codec_(codec), codec_options_(config.codec_options) {
  // A route that sends the codec's sidecar probe (RESP: SELECT) to an upstream of this very codec
  // (a Redis behind a RESP port): the listener stands in for that upstream.
  if (!codec.sidecar_probe.empty()) {
    const RouteTarget* probe = gateway_.router().resolve(std::string(codec.sidecar_probe));
    if (probe != nullptr && probe->cluster != nullptr && &probe->cluster->codec() == &codec_)
      codec_options_.upstream = &probe->cluster->config().codec_options;
  }
  if (config.auth) codec_options_.credentials = &config.auth->users;
  if (config.tls) tls_context_ = config.tls->context;
  uv_tcp_init(gateway_.loop(), &tcp_);
  tcp_.data = this;
}

bool Listener::listen(int fd, std::string& error) {
  int rc = uv_tcp_open(&tcp_, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), kBacklog, &Listener::on_connection);
  if (rc != 0) {
    error = config_.origin.describe() + ": listener " + config_.name + ": cannot listen on " +
            config_.address.to_string() + ": " + uv_strerror(rc);
    return false;
  }
  LOG_DEBUG("listener %s: %s on %s", config_.name.c_str(), config_.codec.c_str(), config_.address.to_string().c_str());
  return true;
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status < 0) {
    // libuv keeps a spare descriptor for EMFILE and sheds the connection itself; just report.
    LOG_WARN("listener %s: accept failed: %s", self->config_.name.c_str(), uv_strerror(status));
    return;
  }
  self->adopt(server);
}

void Listener::adopt(uv_stream_t* source) {
  auto* connection = new Connection(gateway_, *this);
  ++active_;
  int rc = uv_accept(source, connection->stream());
  if (rc != 0) {
    LOG_WARN("listener %s: accept failed: %s", config_.name.c_str(), uv_strerror(rc));
    connection->close();
    return;
  }
  bool reject = active_ > config_.max_connections;
  if (reject) log_rejection();
  connection->start(reject);
}

void Listener::adopt_fd(int fd) {
  auto* connection = new Connection(gateway_, *this);
  ++active_;
  int rc = uv_tcp_open(reinterpret_cast<uv_tcp_t*>(connection->stream()), fd);
  if (rc != 0) {
    LOG_WARN("listener %s: cannot serve the connection passed by the master: %s", config_.name.c_str(),
             uv_strerror(rc));
    ::close(fd);
    connection->close();
    return;
  }
  connection->start(false);
}

bool Listener::reload_tls(std::string& error) {
  if (!config_.tls) return true;
  std::shared_ptr<tls::ServerContext> fresh = tls::ServerContext::build(config_.tls->settings, error);
  if (fresh == nullptr) return false;
  tls_context_ = std::move(fresh);
  return true;
}

void Listener::log_rejection() {
  uint64_t events = 0;
  if (!rejection_log_.allow(gateway_.now_ms(), events)) return;
  LOG_WARN("listener %s: refused %llu connections over max_connections (%zu)", config_.name.c_str(),
           static_cast<unsigned long long>(events), config_.max_connections);
}

void Listener::log_protocol_error(const Response& reply) {
  uint64_t events = 0;
  if (!protocol_error_log_.allow(gateway_.now_ms(), events)) return;
  LOG_INFO("listener %s: protocol error, closing the connection: %s %s (%llu such in the last second)",
           config_.name.c_str(), std::string(error_code_name(reply.error)).c_str(), reply.message.c_str(),
           static_cast<unsigned long long>(events));
}

void Listener::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Listener::on_close);
}

void Listener::on_close(uv_handle_t* handle) {
  auto* self = static_cast<Listener*>(handle->data);
  self->handle_closed_ = true;
  self->free_when_unused();
}

void Listener::on_connection_closed() {
  --active_;
  free_when_unused();
}

void Listener::free_when_unused() {
  if (!handle_closed_ || active_ > 0) return;
  gateway_.remove_listener(this);
  delete this;
}

}  // namespace rpcgate
