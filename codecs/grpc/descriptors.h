// The protobuf descriptors a gRPC listener or cluster translates calls with: FileDescriptorSet files loaded
// once, when the config is read, into one pool shared read-only by every connection (CodecState).
// Messages become JSON params and JSON results become messages through protobuf's own proto3 JSON
// mapping; nothing here maps a field by hand.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec_options.h"
#include "core/message.h"

namespace rpcgate::codec::grpc {

// One method of a loaded service, with the prototypes of its messages.
struct Method {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  const google::protobuf::Message* input = nullptr;  // prototypes, owned by the factory
  const google::protobuf::Message* output = nullptr;
  bool streaming() const { return descriptor->client_streaming() || descriptor->server_streaming(); }
};

class Descriptors final : public CodecState {
 public:
  // Reads each file (absolute, or relative to the working directory) as a FileDescriptorSet and
  // builds its files into the pool; null, with `error` naming the file and the reason, on failure.
  static std::shared_ptr<const Descriptors> load(const std::vector<std::string>& files, std::string& error);

  // "package.Service/Method" (a call's path without its leading '/'); null when not loaded.
  const Method* find(std::string_view name) const;
  bool has_service(std::string_view full_name) const;
  size_t method_count() const { return methods_.size(); }
  // For server reflection: every file loaded, and the services' full names in the order loaded.
  const google::protobuf::DescriptorPool& pool() const { return pool_; }
  const std::vector<std::string>& services() const { return services_; }

 private:
  Descriptors() = default;

  google::protobuf::DescriptorPool pool_;
  // Prototypes are built once at load: at run time they are only read (New()), from any thread.
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  std::map<std::string, Method, std::less<>> methods_;
  std::vector<std::string> services_;
};

// A request message's bytes as params: its proto3 JSON object (fields by their .proto names,
// fields at their default values included), or with `unwrap` and a message of exactly one field,
// that field's bare value. False, with `error`, for bytes that do not parse as the input type or
// nest deeper than `max_depth`.
bool message_to_params(const Method& method, std::string_view bytes, bool unwrap, size_t max_depth, Json& params,
                       std::string& error);

// A result as the method's output message: a JSON object is the message in proto3 JSON; with
// `unwrap` and an output of exactly one field, any other value is that field's value. False, with
// `error`, when it does not fit the output type.
bool result_to_message(const Method& method, const Json& result, bool unwrap, std::string& bytes, std::string& error);

// The client side's two, for gRPC upstreams: params as the method's input message (as
// result_to_message does for a result), and an answer's message as the result (as
// message_to_params does for a request's).
bool params_to_message(const Method& method, const Json& params, bool unwrap, std::string& bytes, std::string& error);
bool message_to_result(const Method& method, std::string_view bytes, bool unwrap, size_t max_depth, Json& result,
                       std::string& error);

}  // namespace rpcgate::codec::grpc
