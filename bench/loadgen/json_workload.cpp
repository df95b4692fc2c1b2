// The legacy JSON protocol: one constant request frame, and answers parsed in full the first time
// a body is seen. A body already found good is then recognised by its bytes alone, so the steady
// state is one length check and one memcmp per answer.
#include <array>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/loadgen/workload.h"

namespace rpcgate::loadgen {
namespace {

using Json = nlohmann::json;

constexpr size_t kKnownAnswers = 16;          // distinct good bodies remembered
constexpr size_t kMaxKnownBytes = 64u << 10;  // longer good bodies are parsed every time
constexpr int64_t kDefaultPiTerms = 1000;
constexpr int64_t kMaxPiTerms = 1'000'000'000;  // the expected value is computed here, once

// The legacy services' pi as bench/legacy_server.py's compute_pi writes it, two divisions in this
// order: rpcgate must answer this exact double. Written again here on purpose, from the Python:
// checking answers against the server's own function would prove nothing.
double legacy_pi(int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i <= n; ++i) sum += 1.0 / static_cast<double>(2 * i + 1) / static_cast<double>(2 * i + 1);
  return std::sqrt(8 * sum);
}

// nlohmann's parser is iterative; its DOM builder is not bounded in depth. Containers deeper than
// rpcgate's own limit (inside the envelope) are left out, so a hostile answer cannot make a deep
// tree, and an answer that had one no longer equals what was expected. `too_deep` says so.
Json parse_bounded(std::string_view text, bool& too_deep) {
  too_deep = false;
  auto bound = [&too_deep](int depth, Json::parse_event_t event, Json&) {
    bool opens = event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
    if (opens && depth > static_cast<int>(kMaxParamsDepth) + 1) too_deep = true;
    return !too_deep;
  };
  return Json::parse(text.begin(), text.end(), bound, /*allow_exceptions=*/false);
}

class JsonWorkload final : public Workload {
 public:
  JsonWorkload(std::string_view method, std::string_view params_text, Json expected_result, std::string expected_out)
      : expected_out_(std::move(expected_out)),
        wrong_out_("\"out\" is not \"" + expected_out_ + "\""),
        expected_result_(std::move(expected_result)) {
    std::string body = R"({"in":")" + std::string(method) + R"(","params":)" + std::string(params_text) + "}";
    frame_.resize(4);
    auto length = static_cast<uint32_t>(body.size());
    for (size_t i = 0; i < 4; ++i) frame_[i] = static_cast<char>((length >> (8 * i)) & 0xff);  // little-endian
    frame_ += body;
  }

  size_t max_request_bytes() const override { return frame_.size(); }

  size_t write(uint64_t, InFlightRequest&, char* out) override {
    std::memcpy(out, frame_.data(), frame_.size());
    return frame_.size();
  }

  Checked check(std::string_view input, const InFlightRequest*) override {
    if (input.size() < 4) return {};
    uint32_t length = 0;
    for (size_t i = 0; i < 4; ++i) length |= static_cast<uint32_t>(static_cast<unsigned char>(input[i])) << (8 * i);
    if (length > kMaxFrameBytes) return {Verdict::kBroken, 0, 0, "length prefix above 16 MiB"};
    if (input.size() - 4 < length) return {};
    std::string_view body = input.substr(4, length);
    size_t consumed = 4 + static_cast<size_t>(length);
    for (size_t i = 0; i < known_count_; ++i)
      if (known_[i] == body) return {Verdict::kGood, consumed, 0, {}};
    if (std::string_view why = judge(body); !why.empty()) return {Verdict::kBad, consumed, 0, why};
    if (known_count_ < kKnownAnswers && body.size() <= kMaxKnownBytes) known_[known_count_++] = body;
    return {Verdict::kGood, consumed, 0, {}};
  }

 private:
  // What is wrong with an answer, or nothing.
  std::string_view judge(std::string_view body) const {
    bool too_deep = false;
    Json answer = parse_bounded(body, too_deep);
    if (too_deep) return "answer nested deeper than 64";
    if (answer.is_discarded()) return "answer is not valid JSON";
    if (!answer.is_object()) return "answer is not a JSON object";
    if (answer.contains("error")) return "answer has an \"error\" key";
    auto out = answer.find("out");
    if (out == answer.end() || !out->is_string()) return "answer has no string \"out\"";
    if (*out == "error") return "error answer";
    if (*out != expected_out_) return wrong_out_;
    auto result = answer.find("result");
    if (result == answer.end()) return "answer has no \"result\"";
    if (*result != expected_result_) return "\"result\" is not the expected value";
    return {};
  }

  std::string frame_;
  std::string expected_out_;
  std::string wrong_out_;  // judge()'s reason, kept here because it returns a view
  Json expected_result_;
  std::array<std::string, kKnownAnswers> known_;
  size_t known_count_ = 0;
};

}  // namespace

std::unique_ptr<Workload> make_json_workload(const Options& options, std::string& error) {
  bool pi = options.command == Command::kPi;
  std::string text = options.params.value_or(pi ? std::to_string(kDefaultPiTerms) : "null");
  bool too_deep = false;
  Json params = parse_bounded(text, too_deep);
  if (too_deep || params.is_discarded()) {
    error = too_deep ? "--params is nested deeper than 64" : "--params is not valid JSON: " + text.substr(0, 200);
    return nullptr;
  }
  if (text.size() > kMaxFrameBytes - 64) {
    error = "--params is longer than 16 MiB";
    return nullptr;
  }
  std::string out = options.out.value_or(pi ? "pi_r" : "pong");
  if (!pi) return std::make_unique<JsonWorkload>("ping", text, std::move(params), std::move(out));
  if (!params.is_number_integer() || (params.is_number_unsigned() && params.get<uint64_t>() > kMaxPiTerms) ||
      params.get<int64_t>() > kMaxPiTerms) {
    error = "--command pi needs an integer --params n up to " + std::to_string(kMaxPiTerms) + ", got " +
            text.substr(0, 200);
    return nullptr;
  }
  return std::make_unique<JsonWorkload>("pi", text, Json(legacy_pi(params.get<int64_t>())), std::move(out));
}

}  // namespace rpcgate::loadgen
