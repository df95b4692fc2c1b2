// A cluster's TLS settings and the OpenSSL context its upstream connections share: the CAs that
// verify the upstream (or the system's), and the client certificate for mutual TLS. The server
// name each connection checks is set per connection (TlsEngine::expect_server_name), since it
// defaults to the endpoint's own host.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "tls/certificate_files.h"

namespace rpcgate::tls {

struct ClientSettings {
  std::string ca;           // PEM: CAs that verify the upstream; "" = the system's store
  std::string server_name;  // checked in the upstream's certificate and sent as SNI; "" = the endpoint's host
  bool verify = true;       // false: any certificate is accepted (a test bench, never production)
  std::string cert;         // PEM: a client certificate for mutual TLS ("" = none), then its chain
  std::string key;          // PEM: its private key; must not be readable by others
};

class ClientContext {
 public:
  // Null with `error` set ("ca /etc/rpcgate/ca.pem: cannot load: ...") when a file does not
  // load, the key does not match the certificate, the certificate has expired, or the key file is
  // readable by others. `alpn` is the protocol offered (the codec's: "h2"), or "".
  static std::shared_ptr<ClientContext> build(const ClientSettings& settings, std::string_view alpn,
                                              std::string& error);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  SSL_CTX* get() const { return context_; }
  // The protocol the upstream must choose with ALPN, or "" when none is offered.
  const std::string& alpn() const { return alpn_; }
  // The certificate files it loaded (ca, cert) and their expiry, for the metrics.
  const std::vector<CertificateFile>& files() const { return files_; }

 private:
  ClientContext() = default;
  SSL_CTX* context_ = nullptr;
  std::string alpn_;
  std::vector<CertificateFile> files_;
};

}  // namespace rpcgate::tls
