#include "admin/config_json.h"

#include "conf/scalars.h"

namespace rpcgate {
namespace {

Json duration(conf::Duration value) { return conf::format_duration(value); }

Json address(const conf::Address& value) { return value.to_string(); }

Json addresses(const std::vector<conf::Address>& values) {
  Json out = Json::array();
  for (const auto& value : values) out.push_back(address(value));
  return out;
}

// The limits every codec shares, then the options the codec declares for this side (listener
// or cluster), as the codec shows them.
Json codec_settings(const std::string& name, const codec::CodecOptions& options, codec::CodecOption::Side side) {
  const auto& limits = options.limits;
  Json out = {{"codec", name},
              {"max_frame_bytes", limits.max_frame_bytes},
              {"max_request_bytes", limits.max_request_bytes},
              {"max_elements", limits.max_elements},
              {"max_depth", limits.max_depth},
              {"max_inline_bytes", limits.max_inline_bytes}};
  const codec::CodecInfo* info = codec::find_codec(name);
  if (info == nullptr) return out;
  for (const codec::CodecOption& option : info->options) {
    if (option.side != codec::CodecOption::Side::kBoth && option.side != side) continue;
    if (option.show == nullptr && option.apply != nullptr) continue;  // a limit, shown above
    const std::string key(option.key);
    Json value = option.show != nullptr ? option.show(options) : options.extra.value(key, Json());
    if (!value.is_null()) out[key] = std::move(value);
  }
  return out;
}

Json route_json(const conf::RouteConfig& route) {
  Json match;
  switch (route.kind) {
    case conf::RouteConfig::MatchKind::kMethods:
      match = {{"methods", route.methods}};
      break;
    case conf::RouteConfig::MatchKind::kPrefix:
      match = {{"prefix", route.pattern}};
      break;
    case conf::RouteConfig::MatchKind::kGlob:
      match = {{"glob", route.pattern}};
      break;
  }
  if (!route.client_identities.empty()) match["client_identity"] = route.client_identities;
  Json out = {{"match", std::move(match)}, {"retries", route.retries}, {"idempotent", route.idempotent}};
  if (!route.handler.empty()) out["handler"] = route.handler;
  if (!route.cluster.empty()) out["cluster"] = route.cluster;
  if (!route.rename.empty()) out["rename"] = route.rename;
  if (!route.answer_kind.empty()) out["kind"] = route.answer_kind;
  if (route.timeout) out["timeout"] = duration(*route.timeout);
  return out;
}

Json cluster_json(const conf::ClusterConfig& cluster) {
  Json out = codec_settings(cluster.codec, cluster.codec_options, codec::CodecOption::Side::kCluster);
  out["name"] = cluster.name;
  if (cluster.zookeeper_path.empty())
    out["endpoints"] = addresses(cluster.endpoints);
  else
    out["discovery"] = {{"zookeeper", {{"path", cluster.zookeeper_path}, {"prefix", cluster.zookeeper_prefix}}}};
  out.update({{"load_balancer", cluster.load_balancer},
              {"max_connections", cluster.max_connections},
              {"pipeline_depth", cluster.pipeline_depth},
              {"max_pending", cluster.max_pending},
              {"max_pinned", cluster.max_pinned},
              {"connect_timeout", duration(cluster.connect_timeout)},
              {"request_timeout", duration(cluster.request_timeout)},
              {"retries", cluster.retries},
              {"outlier",
               {{"consecutive_failures", cluster.outlier.consecutive_failures},
                {"base_ejection", duration(cluster.outlier.base_ejection)},
                {"max_ejection", duration(cluster.outlier.max_ejection)}}}});
  if (!cluster.hash_key.empty()) out["hash_key"] = cluster.hash_key;
  const auto& check = cluster.health_check;
  if (!check.method.empty())
    out["health_check"] = {{"method", check.method},
                           {"interval", duration(check.interval)},
                           {"timeout", duration(check.timeout)},
                           {"healthy_threshold", check.healthy_threshold},
                           {"unhealthy_threshold", check.unhealthy_threshold}};
  if (cluster.tls) {
    // File names only: what a file holds (a key) never leaves the process.
    const auto& tls = cluster.tls->settings;
    out["tls"] = {{"verify", tls.verify}};
    if (!tls.ca.empty()) out["tls"]["ca"] = tls.ca;
    if (!tls.server_name.empty()) out["tls"]["server_name"] = tls.server_name;
    if (!tls.cert.empty()) out["tls"]["cert"] = tls.cert;
    if (!tls.key.empty()) out["tls"]["key"] = tls.key;
  }
  return out;
}

}  // namespace

Json config_json(const conf::Config& config) {
  Json listeners = Json::array();
  for (const auto& listener : config.listeners) {
    Json out = codec_settings(listener.codec, listener.codec_options, codec::CodecOption::Side::kListener);
    out.update({{"name", listener.name},
                {"address", address(listener.address)},
                {"max_connections", listener.max_connections},
                {"idle_timeout", duration(listener.idle_timeout)},
                {"max_pipeline", listener.max_pipeline},
                {"output_high_water", listener.output_high_water},
                {"output_limit", listener.output_limit}});
    if (listener.auth) {
      const auto& auth = *listener.auth;
      out["auth"] = {{"users", auth.user_names}};  // names only: the passwords stay where they came from
      if (!auth.users_file.empty()) out["auth"]["users_file"] = auth.users_file;
      if (!auth.users_env.empty()) out["auth"]["users_env"] = auth.users_env;
    }
    if (listener.tls) {
      // File names only: the key's bytes never leave the context they were loaded into.
      const auto& tls = listener.tls->settings;
      out["tls"] = {{"cert", tls.cert},
                    {"key", tls.key},
                    {"require_client_cert", tls.require_client_cert},
                    {"min_version", tls.min_version},
                    {"alpn", tls.alpn},
                    {"handshake_timeout", duration(listener.tls->handshake_timeout)}};
      if (!tls.client_ca.empty()) {
        out["tls"]["client_ca"] = tls.client_ca;
        out["tls"]["identity"] = std::string(tls::kIdentitySources[static_cast<size_t>(listener.tls->identity)]);
        out["tls"]["login_by_certificate"] = listener.tls->login_by_certificate;
      }
      if (!tls.ciphers.empty()) out["tls"]["ciphers"] = tls.ciphers;
    }
    listeners.push_back(std::move(out));
  }
  Json routes = Json::array();
  for (const auto& route : config.routes) routes.push_back(route_json(route));
  Json clusters = Json::array();
  for (const auto& cluster : config.clusters) clusters.push_back(cluster_json(cluster));
  Json registrations = Json::array();
  for (const auto& registration : config.zookeeper.registrations)
    registrations.push_back(
        {{"path", registration.path}, {"listener", registration.listener}, {"advertise", registration.advertise}});
  Json admin = {{"latency_histograms", config.admin.latency_histograms}};
  if (config.admin.address) admin["address"] = address(*config.admin.address);
  return {
      {"path", config.path},
      {"process",
       {{"model", conf::to_string(config.process.model)},
        {"workers", config.process.workers},
        {"drain_timeout", duration(config.process.drain_timeout)},
        {"pid_file", config.process.pid_file}}},
      {"listeners", std::move(listeners)},
      {"admin", std::move(admin)},
      {"handlers", {{"enable", config.handlers.enabled}, {"pi_max_terms", config.handlers.pi_max_terms}}},
      {"routes", std::move(routes)},
      {"clusters", std::move(clusters)},
      {"logging",
       {{"level", config.logging.level},
        {"file", config.logging.file},
        {"access_log", config.logging.access_log},
        {"access_log_file", config.logging.access_log_file},
        {"access_log_sample", config.logging.access_log_sample}}},
      {"zookeeper",
       {{"servers", addresses(config.zookeeper.servers)},
        {"session_timeout", duration(config.zookeeper.session_timeout)},
        {"chroot", config.zookeeper.chroot},
        {"register", std::move(registrations)}}},
  };
}

}  // namespace rpcgate
