// The `tls:` sections of listeners and clusters (docs/tls.md): the settings, checked, and the
// OpenSSL context built from them when the configuration is loaded, so that a bad certificate
// stops start-up, `rpcgate -t` and a reload with the file and OpenSSL's reason.
#pragma once

#include "conf/config.h"
#include "conf/yaml_reader.h"

namespace rpcgate::conf {

// `has_auth`: the listener has users, which login_by_certificate needs.
void read_listener_tls(MapReader& listener_map, bool has_auth, ListenerTlsConfig& out);
// `alpn`: the protocol the cluster's codec negotiates over TLS ("h2"), or "".
void read_cluster_tls(MapReader& cluster_map, std::string_view alpn, ClusterTlsConfig& out);

}  // namespace rpcgate::conf
