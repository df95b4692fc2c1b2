// info and stats: the process's counters, as Redis-style INFO text (sections of key:value lines,
// what redis-cli and monitoring scripts parse) and as a JSON object.
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

uint64_t now_unix_ms() {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + now.tv_usec / 1000;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

class InfoHandler final : public Handler {
 public:
  explicit InfoHandler(const HandlerContext& context) : config_(context.config), stats_(context.stats) {}

  void handle(const Request& request, Response& response) const override {
    std::string wanted = request.params.is_string() ? lower(request.params.get<std::string>()) : "all";
    bool all = wanted == "all" || wanted == "default" || wanted == "everything";
    std::string text;
    if (all || wanted == "server") append_server(text);
    if (all || wanted == "clients") append_clients(text);
    if (all || wanted == "stats") append_stats(text);
    if (all || wanted == "errorstats") append_errors(text);
    response.kind = "info";
    response.result = std::move(text);
  }

 private:
  static void line(std::string& text, std::string_view key, uint64_t value) {
    text.append(key).append(":").append(std::to_string(value)).append("\r\n");
  }

  void append_server(std::string& text) const {
    text += "# Server\r\nrpcgate_version:" RPCGATE_VERSION "\r\n";
    text += "process_model:" + config_.process.model + "\r\n";
    line(text, "process_id", static_cast<uint64_t>(getpid()));
    line(text, "uptime_in_seconds", (now_unix_ms() - stats_.started_unix_ms) / 1000);
    for (const auto& listener : config_.listeners)
      text += "listener_" + listener.name + ":address=" + listener.address.to_string() + ",codec=" + listener.codec + "\r\n";
    text += "\r\n";
  }

  void append_clients(std::string& text) const {
    text += "# Clients\r\n";
    line(text, "connected_clients", stats_.connections_active);
    text += "\r\n";
  }

  void append_stats(std::string& text) const {
    text += "# Stats\r\n";
    line(text, "total_connections_received", stats_.connections_accepted);
    line(text, "total_commands_processed", stats_.requests);
    line(text, "rejected_connections", stats_.connections_rejected);
    line(text, "idle_closed_connections", stats_.connections_idle_closed);
    line(text, "output_overflow_disconnections", stats_.connections_output_overflow);
    line(text, "protocol_errors", stats_.protocol_errors);
    line(text, "total_net_input_bytes", stats_.bytes_in);
    line(text, "total_net_output_bytes", stats_.bytes_out);
    text += "\r\n";
  }

  void append_errors(std::string& text) const {
    text += "# Errorstats\r\n";
    for (size_t code = 1; code < stats_.errors_by_code.size(); ++code)
      line(text, "errorstat_" + std::string(error_code_name(static_cast<ErrorCode>(code))),
           stats_.errors_by_code[code]);
    text += "\r\n";
  }

  const conf::Config& config_;
  const Stats& stats_;
};

class StatsHandler final : public Handler {
 public:
  explicit StatsHandler(const HandlerContext& context) : stats_(context.stats) {}

  void handle(const Request&, Response& response) const override {
    Json errors = Json::object();
    for (size_t code = 1; code < stats_.errors_by_code.size(); ++code)
      errors[std::string(error_code_name(static_cast<ErrorCode>(code)))] = stats_.errors_by_code[code];
    response.kind = "stats";
    response.result = {
        {"uptime_ms", now_unix_ms() - stats_.started_unix_ms},
        {"connections", {{"active", stats_.connections_active},
                         {"accepted", stats_.connections_accepted},
                         {"rejected", stats_.connections_rejected},
                         {"idle_closed", stats_.connections_idle_closed},
                         {"output_overflow", stats_.connections_output_overflow}}},
        {"requests", stats_.requests},
        {"protocol_errors", stats_.protocol_errors},
        {"errors", std::move(errors)},
        {"bytes_in", stats_.bytes_in},
        {"bytes_out", stats_.bytes_out},
    };
  }

 private:
  const Stats& stats_;
};

}  // namespace

std::unique_ptr<Handler> make_info(const HandlerContext& context) { return std::make_unique<InfoHandler>(context); }
std::unique_ptr<Handler> make_stats(const HandlerContext& context) { return std::make_unique<StatsHandler>(context); }

}  // namespace rpcgate::handlers
