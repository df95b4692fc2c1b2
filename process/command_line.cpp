// rpcgate's command line: parse options, load and check the config, run the chosen process model.
#include "process/command_line.h"

#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "admin/config_json.h"
#include "codecs/codec.h"
#include "core/log.h"
#include "gateway/handler_registry.h"
#include "process/config_check.h"
#include "process/master.h"
#include "process/serve.h"
#include "process/signal_command.h"
#include "process/systemd_notify.h"

namespace {

constexpr const char* kDefaultConfig = "conf/rpcgate.yaml";
// Where `cmake --install` (and the Debian package) puts the binary and its configuration.
constexpr const char* kInstalledBinary = RPCGATE_INSTALLED_BINARY;
constexpr const char* kInstalledConfig = RPCGATE_INSTALLED_CONFIG;

void print_usage(FILE* out) {
  std::fprintf(out,
               "Usage: rpcgate [-c FILE] [-t | -T | -s SIGNAL] [-l LEVEL]\n"
               "\n"
               "A protocol-agnostic RPC gateway: serves the JSON length-prefixed, RESP and protobuf\n"
               "protocols on the listeners of FILE and routes each call to an in-process handler or to an\n"
               "upstream cluster of any codec (a Redis, legacy JSON services, another rpcgate):\n"
               "docs/upstreams.md; example files in conf/examples/.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE     configuration file. Default: %s when run as the\n"
               "                        installed %s; otherwise %s in the current\n"
               "                        directory, or the one in ../conf/ beside the binary\n"
               "  -t, --test            check the configuration and exit: 0 when it is valid\n"
               "  -T, --dump            check the configuration, print it as it is in effect (every\n"
               "                        default filled in, secrets redacted) and exit; printed as\n"
               "                        JSON, which is also YAML\n"
               "  -s, --signal SIGNAL   signal the running master through the configuration's\n"
               "                        process.pid_file, and exit: reload (SIGHUP: re-read the file),\n"
               "                        stop (SIGTERM: drain and exit), reopen (SIGUSR1: reopen the logs)\n"
               "  -l, --log-level LEVEL debug, info, warn or error (overrides logging.level)\n"
               "  -h, --help            show this help and exit\n"
               "  -v, --version         show the version and exit\n"
               "\n"
               "Signals: SIGTERM/SIGINT drain and exit (a second one exits at once); SIGHUP reloads FILE\n"
               "(every model but single); SIGUSR1 reopens the log file.\n"
               "Codecs: %s. Handlers:",
               kInstalledConfig, kInstalledBinary, kDefaultConfig, rpcgate::codec::codec_names().c_str());
  for (const auto& entry : rpcgate::HandlerRegistry::standard().entries())
    std::fprintf(out, "\n  %-8s %s", entry.name.c_str(), entry.summary.c_str());
  std::fprintf(out, "\nDocumentation: README.md and docs/ in the source tree.\n");
}

// The installed binary reads the installed file wherever it is started from, as nginx does, so
// that `rpcgate -s reload` needs no -c; a binary in a build tree reads the tree's.
std::string default_config_path(const char* argv0) {
  std::error_code ignored;
  auto exe = std::filesystem::canonical("/proc/self/exe", ignored);
  if (ignored) exe = std::filesystem::path(argv0);
  if (exe == kInstalledBinary) return kInstalledConfig;
  if (std::filesystem::exists(kDefaultConfig)) return kDefaultConfig;
  auto beside = exe.parent_path().parent_path() / kDefaultConfig;
  return std::filesystem::exists(beside) ? beside.string() : kDefaultConfig;
}

}  // namespace

int rpcgate::run_command_line(int argc, char** argv) {
  std::string config_path;
  std::string log_level;
  bool test_only = false;
  bool dump = false;
  std::string signal_name;
  const option long_options[] = {{"config", required_argument, nullptr, 'c'},
                                 {"test", no_argument, nullptr, 't'},
                                 {"dump", no_argument, nullptr, 'T'},
                                 {"signal", required_argument, nullptr, 's'},
                                 {"log-level", required_argument, nullptr, 'l'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {"version", no_argument, nullptr, 'v'},
                                 {nullptr, 0, nullptr, 0}};
  int option_char;
  while ((option_char = getopt_long(argc, argv, "c:tTs:l:hv", long_options, nullptr)) != -1) {
    switch (option_char) {
      case 'c':
        config_path = optarg;
        break;
      case 't':
        test_only = true;
        break;
      case 'T':
        dump = true;
        break;
      case 's':
        signal_name = optarg;
        break;
      case 'l':
        log_level = optarg;
        break;
      case 'h':
        print_usage(stdout);
        return 0;
      case 'v':
        std::printf("rpcgate %s\n", RPCGATE_VERSION);
        return 0;
      default:
        print_usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "rpcgate: unexpected argument '%s'\n", argv[optind]);
    print_usage(stderr);
    return 2;
  }
  if (test_only + dump + !signal_name.empty() > 1) {
    std::fprintf(stderr, "rpcgate: -t, -T and -s exclude one another\n");
    return 2;
  }
  int signum = 0;
  if (!signal_name.empty()) {
    std::string error;
    signum = rpcgate::signal_for_command(signal_name, error);
    if (signum == 0) {
      std::fprintf(stderr, "rpcgate: -s: %s\n", error.c_str());
      return 2;
    }
  }
  if (config_path.empty()) config_path = default_config_path(argv[0]);
  // Read before anything else runs: the workers forked later must not inherit it.
  rpcgate::SystemdNotifier notifier = rpcgate::SystemdNotifier::from_environment();

  rpcgate::conf::Config config;
  std::string error;
  if (!rpcgate::load_checked_config(config_path, config, error)) {
    std::fprintf(stderr, "rpcgate: invalid configuration:\n%s\n", error.c_str());
    return 1;
  }
  if (test_only) {
    rpcgate::BindCheck addresses = rpcgate::check_addresses(config);
    for (const auto& note : addresses.notes) std::fprintf(stderr, "rpcgate: note: %s\n", note.c_str());
    if (!addresses.problems.empty()) {
      std::fprintf(stderr, "rpcgate: invalid configuration:\n");
      for (const auto& problem : addresses.problems) std::fprintf(stderr, "%s\n", problem.c_str());
      return 1;
    }
    std::printf("rpcgate: configuration %s is valid\n", config_path.c_str());
    return 0;
  }
  if (dump) {
    std::printf("%s\n", rpcgate::config_json(config).dump(2).c_str());
    return 0;
  }
  if (signum != 0) return rpcgate::signal_master(config, signal_name, signum);

  rpcgate::LogLevel level;
  const std::string& level_name = log_level.empty() ? config.logging.level : log_level;
  if (!rpcgate::parse_log_level(level_name, level)) {
    std::fprintf(stderr, "rpcgate: unknown log level '%s'; expected debug, info, warn or error\n", level_name.c_str());
    return 2;
  }
  rpcgate::set_log_level(level);
  if (!rpcgate::set_log_file(config.logging.file)) {
    std::fprintf(stderr, "rpcgate: cannot open log file %s\n", config.logging.file.c_str());
    return 1;
  }
  LOG_INFO("configuration %s loaded", config_path.c_str());
  if (config.process.model == rpcgate::conf::ProcessModel::kSingle) {
    rpcgate::ServeOptions options;
    options.notifier = &notifier;
    return rpcgate::serve(config, options);
  }
  return rpcgate::run_master(config_path, std::move(config), std::move(notifier));
}
