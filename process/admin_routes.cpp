// The master's admin port: opening it for the current configuration, and what each page answers.
#include <memory>
#include <string>

#include "admin/config_json.h"
#include "admin/metrics.h"
#include "core/log.h"
#include "gateway/stats_json.h"
#include "process/master_internal.h"

namespace rpcgate {

// Opens, moves or closes the admin port for the current configuration. At start-up a port it
// cannot bind is fatal; on a reload the old port stays.
bool Master::configure_admin() {
  const auto& address = config_->admin.address;
  if (!address) {
    if (admin_) LOG_INFO("master: admin port closed");
    admin_.reset();
    admin_address_.clear();
    return true;
  }
  if (admin_ && admin_address_ == address->to_string()) return true;
  if (!admin_)
    admin_ = std::make_unique<admin::AdminServer>([this](const admin::HttpRequest& r) { return serve_admin(r); });
  std::string error;
  if (!admin_->listen(*address, error)) {
    LOG_ERROR("master: admin port: %s", error.c_str());
    return !admin_address_.empty();
  }
  admin_address_ = address->to_string();
  LOG_INFO("master: admin port on http://%s/ (metrics, healthz, readyz, stats, config, drain, reload)",
           admin_address_.c_str());
  return true;
}

// Why the gateway should not get new traffic now, or "" when it should.
std::string Master::not_ready_reason() const {
  if (stopping_) return "draining";
  if (forking()) return "";  // the master itself accepts
  size_t current = 0;
  for (const auto& slot : slots_) {
    if (slot.retiring) continue;
    if (!slot.running() || !slot.ready) return "worker " + std::to_string(slot.index) + " is not serving";
    ++current;
  }
  return current == 0 ? "no worker" : "";
}

admin::HttpResponse Master::serve_admin(const admin::HttpRequest& request) {
  auto answer = [](int status, std::string body, std::string type = "text/plain; charset=utf-8") {
    admin::HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.content_type = std::move(type);
    return response;
  };
  auto json = [&](int status, const Json& value) { return answer(status, value.dump(2) + "\n", "application/json"); };
  bool read = request.method == "GET" || request.method == "HEAD";
  bool post = request.method == "POST";
  const std::string& path = request.path;
  bool known_get = path == "/" || path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/stats" ||
                   path == "/clusters" || path == "/config";
  bool known_post = path == "/drain" || path == "/reload";
  if (!known_get && !known_post) return answer(404, "no such page: " + path + " (GET / lists them)\n");
  if (known_get && !read) return answer(405, path + " answers GET\n");
  if (known_post && !post) return answer(405, path + " answers POST\n");
  if (path == "/healthz") return answer(200, "ok\n");
  if (path == "/readyz") {
    std::string why = not_ready_reason();
    return why.empty() ? answer(200, "ready\n") : answer(503, "not ready: " + why + "\n");
  }
  if (path == "/metrics")
    return answer(200, render_metrics(*config_, *stats_), "text/plain; version=0.0.4; charset=utf-8");
  if (path == "/stats") return json(200, stats_json(*config_, *stats_));
  if (path == "/clusters") return json(200, clusters_json(*stats_));
  if (path == "/config") return json(200, config_json(*config_));
  if (path == "/drain") {
    LOG_INFO("master: POST /drain");
    begin_stop(SIGTERM);
    return answer(202, "draining\n");
  }
  if (path == "/reload") {
    LOG_INFO("master: POST /reload");
    ReloadOutcome outcome = reload();
    if (outcome.applied) return json(200, {{"reloaded", true}, {"message", outcome.message}});
    return json(400, {{"reloaded", false}, {"error", outcome.message}});
  }
  return answer(200, "rpcgate " RPCGATE_VERSION
                     " admin\n"
                     "GET  /metrics   Prometheus text\n"
                     "GET  /healthz   200 while alive\n"
                     "GET  /readyz    200 when every worker serves and no drain has begun, else 503\n"
                     "GET  /stats     the figures as JSON\n"
                     "GET  /clusters  each upstream endpoint's health, pending calls and connections, per worker\n"
                     "GET  /config    the effective configuration, secrets redacted\n"
                     "POST /drain     drain, like SIGTERM\n"
                     "POST /reload    reload, like SIGHUP\n");
}

}  // namespace rpcgate
