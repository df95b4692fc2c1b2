// pi: the legacy services' CPU-heavy example, sqrt(8 * sum_{i=0..n} 1/(2i+1)^2). It runs on the
// thread pool so a large n never stalls the event loop; n is bounded by handlers.pi_max_terms.
#include <cmath>
#include <string>

#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {

double legacy_pi(int64_t n) {
  // Two divisions, in this order, as the legacy Python does (`1.0/(2*i+1)/(2*i+1)`): dividing by
  // the square instead rounds differently and the answers would not match value for value.
  double sum = 0.0;
  for (int64_t i = 0; i <= n; ++i) {
    double odd = 2.0 * static_cast<double>(i) + 1.0;
    sum += 1.0 / odd / odd;
  }
  return std::sqrt(8.0 * sum);
}

namespace {

class PiHandler final : public Handler {
 public:
  explicit PiHandler(uint64_t max_terms) : max_terms_(max_terms) {}

  bool blocking() const override { return true; }

  void handle(const Request& request, Response& response) const override {
    const Json& n = request.params;
    if (!n.is_number_integer()) {
      response.set_error(ErrorCode::kBadRequest, "pi expects an integer n, got " + n.dump());
      return;
    }
    if (n.is_number_unsigned() ? n.get<uint64_t>() > max_terms_ : n.get<int64_t>() > static_cast<int64_t>(max_terms_)) {
      response.set_error(ErrorCode::kBadRequest,
                         "pi: n is above the limit of " + std::to_string(max_terms_) + " (handlers.pi_max_terms)");
      return;
    }
    response.kind = "pi_r";
    response.result = legacy_pi(n.get<int64_t>());
  }

 private:
  uint64_t max_terms_;
};

}  // namespace

std::unique_ptr<Handler> make_pi(const HandlerContext& context) {
  return std::make_unique<PiHandler>(context.config.handlers.pi_max_terms);
}

}  // namespace rpcgate::handlers
