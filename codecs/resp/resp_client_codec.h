// The RESP client codec, towards an upstream Redis: requests become RESP arrays of bulk strings,
// RESP2 replies become responses.
#pragma once

#include <string>
#include <string_view>

#include "codecs/codec.h"
#include "codecs/resp/reply_reader.h"

namespace rpcgate::codec::resp {

class RespClientCodec final : public ClientCodec {
 public:
  explicit RespClientCodec(const CodecOptions& options);

  void encode(const Request& request, std::string& out) override;
  DecodeResult decode(std::string_view input, Response& response) override;
  DecodeResult skip(std::string_view input, Response& error) override;
  std::string connection_preamble() const override;
  void expect_protocol(int version) override { protocol_ = version; }
  bool is_push(std::string_view frame) const override {
    return protocol_ == 3 && !frame.empty() && frame.front() == '>';
  }

 private:
  DecodeResult read_reply(std::string_view input, Response& response, bool build);
  void append_argument(const Json& value, std::string& out);
  DecodeResult broken(ErrorCode code, std::string_view message, Response& response);

  CodecOptions options_;
  ReplyReader reader_;
  int protocol_ = 2;
  bool broken_ = false;
  ErrorCode broken_code_ = ErrorCode::kNone;
  std::string broken_message_;
};

}  // namespace rpcgate::codec::resp
