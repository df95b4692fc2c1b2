#include "tls/tls_engine.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace rpcgate::tls {
namespace {

// Plaintext is taken from the session this much at a time: one TLS record's worth.
constexpr size_t kReadChunk = 16 * 1024;

// The kind of a failure whose first queued error is `code`.
TlsFailure kind_of(unsigned long code) {
  if (code == 0 || ERR_GET_LIB(code) != ERR_LIB_SSL) return TlsFailure::kOther;
  switch (ERR_GET_REASON(code)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:          // ours of the peer's certificate
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:  // a client without the one we require
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:  // the alerts of a peer that refused ours
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      return TlsFailure::kVerify;
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      return TlsFailure::kAlpn;
    default:
      return TlsFailure::kProtocol;
  }
}

bool is_ip_literal(const std::string& name) {
  unsigned char address[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name.c_str(), address) == 1 || inet_pton(AF_INET6, name.c_str(), address) == 1;
}

// The longest identity taken from a certificate: a user name, not a document.
constexpr size_t kMaxIdentity = 255;

std::string identity_text(const unsigned char* data, int length) {
  if (data == nullptr || length <= 0 || static_cast<size_t>(length) > kMaxIdentity) return {};
  std::string text(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return {};
  return text;
}

// The subject's CN, in UTF-8; none when there are two, since which one names the holder would be
// a guess.
std::string common_name(X509* certificate) {
  X509_NAME* subject = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) return {};
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  std::string text = length < 0 ? std::string() : identity_text(utf8, length);
  OPENSSL_free(utf8);
  return text;
}

// The first SAN of `type` (GEN_DNS, GEN_EMAIL), or none.
std::string first_san(X509* certificate, int type) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  std::string text;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != type) continue;
    const ASN1_IA5STRING* value = type == GEN_DNS ? name->d.dNSName : name->d.rfc822Name;
    text = identity_text(ASN1_STRING_get0_data(value), ASN1_STRING_length(value));
    break;
  }
  GENERAL_NAMES_free(names);
  return text;
}

}  // namespace

TlsEngine::TlsEngine(SSL_CTX* context, Role role) : ssl_(SSL_new(context)) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty input BIO means "more to come", not end of stream: the socket's owner says when
  // the peer has gone.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both from here
  if (role == Role::kServer)
    SSL_set_accept_state(ssl_);
  else
    SSL_set_connect_state(ssl_);
}

TlsEngine::~TlsEngine() { SSL_free(ssl_); }

TlsStatus TlsEngine::fail(const char* step, int ssl_error) {
  error_ = step;
  // The queue holds the reasons, oldest first; the first is the cause, the rest its echoes.
  const unsigned long code = ERR_get_error();
  failure_ = kind_of(code);
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    error_ += ": ";
    error_ += reason;
    // "certificate verify failed" alone does not say what to fix; the verification's own result does.
    const long verified = SSL_get_verify_result(ssl_);
    if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && verified != X509_V_OK) {
      error_ += ": ";
      error_ += X509_verify_cert_error_string(verified);
    }
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    error_ += ": unexpected end of the stream";
  } else {
    error_ += ": SSL error " + std::to_string(ssl_error);
  }
  ERR_clear_error();
  return TlsStatus::kFailed;
}

TlsStatus TlsEngine::advance_handshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return TlsStatus::kOk;
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return TlsStatus::kOk;
  return fail("handshake", error);
}

bool TlsEngine::expect_server_name(const std::string& name) {
  // RFC 6066 sends no address as SNI; an address is matched against the certificate's IP SANs.
  bool ok = is_ip_literal(name)
                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) == 1
                : SSL_set_tlsext_host_name(ssl_, name.c_str()) == 1 && SSL_set1_host(ssl_, name.c_str()) == 1;
  ERR_clear_error();
  return ok;
}

TlsStatus TlsEngine::start() { return established_ ? TlsStatus::kOk : advance_handshake(); }

TlsStatus TlsEngine::feed(std::string_view ciphertext, std::string& plaintext) {
  if (!ciphertext.empty() && BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size())) <= 0)
    return fail("buffering input", SSL_ERROR_SSL);
  if (!established_) {
    if (TlsStatus status = advance_handshake(); status != TlsStatus::kOk || !established_) return status;
  }
  // Every whole record now; a partial one stays in the session until its rest arrives. Read into
  // a buffer of the stack and appended: growing `plaintext` by a record's worth for each read
  // would fill 16 KiB with zeros twice per socket read, for answers of a few bytes.
  for (;;) {
    ERR_clear_error();
    char chunk[kReadChunk];
    size_t got = 0;
    int rc = SSL_read_ex(ssl_, chunk, kReadChunk, &got);
    plaintext.append(chunk, got);
    if (rc == 1) continue;
    int error = SSL_get_error(ssl_, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return TlsStatus::kOk;
    if (error == SSL_ERROR_ZERO_RETURN) return TlsStatus::kClosed;
    return fail("reading a record", error);
  }
}

TlsStatus TlsEngine::seal(std::string_view plaintext, std::string& ciphertext) {
  while (!plaintext.empty()) {
    ERR_clear_error();
    size_t written = 0;
    int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
    if (rc != 1) return fail("writing a record", SSL_get_error(ssl_, rc));
    plaintext.remove_prefix(written);
  }
  take_output(ciphertext);
  return TlsStatus::kOk;
}

size_t TlsEngine::pending_output() const { return BIO_ctrl_pending(out_); }

void TlsEngine::take_output(std::string& ciphertext) {
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  size_t before = ciphertext.size();
  ciphertext.resize(before + pending);
  int got = BIO_read(out_, ciphertext.data() + before, static_cast<int>(pending));
  ciphertext.resize(before + (got > 0 ? static_cast<size_t>(got) : 0));
}

void TlsEngine::shutdown() {
  ERR_clear_error();
  // OpenSSL forbids a shutdown after a fatal error: the session has sent its alert already.
  if (established_ && error_.empty()) SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsEngine::peer_identity(IdentitySource from) const {
  // A handshake ends only with a certificate that verified (SSL_VERIFY_PEER); the result is
  // checked all the same, so that no context set up otherwise can yield an unverified name.
  if (!established_ || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  X509* certificate = SSL_get0_peer_certificate(ssl_);
  if (certificate == nullptr) return {};
  switch (from) {
    case IdentitySource::kSubjectCn:
      return common_name(certificate);
    case IdentitySource::kDnsSan:
      return first_san(certificate, GEN_DNS);
    case IdentitySource::kEmailSan:
      return first_san(certificate, GEN_EMAIL);
  }
  return {};
}

std::string_view TlsEngine::alpn() const {
  const unsigned char* name = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &name, &length);
  return name == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(name), length);
}

}  // namespace rpcgate::tls
