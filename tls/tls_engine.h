// One TLS session as a pure function over bytes: ciphertext from the peer goes in and plaintext
// comes out, plaintext to send goes in and ciphertext comes out, the handshake included. No socket,
// no loop, no logging: the owner of the socket moves the bytes and applies its own limits.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rpcgate::tls {

enum class TlsStatus {
  kOk,      // progress, or waiting for more ciphertext
  kClosed,  // the peer sent close_notify: no more plaintext will come
  kFailed,  // a handshake or record error: close the connection (error() says why)
};

// Why a session failed, in the few kinds the metrics count (indexed by this order).
enum class TlsFailure : uint8_t {
  kVerify,    // a certificate did not verify (chain, name, expiry), or the peer refused ours
  kProtocol,  // not TLS, a broken record, no version or cipher in common
  kTimeout,   // the handshake did not finish in time (the owner's timer says so)
  kAlpn,      // no application protocol in common
  kOther,     // anything else (the peer went away mid-handshake, an internal error)
};
inline constexpr std::string_view kTlsFailureNames[] = {"verify", "protocol", "timeout", "alpn", "other"};
inline std::string_view failure_name(TlsFailure failure) { return kTlsFailureNames[static_cast<size_t>(failure)]; }

// Where a client certificate's identity is read (a listener's tls.identity): its subject's
// common name, or its first DNS or email subject alternative name.
enum class IdentitySource : uint8_t { kSubjectCn, kDnsSan, kEmailSan };
inline constexpr std::string_view kIdentitySources[] = {"subject_cn", "dns_san", "email_san"};

class TlsEngine {
 public:
  enum class Role { kServer, kClient };
  // `context` must outlive the engine (the listener's, held for the connection's life).
  TlsEngine(SSL_CTX* context, Role role);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Ciphertext read from the peer: runs the handshake as far as it goes and appends every whole
  // record's plaintext to `plaintext`. Plaintext never exceeds the ciphertext fed, so a caller
  // that bounds its reads bounds this too.
  TlsStatus feed(std::string_view ciphertext, std::string& plaintext);
  // Encrypts `plaintext` (only once established(); before that the caller keeps it) and appends
  // the records to `ciphertext`.
  TlsStatus seal(std::string_view plaintext, std::string& ciphertext);
  // Appends what the session has to send on its own (handshake flights, alerts, tickets).
  void take_output(std::string& ciphertext);
  // Bytes take_output() would give: counted with the caller's unsent bytes, since a peer can make
  // the session answer on its own (a TLS 1.3 KeyUpdate) while the caller's write waits.
  size_t pending_output() const;
  // A client's check of the server: `name` must be in its certificate (a DNS name, or an IP
  // address literal), and a DNS name is sent as SNI. Before start(); false when OpenSSL refuses
  // the name.
  bool expect_server_name(const std::string& name);
  // Starts the handshake from this side (a client); a server waits for the ClientHello.
  TlsStatus start();
  // Queues close_notify for take_output().
  void shutdown();

  bool established() const { return established_; }
  // The protocol ALPN chose ("h2"), or "" when none.
  std::string_view alpn() const;
  // The identity the peer's certificate gives, once established(): the certificate verified
  // against the context's CAs (a listener's client_ca) and `from` read from it. "" when the peer
  // sent none, or the name is absent, ambiguous (two CNs), longer than 255 bytes or holds a
  // control character (a NUL would make "alice\0x" read as "alice" elsewhere).
  std::string peer_identity(IdentitySource from) const;
  // OpenSSL's reason for the last kFailed, for a log line; with a certificate that did not
  // verify, why ("certificate verify failed: unable to get local issuer certificate").
  const std::string& error() const { return error_; }
  // The kind of the last kFailed.
  TlsFailure failure() const { return failure_; }

 private:
  TlsStatus advance_handshake();
  TlsStatus fail(const char* step, int ssl_error);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer, owned by ssl_
  BIO* out_ = nullptr;  // ciphertext to the peer, owned by ssl_
  bool established_ = false;
  TlsFailure failure_ = TlsFailure::kOther;
  std::string error_;
};

}  // namespace rpcgate::tls
