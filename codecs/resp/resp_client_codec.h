// The RESP client codec, towards an upstream Redis: requests become RESP arrays of bulk strings,
// RESP2 replies become responses.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "codecs/codec.h"
#include "codecs/resp/reply_reader.h"
#include "codecs/resp/resp3_frame.h"
#include "codecs/resp/resp_sharding.h"

namespace rpcgate::codec::resp {

class RespClientCodec final : public ClientCodec {
 public:
  explicit RespClientCodec(const CodecOptions& options);

  void encode(const Request& request, std::string& out) override;
  DecodeResult decode(std::string_view input, Response& response) override;
  DecodeResult skip(std::string_view input, Response& error) override;
  DecodeResult discard(std::string_view input, Response& error) override;
  std::string connection_preamble() const override;
  // READONLY on every connection of a Redis Cluster read from its replicas: a replica then serves
  // its master's reads, and a master ignores it (roles change at a failover).
  std::string connection_setup() const override {
    return reads_from_replicas(options_) ? std::string("*1\r\n$8\r\nREADONLY\r\n") : std::string();
  }
  bool shareable(const Request& request) const override;
  // RESP2 has no `>` type: such a frame comes only from a connection a RESP3 client switched.
  bool is_push(std::string_view frame) const override { return !frame.empty() && frame.front() == '>'; }
  // A cluster with redis_cluster: true, whose endpoints are a Redis Cluster's seeds.
  Sharding* sharding() override { return sharding_.get(); }

 private:
  void append_argument(const Json& value, std::string& out);
  DecodeResult read_reply(std::string_view input, Response& response, bool build);
  DecodeResult oversized(const std::string& message, Response& error);
  DecodeResult broken(ErrorCode code, std::string_view message, Response& response);

  CodecOptions options_;
  ReplyReader reader_;
  Resp3Scanner scanner_;  // skip(): RESP2 or RESP3, as deep as the upstream nests
  bool broken_ = false;
  ErrorCode broken_code_ = ErrorCode::kNone;
  std::string broken_message_;
  std::unique_ptr<RespSharding> sharding_;
};

}  // namespace rpcgate::codec::resp
