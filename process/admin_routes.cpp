// The master's admin port: opening it for the current configuration, and what each page answers.
// Every page is one row of admin_pages(): the dispatch, the 404 and 405 answers, the plain-text
// list (GET /help) and the start-up log line all read that table, so none can leave a page out.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/config_json.h"
#include "admin/metrics.h"
#include "admin/server_views.h"
#include "admin/status_page.h"
#include "core/log.h"
#include "gateway/stats_json.h"
#include "process/control_channel.h"
#include "process/master_internal.h"

namespace rpcgate {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;

// A reason an operator gives POST /healthcheck/fail is logged and shown by /readyz: one line of
// printable ASCII, bounded, so it cannot forge log lines or grow without limit.
constexpr size_t kMaxReasonBytes = 200;

HttpResponse answer(int status, std::string body, std::string type = "text/plain; charset=utf-8") {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(type);
  return response;
}

HttpResponse json(int status, const Json& value) { return answer(status, value.dump(2) + "\n", "application/json"); }

std::string printable_line(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxReasonBytes)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A value from the query, or else from a form body (`curl -d level=debug`).
std::optional<std::string> parameter(const HttpRequest& request, std::string_view name) {
  if (auto value = admin::query_value(request.query, name)) return value;
  return admin::query_value(request.body, name);
}

}  // namespace

struct Master::AdminPage {
  std::string_view path;
  bool post;  // POST only; otherwise GET (and HEAD)
  std::string_view summary;
  HttpResponse (*serve)(Master& master, const HttpRequest& request);
};

const std::vector<Master::AdminPage>& Master::admin_pages() {
  static const std::vector<AdminPage> kPages = {
      {"/", false, "the status page (HTML), refreshing itself from /stats, /clusters and /listeners",
       [](Master&, const HttpRequest&) {
         return answer(200, std::string(admin::status_page_html()), "text/html; charset=utf-8");
       }},
      {"/help", false, "this list, as plain text",
       [](Master&, const HttpRequest&) { return answer(200, page_list()); }},
      {"/metrics", false, "Prometheus text",
       [](Master& m, const HttpRequest&) {
         return answer(200, render_metrics(*m.config_, *m.stats_), "text/plain; version=0.0.4; charset=utf-8");
       }},
      {"/healthz", false, "200 while alive", [](Master&, const HttpRequest&) { return answer(200, "ok\n"); }},
      {"/readyz", false,
       "200 when every worker serves, no drain has begun and no POST /healthcheck/fail holds; else 503",
       [](Master& m, const HttpRequest&) {
         std::string why = m.not_ready_reason();
         return why.empty() ? answer(200, "ready\n") : answer(503, "not ready: " + why + "\n");
       }},
      {"/stats", false, "the figures as JSON",
       [](Master& m, const HttpRequest&) { return json(200, stats_json(*m.config_, *m.stats_)); }},
      {"/clusters", false, "each upstream endpoint's health, pending calls and connections, per worker",
       [](Master& m, const HttpRequest&) { return json(200, clusters_json(*m.stats_)); }},
      {"/listeners", false, "each listener: address, bound address, codec, connections open",
       [](Master& m, const HttpRequest&) { return json(200, m.listeners_view()); }},
      {"/server_info", false, "version, build, uptime, process model, workers, config file and its hash",
       [](Master& m, const HttpRequest&) { return json(200, m.server_info()); }},
      {"/config", false, "the effective configuration, secrets redacted",
       [](Master& m, const HttpRequest&) { return json(200, config_json(*m.config_)); }},
      {"/logging", false, "the log level now",
       [](Master& m, const HttpRequest&) { return json(200, m.logging_view()); }},
      {"/logging", true, "?level=debug|info|warn|error: set it in the master and every worker until a reload",
       [](Master& m, const HttpRequest& r) { return m.set_logging(r); }},
      {"/healthcheck/fail", true, "[?reason=...] /readyz answers 503 on purpose (maintenance); survives reloads",
       [](Master& m, const HttpRequest& r) { return m.fail_healthcheck(r); }},
      {"/healthcheck/ok", true, "undo /healthcheck/fail",
       [](Master& m, const HttpRequest&) {
         if (m.healthcheck_failure_.empty()) return answer(200, "readyz was not failing on purpose\n");
         LOG_INFO("master: POST /healthcheck/ok: /readyz no longer fails on purpose (it was: %s)",
                  m.healthcheck_failure_.c_str());
         m.healthcheck_failure_.clear();
         m.stats_->master().healthcheck_failed.set(0);
         return answer(200, "readyz no longer fails on purpose\n");
       }},
      {"/drain", true, "drain, like SIGTERM",
       [](Master& m, const HttpRequest&) {
         LOG_INFO("master: POST /drain");
         m.begin_stop(SIGTERM);
         return answer(202, "draining\n");
       }},
      {"/reload", true, "reload, like SIGHUP",
       [](Master& m, const HttpRequest&) {
         LOG_INFO("master: POST /reload");
         ReloadOutcome outcome = m.reload();
         if (outcome.applied) return json(200, {{"reloaded", true}, {"message", outcome.message}});
         return json(400, {{"reloaded", false}, {"error", outcome.message}});
       }},
  };
  return kPages;
}

std::string Master::page_list() {
  std::string text = "rpcgate " RPCGATE_VERSION " admin\n";
  for (const auto& page : admin_pages()) {
    std::string line = std::string(page.post ? "POST " : "GET  ") + std::string(page.path);
    line.resize(std::max<size_t>(line.size() + 2, 24), ' ');
    text += line + std::string(page.summary) + "\n";
  }
  return text;
}

// Opens, moves or closes the admin port for the current configuration. At start-up a port it
// cannot bind is fatal; on a reload the old port stays. Called once per configuration applied
// (start-up and every reload), so it also notes what the admin port reports about that file.
bool Master::configure_admin() {
  on_config_applied();
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
  std::string paths;
  for (const auto& page : admin_pages()) {
    // A path served by GET and POST is listed once.
    std::string path(page.path.substr(1));
    if (path.empty() || paths.find(" " + path + ",") != std::string::npos) continue;
    paths += " " + path + ",";
  }
  paths.pop_back();
  LOG_INFO("master: admin port on http://%s/ (status page at /;%s)", admin_address_.c_str(), paths.c_str());
  return true;
}

void Master::on_config_applied() {
  config_applied_ = std::chrono::system_clock::now();
  config_fingerprint_ = admin::file_fingerprint(path_);
  // The reload has just set the file's level again (apply_logging): say so, since an operator
  // who raised it to debug may be waiting for lines that now do not come.
  if (log_level_from_admin_) {
    LOG_WARN("master: the log level is the configuration's again (%s); POST /logging had changed it",
             log_level_name(log_level()));
    log_level_from_admin_ = false;
  }
}

// Why the gateway should not get new traffic now, or "" when it should.
std::string Master::not_ready_reason() const {
  if (stopping_) return "draining";
  if (!healthcheck_failure_.empty()) return "failed on purpose by POST /healthcheck/fail: " + healthcheck_failure_;
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
  bool read = request.method == "GET" || request.method == "HEAD";
  bool post = request.method == "POST";
  const AdminPage* allowed = nullptr;
  bool known = false;
  for (const auto& page : admin_pages()) {
    if (page.path != request.path) continue;
    known = true;
    if (page.post ? post : read) allowed = &page;
  }
  if (!known) return answer(404, "no such page: " + request.path + " (GET /help lists them)\n");
  if (allowed == nullptr) {
    std::string methods;
    for (const auto& page : admin_pages()) {
      if (page.path != request.path) continue;
      if (!methods.empty()) methods += " and ";
      methods += page.post ? "POST" : "GET";
    }
    return answer(405, request.path + " answers " + methods + "\n");
  }
  return allowed->serve(*this, request);
}

Json Master::logging_view() const {
  return {{"level", log_level_name(log_level())},
          {"configured", config_->logging.level},
          {"set_by", log_level_from_admin_ ? "POST /logging (until the next reload)" : "the configuration"}};
}

// The master's own level changes here; each worker process hears it over its control channel,
// and a worker forked later (a respawn) inherits the master's level with its memory. Worker
// threads share the master's. A reload sets the file's level again, for every new worker.
admin::HttpResponse Master::set_logging(const admin::HttpRequest& request) {
  auto name = parameter(request, "level");
  LogLevel level;
  if (!name || !parse_log_level(*name, level))
    return answer(400, "expected ?level=debug, info, warn or error" +
                           (name ? ", not '" + printable_line(*name) + "'" : std::string()) + "\n");
  const char* before = log_level_name(log_level());
  // Logged at warn, so that the change shows at every level but error.
  LOG_WARN("master: POST /logging: log level %s (was %s) in the master and every worker, until a reload", name->c_str(),
           before);
  set_log_level(level);
  log_level_from_admin_ = true;
  size_t told = 0;
  for (auto& slot : slots_) {
    if (!slot.running() || (slot.pid > 0 && slot.control < 0)) continue;
    if (slot.pid > 0) {  // a worker thread shares this process's level already
      slot.control_out += control_frame(ControlKind::kLogLevel, *name);
      write_control(slot);
    }
    ++told;
  }
  return json(200, {{"level", *name}, {"previous", before}, {"workers_told", told}});
}

admin::HttpResponse Master::fail_healthcheck(const admin::HttpRequest& request) {
  auto given = admin::query_value(request.query, "reason");
  std::string reason = printable_line(given ? *given : request.body);
  if (reason.empty()) reason = "no reason given";
  LOG_WARN("master: POST /healthcheck/fail: /readyz answers 503 until POST /healthcheck/ok (reason: %s)",
           reason.c_str());
  healthcheck_failure_ = reason;
  stats_->master().healthcheck_failed.set(1);
  return answer(200, "readyz now fails on purpose: " + reason + "\n");
}

Json Master::listeners_view() const {
  std::vector<admin::ListenerView> views;
  for (int fd : fds_in_listener_order()) views.push_back({admin::bound_address(fd)});
  return admin::listeners_json(*config_, *stats_, views, live_stats_slots());
}

// The stats slots of the workers and children alive now: a dead worker's gauges are not zeroed
// until its respawn takes its slot over.
std::vector<size_t> Master::live_stats_slots() const {
  std::vector<size_t> live;
  for (const auto& slot : slots_)
    if (slot.running()) live.push_back(slot.stats_slot);
  for (const auto& [unused, stats_slot] : children_) live.push_back(stats_slot);
  return live;
}

Json Master::server_info() const {
  auto now = std::chrono::system_clock::now();
  auto started =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(stats_->master().started_unix_ms.get()));
  Json workers = Json::array();
  for (const auto& slot : slots_) {
    if (!slot.running()) continue;
    // A worker thread has no pid of its own: its gateway wrote its thread id into its slot.
    uint64_t id = slot.pid > 0 ? static_cast<uint64_t>(slot.pid) : stats_->slot(slot.stats_slot).pid.get();
    workers.push_back({{"index", slot.index},
                       {"generation", slot.generation},
                       {slot.pid > 0 ? "pid" : "thread_id", id},
                       {"ready", slot.ready},
                       {"retiring", slot.retiring}});
  }
  for (const auto& [pid, unused] : children_) workers.push_back({{"connection_child", true}, {"pid", pid}});
  char* real = realpath(path_.c_str(), nullptr);
  std::string absolute = real != nullptr ? real : path_;
  free(real);
  return {
      {"version", RPCGATE_VERSION},
      {"build", admin::build_json()},
      {"pid", static_cast<int>(getpid())},
      {"started", admin::utc_time(started)},
      {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - started).count()},
      {"process_model", conf::to_string(config_->process.model)},
      {"generation", generation_},
      {"workers_configured", forking() ? 0u : worker_count(*config_)},
      {"workers", std::move(workers)},
      {"config",
       {{"path", absolute},
        // Of the file as read when it was applied; "" when it could not be read again.
        {"fnv1a64", config_fingerprint_},
        {"loaded", admin::utc_time(config_applied_)},
        {"reloads", stats_->master().reloads.get()}}},
      {"log_level", log_level_name(log_level())},
      {"ready", not_ready_reason().empty()},
  };
}

}  // namespace rpcgate
