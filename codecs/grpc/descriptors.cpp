#include "codecs/grpc/descriptors.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "codecs/json/bounded_parse.h"

namespace rpcgate::codec::grpc {
namespace {

namespace pb = google::protobuf;

// A descriptor set larger than this is not a descriptor set (protoc's for the whole of
// googleapis is a few MiB).
constexpr std::streamsize kMaxDescriptorFileBytes = 64 << 20;

class CollectErrors final : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name, const pb::Message*, ErrorLocation,
                const std::string& message) override {
    if (!first.empty()) return;
    first = filename + (element_name.empty() ? "" : " (" + element_name + ")") + ": " + message;
  }
  std::string first;
};

bool read_file(const std::string& path, std::string& bytes, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream all;
  all << in.rdbuf();
  bytes = std::move(all).str();
  if (static_cast<std::streamsize>(bytes.size()) > kMaxDescriptorFileBytes) {
    error = path + " is larger than a descriptor set can be";
    return false;
  }
  return true;
}

const pb::FieldDescriptor* only_field(const pb::Descriptor& message) {
  return message.field_count() == 1 ? message.field(0) : nullptr;
}

}  // namespace

std::shared_ptr<const Descriptors> Descriptors::load(const std::vector<std::string>& files, std::string& error) {
  std::shared_ptr<Descriptors> loaded(new Descriptors());
  for (const std::string& path : files) {
    std::string bytes;
    if (!read_file(path, bytes, error)) return nullptr;
    pb::FileDescriptorSet set;
    if (!set.ParseFromString(bytes)) {
      error = path + " is not a FileDescriptorSet (make it with protoc --include_imports --descriptor_set_out)";
      return nullptr;
    }
    for (const pb::FileDescriptorProto& file : set.file()) {
      // A file named by two sets (a shared import) is built once; a different file under the same
      // name is the pool's error below.
      if (const pb::FileDescriptor* known = loaded->pool_.FindFileByName(file.name()); known != nullptr) {
        pb::FileDescriptorProto same;
        known->CopyTo(&same);
        if (same.SerializeAsString() == file.SerializeAsString()) continue;
      }
      CollectErrors errors;
      if (loaded->pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
        error = path + ": " + (errors.first.empty() ? "cannot build " + file.name() : errors.first) +
                " (was it made with --include_imports?)";
        return nullptr;
      }
    }
    for (const pb::FileDescriptorProto& file_proto : set.file()) {
      const pb::FileDescriptor* file = loaded->pool_.FindFileByName(file_proto.name());
      for (int s = 0; file != nullptr && s < file->service_count(); ++s) {
        const pb::ServiceDescriptor* service = file->service(s);
        if (std::find(loaded->services_.begin(), loaded->services_.end(), service->full_name()) ==
            loaded->services_.end())
          loaded->services_.push_back(service->full_name());
        for (int m = 0; m < service->method_count(); ++m) {
          const pb::MethodDescriptor* method = service->method(m);
          Method entry{method, loaded->factory_.GetPrototype(method->input_type()),
                       loaded->factory_.GetPrototype(method->output_type())};
          loaded->methods_.emplace(service->full_name() + "/" + method->name(), entry);
        }
      }
    }
  }
  return loaded;
}

const Method* Descriptors::find(std::string_view name) const {
  auto it = methods_.find(name);
  return it == methods_.end() ? nullptr : &it->second;
}

bool Descriptors::has_service(std::string_view full_name) const {
  return pool_.FindServiceByName(std::string(full_name)) != nullptr;
}

namespace {

// Message bytes of `prototype`'s type as JSON (the proto3 mapping), or with `unwrap` and a
// message of exactly one field, that field's bare value.
bool message_to_json(const pb::Message& prototype, std::string_view bytes, bool unwrap, size_t max_depth, Json& json,
                     std::string& error) {
  std::unique_ptr<pb::Message> message(prototype.New());
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  // Messages within messages count as JSON nesting: bounded alike, before anything deeper is built.
  in.SetRecursionLimit(static_cast<int>(std::min<size_t>(max_depth, 1000)));
  if (!message->MergePartialFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    error = "the message is not a valid " + prototype.GetDescriptor()->full_name();
    return false;
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // PiRequest{n: 0} is n = 0, not a missing n
  options.preserve_proto_field_names = true;
  std::string text;
  if (!pb::util::MessageToJsonString(*message, &text, options).ok()) {
    error = "the message cannot be written as JSON";
    return false;
  }
  Json object;
  std::string parse_error;
  if (!json::parse_envelope(text, max_depth + 1, object, parse_error)) {
    error = "the message nests deeper than " + std::to_string(max_depth);
    return false;
  }
  const pb::FieldDescriptor* field = unwrap ? only_field(*prototype.GetDescriptor()) : nullptr;
  if (field != nullptr) {
    auto it = object.find(field->name());
    json = it == object.end() ? Json() : std::move(*it);
  } else {
    json = std::move(object);
  }
  return true;
}

// `value` as a message of `prototype`'s type: a JSON object is the message in proto3 JSON; with
// `unwrap` and a type of exactly one field, any other value is that field's value. `what` names
// the value in the error ("the result", "the params").
bool json_to_message(const pb::Message& prototype, const Json& value, bool unwrap, std::string_view what,
                     std::string& bytes, std::string& error) {
  const pb::Descriptor& type = *prototype.GetDescriptor();
  Json wrapped;
  const Json* object = &value;
  if (value.is_null()) {
    wrapped = Json::object();  // nothing: the message with every field at its default
    object = &wrapped;
  } else if (!value.is_object()) {
    const pb::FieldDescriptor* field = unwrap ? only_field(type) : nullptr;
    if (field == nullptr) {
      error = std::string(what) + " is not an object, and " + type.full_name() +
              (unwrap ? " has more than one field to put it in" : " is not unwrapped (unwrap: true)");
      return false;
    }
    wrapped = Json::object({{field->name(), value}});
    object = &wrapped;
  }
  std::unique_ptr<pb::Message> message(prototype.New());
  const std::string text = object->dump(-1, ' ', false, Json::error_handler_t::replace);
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a value that does not fit says so rather than losing data
  if (auto status = pb::util::JsonStringToMessage(text, message.get(), options); !status.ok()) {
    error = std::string(what) + " does not fit " + type.full_name() + ": " + std::string(status.message());
    return false;
  }
  bytes.clear();
  message->AppendToString(&bytes);
  return true;
}

}  // namespace

bool message_to_params(const Method& method, std::string_view bytes, bool unwrap, size_t max_depth, Json& params,
                       std::string& error) {
  return message_to_json(*method.input, bytes, unwrap, max_depth, params, error);
}

bool result_to_message(const Method& method, const Json& result, bool unwrap, std::string& bytes, std::string& error) {
  return json_to_message(*method.output, result, unwrap, "the result", bytes, error);
}

bool params_to_message(const Method& method, const Json& params, bool unwrap, std::string& bytes, std::string& error) {
  return json_to_message(*method.input, params, unwrap, "the params", bytes, error);
}

bool message_to_result(const Method& method, std::string_view bytes, bool unwrap, size_t max_depth, Json& result,
                       std::string& error) {
  return message_to_json(*method.output, bytes, unwrap, max_depth, result, error);
}

}  // namespace rpcgate::codec::grpc
