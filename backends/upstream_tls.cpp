// The TLS side of an upstream connection (a cluster with `tls:`): the handshake after the TCP
// connect, within connect_timeout of its own; every read through the session before the codec
// sees it, every flush sealed into records; a failed handshake counted by kind, logged once per
// endpoint and reason, and reported as a failed connect.
#include <cstring>

#include "backends/cluster.h"
#include "backends/endpoint.h"
#include "backends/upstream_connection.h"
#include "backends/upstreams.h"
#include "core/log.h"

namespace rpcgate::backends {

void UpstreamConnection::start_handshake() {
  state_ = State::kHandshaking;
  const conf::ClusterConfig& config = endpoint_.cluster().config();
  auto timeout = static_cast<uint64_t>(config.connect_timeout.count());
  uv_timer_start(&connect_timer_, &UpstreamConnection::on_connect_timeout, timeout, 0);
  // The name checked in the upstream's certificate: the configured one, or the address dialled.
  const std::string& name =
      config.tls->settings.server_name.empty() ? endpoint_.host() : config.tls->settings.server_name;
  if (!tls_->engine.expect_server_name(name)) {
    fail_handshake(tls::TlsFailure::kOther, "cannot check the server name '" + name + "'");
    return;
  }
  if (tls_->engine.start() != tls::TlsStatus::kOk) {
    fail_handshake(tls_->engine.failure(), tls_->engine.error());
    return;
  }
  endpoint_.cluster().upstreams().schedule_flush(this);  // the ClientHello
}

bool UpstreamConnection::open_records(std::string_view ciphertext, std::string& plaintext) {
  tls::TlsEngine& engine = tls_->engine;
  const bool was_established = engine.established();
  const tls::TlsStatus status = engine.feed(ciphertext, plaintext);
  if (status == tls::TlsStatus::kFailed) {
    // Before any record of the upstream's own, a failure is the handshake's, even past its end on
    // our side (a TLS 1.3 server refusing our certificate); later it is a broken connection.
    if (!tls_->plaintext_seen) {
      fail_handshake(engine.failure(), engine.error());
    } else {
      send_last_words();
      close("TLS: " + engine.error());
    }
    return false;
  }
  // Handshake flights, and what the session answers on its own, leave with the next flush.
  if (engine.pending_output() > 0) endpoint_.cluster().upstreams().schedule_flush(this);
  if (!engine.established()) return false;
  if (!was_established) {
    // The codec's protocol, when it has one (gRPC's h2), must be the one the upstream chose: a
    // server that speaks another one over this connection would not understand a byte.
    const std::string& wanted = endpoint_.cluster().tls_context()->alpn();
    if (!wanted.empty() && engine.alpn() != wanted) {
      fail_handshake(tls::TlsFailure::kAlpn, "the upstream did not choose ALPN protocol " + wanted);
      return false;
    }
    ++endpoint_.cluster().stats().tls.handshakes;
    uv_timer_stop(&connect_timer_);
    on_transport_ready();
    if (state_ != State::kConnected) return false;
  }
  if (!plaintext.empty() && !tls_->plaintext_seen) {
    tls_->plaintext_seen = true;
    endpoint_.on_tls_established();
  }
  if (status == tls::TlsStatus::kClosed) {
    // close_notify: the upstream's end of the stream, as an EOF on a plain socket. What came
    // before it is matched first.
    if (!plaintext.empty() && !streaming_) take_replies(plaintext, false);
    if (state_ == State::kClosing) return false;
    closed_by_peer_ = true;
    close("the upstream closed the connection (TLS close_notify)");
    return false;
  }
  return true;
}

bool UpstreamConnection::seal_output() {
  tls::TlsEngine& engine = tls_->engine;
  // Before the handshake ends nothing is queued (requests wait for on_connected); only the
  // handshake's own bytes leave.
  if (engine.established() && !output_.empty()) {
    if (engine.seal(output_, tls_->sealed) != tls::TlsStatus::kOk) {
      close("TLS: " + engine.error());
      return false;
    }
    output_.clear();
  }
  engine.take_output(tls_->sealed);
  return true;
}

void UpstreamConnection::fail_handshake(tls::TlsFailure why, const std::string& reason) {
  Cluster& cluster = endpoint_.cluster();
  ++cluster.stats().tls.failures[static_cast<size_t>(why)];
  tls_->refused = true;
  const std::string error = "TLS handshake failed (" + std::string(tls::failure_name(why)) + "): " + reason;
  // A wrong CA or name fails every reconnect alike: said once, until a handshake succeeds or the
  // reason changes; each failure is counted all the same.
  if (endpoint_.tls_failure_is_news(error))
    LOG_WARN("cluster %s: upstream %s: %s", cluster.config().name.c_str(), endpoint_.name().c_str(), error.c_str());
  send_last_words();
  close(error);
}

void UpstreamConnection::send_last_words() {
  if (write_in_flight_ || state_ == State::kClosing) return;  // behind a write they would be out of order
  std::string& out = tls_->sealed;
  out.clear();
  tls_->engine.take_output(out);
  if (out.empty()) return;
  uv_buf_t buf = uv_buf_init(out.data(), out.size());
  uv_try_write(stream(), &buf, 1);  // best effort: the connection closes either way
  out.clear();
}

}  // namespace rpcgate::backends
