#include "tls/tls_context.h"

#include <openssl/err.h>

namespace rpcgate::tls {

namespace {

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                unsigned int offered_length, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const std::string& ours = self->alpn_wire();
  unsigned char* chosen = nullptr;
  // Our order wins: the server's list is the first argument.
  if (SSL_select_next_proto(&chosen, out_length, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), offered, offered_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no_application_protocol
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

ServerContext::~ServerContext() { SSL_CTX_free(context_); }

std::shared_ptr<ServerContext> ServerContext::build(const ServerSettings& settings, std::string& error) {
  ERR_clear_error();
  std::shared_ptr<ServerContext> self(new ServerContext());
  self->context_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX* context = self->context_;
  if (context == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return nullptr;
  }
  // Renegotiation lets a client make the server redo a handshake at will: work for nothing, and
  // the source of past attacks. Compression is off by default in OpenSSL 3 (CRIME).
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(context, settings.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Records are sealed from one buffer that the caller keeps until sealed; a partial write
  // never happens on a memory BIO, and a moving buffer is fine.
  SSL_CTX_set_mode(context, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (!use_certificate_and_key(context, settings.cert, settings.key, error)) return nullptr;
  note_certificate_file(self->files_, "cert", settings.cert);
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(context, settings.ciphers.c_str()) != 1) {
    error = "ciphers '" + settings.ciphers + "': " + openssl_reason();
    return nullptr;
  }
  if (!settings.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(context, settings.client_ca.c_str(), nullptr) != 1) {
      error = "client_ca " + settings.client_ca + ": cannot load: " + openssl_reason();
      return nullptr;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(context, names);  // the context owns it
    note_certificate_file(self->files_, "client_ca", settings.client_ca);
    int mode = SSL_VERIFY_PEER;
    if (settings.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(context, mode, nullptr);
  }
  for (const auto& protocol : settings.alpn) {
    self->alpn_wire_ += static_cast<char>(protocol.size());
    self->alpn_wire_ += protocol;
  }
  if (!self->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(context, select_alpn, self.get());
  ERR_clear_error();
  return self;
}

}  // namespace rpcgate::tls
