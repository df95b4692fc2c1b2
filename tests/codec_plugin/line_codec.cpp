#include "tests/codec_plugin/line_codec.h"

#include <memory>
#include <string>
#include <string_view>

namespace line_codec {
namespace {

using rpcgate::ErrorCode;
using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using namespace rpcgate::codec;

constexpr size_t kDefaultMaxLine = 4096;

size_t max_line(const CodecOptions& options) { return options.extra.value("max_line_bytes", kDefaultMaxLine); }

// The next line of `input` without its "\n" (and "\r"), and the bytes it took; 0 when incomplete.
size_t next_line(std::string_view input, std::string_view& line) {
  size_t end = input.find('\n');
  if (end == std::string_view::npos) return 0;
  line = input.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return end + 1;
}

class LineServerCodec final : public ServerCodec {
 public:
  explicit LineServerCodec(const CodecOptions& options)
      : max_line_(max_line(options)), greeting_(options.extra.value("greeting", std::string())) {}

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override {
    std::string_view line;
    size_t used = next_line(input, line);
    if (used == 0 || used > max_line_ + 1) {
      if (input.size() <= max_line_ && used == 0) return {DecodeStatus::kNeedMore, 0};
      reply.set_error(ErrorCode::kTooLarge, "line longer than " + std::to_string(max_line_) + " bytes");
      return {DecodeStatus::kBroken, 0};
    }
    if (line.empty()) return {DecodeStatus::kConsumed, used};
    request.params = Json::array();
    size_t start = 0;
    while (start <= line.size()) {
      size_t space = line.find(' ', start);
      if (space == std::string_view::npos) space = line.size();
      std::string word(line.substr(start, space - start));
      if (request.method.empty())
        request.method = std::move(word);
      else
        request.params.push_back(std::move(word));
      start = space + 1;
    }
    return {DecodeStatus::kRequest, used};
  }

  void encode(const Response& response, std::string& out) override {
    if (response.is_error()) {
      out += "-" + std::string(rpcgate::error_code_name(response.error)) + " " + response.message + "\n";
      return;
    }
    out += "+" + response.result.dump() + "\n";
  }

  void take_output(std::string& out) override {
    if (greeting_.empty()) return;
    out += "*" + greeting_ + "\n";
    greeting_.clear();
  }

 private:
  size_t max_line_;
  std::string greeting_;  // until written
};

class LineClientCodec final : public ClientCodec {
 public:
  explicit LineClientCodec(const CodecOptions& options) : max_line_(max_line(options)) {}

  void encode(const Request& request, std::string& out) override {
    out += request.method;
    if (request.params.is_array())
      for (const Json& param : request.params)
        out += " " + (param.is_string() ? param.get<std::string>() : param.dump());
    out += "\n";
  }

  DecodeResult decode(std::string_view input, Response& response) override {
    std::string_view line;
    DecodeResult found = skip(input, response);
    if (found.status != DecodeStatus::kAnswered) return found;
    next_line(input, line);
    if (line.starts_with("*")) return found;  // the server's greeting: a push (is_push)
    if (line.starts_with("+")) {
      response.result = Json::parse(line.substr(1), nullptr, false);
      if (!response.result.is_discarded()) return found;
    } else if (line.starts_with("-")) {
      size_t space = line.find(' ');
      auto code =
          rpcgate::error_code_from_name(line.substr(1, space == std::string_view::npos ? line.npos : space - 1));
      response.set_error(code.value_or(ErrorCode::kUpstreamError),
                         std::string(space == std::string_view::npos ? "" : line.substr(space + 1)));
      return found;
    }
    response.result = nullptr;
    response.set_error(ErrorCode::kUpstreamError, "not an answer line");
    return {DecodeStatus::kBroken, 0};
  }

  // A line the server writes on its own account (its greeting) answers no request.
  bool is_push(std::string_view frame) const override { return frame.starts_with("*"); }

  DecodeResult skip(std::string_view input, Response& error) override {
    std::string_view line;
    size_t used = next_line(input, line);
    if (used != 0 && used <= max_line_ + 1) return {DecodeStatus::kAnswered, used};
    if (used == 0 && input.size() <= max_line_) return {DecodeStatus::kNeedMore, 0};
    error.set_error(ErrorCode::kUpstreamError, "answer line too long");
    return {DecodeStatus::kBroken, 0};
  }

 private:
  size_t max_line_;
};

constexpr uint64_t kMaxLineLimit = 1u << 20;

const CodecOption kOptions[] = {
    {.key = "greeting", .kind = CodecOption::Kind::kString, .side = CodecOption::Side::kListener},
    {.key = "max_line_bytes", .kind = CodecOption::Kind::kSize, .min = 2, .max = kMaxLineLimit},
};

}  // namespace

const CodecInfo kInfo = {
    .name = "line",
    .make_server = [](const CodecOptions& options) -> std::unique_ptr<ServerCodec> {
      return std::make_unique<LineServerCodec>(options);
    },
    .make_client = [](const CodecOptions& options) -> std::unique_ptr<ClientCodec> {
      return std::make_unique<LineClientCodec>(options);
    },
    .options = kOptions,
};

}  // namespace line_codec
