#include "tls/client_context.h"

#include <openssl/err.h>

namespace rpcgate::tls {

ClientContext::~ClientContext() { SSL_CTX_free(context_); }

std::shared_ptr<ClientContext> ClientContext::build(const ClientSettings& settings, std::string_view alpn,
                                                    std::string& error) {
  ERR_clear_error();
  std::shared_ptr<ClientContext> self(new ClientContext());
  self->context_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX* context = self->context_;
  if (context == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return nullptr;
  }
  // As on a listener: no renegotiation (an upstream cannot make the gateway redo handshakes),
  // TLS 1.2 at least, records sealed from a buffer that may move, buffers released while idle.
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_mode(context, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (!settings.ca.empty()) {
    if (SSL_CTX_load_verify_locations(context, settings.ca.c_str(), nullptr) != 1) {
      error = "ca " + settings.ca + ": cannot load: " + openssl_reason();
      return nullptr;
    }
    note_certificate_file(self->files_, "ca", settings.ca);
  } else if (SSL_CTX_set_default_verify_paths(context) != 1) {
    error = "cannot use the system's CA store: " + openssl_reason();
    return nullptr;
  }
  // The chain is checked against the CAs, and the name against the certificate (set per
  // connection); a handshake that fails either fails the connect.
  SSL_CTX_set_verify(context, settings.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!settings.cert.empty()) {
    if (!use_certificate_and_key(context, settings.cert, settings.key, error)) return nullptr;
    note_certificate_file(self->files_, "cert", settings.cert);
  }
  if (!alpn.empty()) {
    std::string wire(1, static_cast<char>(alpn.size()));
    wire += alpn;
    // 0 is success here, unlike the rest of OpenSSL.
    if (SSL_CTX_set_alpn_protos(context, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned int>(wire.size())) != 0) {
      error = "cannot offer ALPN " + std::string(alpn) + ": " + openssl_reason();
      return nullptr;
    }
    self->alpn_ = alpn;
  }
  ERR_clear_error();
  return self;
}

}  // namespace rpcgate::tls
