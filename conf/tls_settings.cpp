#include "conf/tls_settings.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace rpcgate::conf {
namespace {

constexpr std::string_view kTlsKeys[] = {"cert",        "key",
                                         "client_ca",   "require_client_cert",
                                         "min_version", "ciphers",
                                         "alpn",        "handshake_timeout",
                                         "identity",    "login_by_certificate"};
constexpr std::string_view kClusterTlsKeys[] = {"ca", "server_name", "verify", "cert", "key"};
// ALPN names are length-prefixed by one byte on the wire.
constexpr size_t kMaxAlpnName = 255;
// A DNS name is at most 253 bytes written out.
constexpr size_t kMaxServerName = 253;

void read_alpn(MapReader& map, std::vector<std::string>& out) {
  auto field = map.get("alpn");
  if (!field) return;
  ReadContext& ctx = map.context();
  const auto items = read_list(ctx, *field);
  if (field->node.IsSequence() && items.empty()) ctx.error(field->line, field->path, "expected at least one protocol");
  for (const auto& item : items) {
    auto name = read_string(ctx, item);
    if (!name) continue;
    if (name->empty() || name->size() > kMaxAlpnName)
      ctx.error(item.line, item.path, "an ALPN protocol name has 1 to 255 bytes");
    else
      out.push_back(std::move(*name));
  }
}

}  // namespace

void read_listener_tls(MapReader& listener_map, bool has_auth, ListenerTlsConfig& out) {
  ReadContext& ctx = listener_map.context();
  const size_t problems_before = ctx.messages().size();
  auto field = listener_map.get("tls");
  MapReader map(ctx, *field, "tls", kTlsKeys);
  if (!map.is_map()) return;
  const bool complete = map.require({"cert", "key"});
  tls::ServerSettings& settings = out.settings;
  map.read_string("cert", settings.cert);
  map.read_string("key", settings.key);
  map.read_string("client_ca", settings.client_ca);
  map.read_bool("require_client_cert", settings.require_client_cert);
  map.read_choice("min_version", settings.min_version, tls::kMinVersions);
  map.read_string("ciphers", settings.ciphers);
  read_alpn(map, settings.alpn);
  map.read_duration("handshake_timeout", out.handshake_timeout, Duration{1});
  std::string identity;
  if (map.read_choice("identity", identity, tls::kIdentitySources)) {
    const auto* found = std::find(std::begin(tls::kIdentitySources), std::end(tls::kIdentitySources), identity);
    out.identity = static_cast<tls::IdentitySource>(found - std::begin(tls::kIdentitySources));
  }
  map.read_bool("login_by_certificate", out.login_by_certificate);
  const std::pair<const char*, bool> need_client_ca[] = {{"require_client_cert", settings.require_client_cert},
                                                         {"identity", map.has("identity")},
                                                         {"login_by_certificate", out.login_by_certificate}};
  for (const auto& [key, given] : need_client_ca) {
    if (!given || !settings.client_ca.empty()) continue;
    ctx.error(map.key_line(key), child_path(map.path(), key),
              std::string(key) + " needs client_ca: the CAs whose client certificates are accepted");
    return;
  }
  if (out.login_by_certificate && !has_auth) {
    ctx.error(map.key_line("login_by_certificate"), child_path(map.path(), "login_by_certificate"),
              "login_by_certificate needs the listener's auth: the users a client certificate can name");
    return;
  }
  // No point loading files named by a broken section.
  if (!complete || ctx.messages().size() != problems_before) return;
  std::string error;
  out.context = tls::ServerContext::build(settings, error);
  if (out.context == nullptr) ctx.error(map.line(), map.path(), error);
}

void read_cluster_tls(MapReader& cluster_map, std::string_view alpn, ClusterTlsConfig& out) {
  ReadContext& ctx = cluster_map.context();
  const size_t problems_before = ctx.messages().size();
  auto field = cluster_map.get("tls");
  MapReader map(ctx, *field, "tls", kClusterTlsKeys);
  if (!map.is_map()) return;
  tls::ClientSettings& settings = out.settings;
  map.read_string("ca", settings.ca);
  map.read_bool("verify", settings.verify);
  map.read_string("cert", settings.cert);
  map.read_string("key", settings.key);
  if (map.read_string("server_name", settings.server_name)) {
    const bool printable = std::all_of(settings.server_name.begin(), settings.server_name.end(),
                                       [](char c) { return c > ' ' && c < 0x7f; });
    if (settings.server_name.empty() || settings.server_name.size() > kMaxServerName || !printable)
      ctx.error(map.key_line("server_name"), child_path(map.path(), "server_name"),
                "a server name is a DNS name or an IP address of 1 to 253 printable characters");
  }
  if (settings.cert.empty() != settings.key.empty()) {
    const char* given = settings.cert.empty() ? "key" : "cert";
    ctx.error(map.key_line(given), child_path(map.path(), given),
              "cert and key go together: the client certificate for mutual TLS, and its private key");
  }
  if (ctx.messages().size() != problems_before) return;
  std::string error;
  out.context = tls::ClientContext::build(settings, alpn, error);
  if (out.context == nullptr) ctx.error(map.line(), map.path(), error);
}

}  // namespace rpcgate::conf
