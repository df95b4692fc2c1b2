// The C++ gRPC server of the book's pi.proto (conf/examples/pi.proto): the fast peer and upstream
// of bench/run.py's grpc section. Built only where libgrpc++ is installed (bench/CMakeLists.txt).
//
// Why it is a fair peer: it is gRPC's own C++ server with its defaults, on the callback API, which
// gRPC recommends for new servers; a unary call is answered on the thread that read it, with no
// hand-off, as rpcgate answers a call. gRPC sizes its own polling and executor threads from the
// CPU count, and rpcgate (model single) has its loop and a thread pool for pi: both may use every
// core, and the benchmark compares CPU per request, which counts every thread of each.
//
//   rpcgate-grpc-pi-server --port 0     # listens on 127.0.0.1; prints "listening on 127.0.0.1:PORT"
#include <grpcpp/grpcpp.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "pi.grpc.pb.h"

namespace {

// The largest n answered, as rpcgate's handlers.pi_max_terms by default: it bounds one call's CPU.
constexpr int32_t kMaxTerms = 100'000'000;

// The legacy services' pi as bench/legacy_server.py's compute_pi writes it: two divisions in this
// order, so that the answer is the same double as the legacy service's and rpcgate's. Written again
// from the Python on purpose (as bench/loadgen does): the benchmark checks that they agree before
// it measures, which proves something only if they were not copied from each other.
double legacy_pi(int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i <= n; ++i) sum += 1.0 / static_cast<double>(2 * i + 1) / static_cast<double>(2 * i + 1);
  return std::sqrt(8 * sum);
}

class PiCalculator final : public pi::PiCalculator::CallbackService {
  grpc::ServerUnaryReactor* Calc(grpc::CallbackServerContext* context, const pi::PiRequest* request,
                                 pi::PiResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->n() > kMaxTerms) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "n is above the limit of " + std::to_string(kMaxTerms)));
      return reactor;
    }
    response->set_value(legacy_pi(request->n()));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int usage(const char* why) {
  std::fprintf(stderr, "rpcgate-grpc-pi-server: %s\nusage: rpcgate-grpc-pi-server --port P   (0: any free port)\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = -1;
  if (argc == 3 && std::strcmp(argv[1], "--port") == 0) {
    std::string_view text = argv[2];
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 0 || port > 65535) port = -1;
  }
  if (port < 0) return usage("needs --port P, P from 0 to 65535");

  PiCalculator service;
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) return usage(("cannot listen on 127.0.0.1:" + std::to_string(port)).c_str());
  // The benchmark waits for this line; SIGTERM (its stop) ends the process.
  std::fprintf(stderr, "rpcgate-grpc-pi-server listening on 127.0.0.1:%d\n", bound_port);
  std::fflush(stderr);
  server->Wait();
  return 0;
}
