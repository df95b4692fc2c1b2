// The book's pi.proto (plus a two-field message and a streaming method) as protoc would describe
// it, built in code and written to a temporary FileDescriptorSet file: for the grpc codec's unit
// test and fuzz target, which run no protoc. Header-only; returns "" when the file cannot be made.
#pragma once

#include <google/protobuf/descriptor.pb.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace rpcgate::test {

namespace pi_descriptors_detail {

namespace pb = google::protobuf;

inline void add_field(pb::DescriptorProto& message, const char* name, int number, pb::FieldDescriptorProto::Type type) {
  auto* field = message.add_field();
  field->set_name(name);
  field->set_json_name(name);
  field->set_number(number);
  field->set_type(type);
  field->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
}

inline void add_method(pb::ServiceDescriptorProto& service, const char* name, const char* in, const char* out,
                       bool streaming = false) {
  auto* method = service.add_method();
  method->set_name(name);
  method->set_input_type(in);
  method->set_output_type(out);
  method->set_server_streaming(streaming);
}

}  // namespace pi_descriptors_detail

// package pi; service PiCalculator { Calc(PiRequest) -> PiResponse; Swap(Pair) -> Pair;
// Digits(PiRequest) -> stream PiResponse }; PiRequest {int32 n = 1}; PiResponse {double value = 1};
// Pair {int32 count = 1; string label = 2}.
inline std::string write_pi_descriptors() {
  using namespace pi_descriptors_detail;
  pb::FileDescriptorSet set;
  auto& file = *set.add_file();
  file.set_name("pi.proto");
  file.set_package("pi");
  file.set_syntax("proto3");
  auto& request = *file.add_message_type();
  request.set_name("PiRequest");
  add_field(request, "n", 1, pb::FieldDescriptorProto::TYPE_INT32);
  auto& response = *file.add_message_type();
  response.set_name("PiResponse");
  add_field(response, "value", 1, pb::FieldDescriptorProto::TYPE_DOUBLE);
  auto& pair = *file.add_message_type();
  pair.set_name("Pair");
  add_field(pair, "count", 1, pb::FieldDescriptorProto::TYPE_INT32);
  add_field(pair, "label", 2, pb::FieldDescriptorProto::TYPE_STRING);
  auto& service = *file.add_service();
  service.set_name("PiCalculator");
  add_method(service, "Calc", ".pi.PiRequest", ".pi.PiResponse");
  add_method(service, "Swap", ".pi.Pair", ".pi.Pair");
  add_method(service, "Digits", ".pi.PiRequest", ".pi.PiResponse", true);
  char path[] = "/tmp/rpcgate-pi-descriptors-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  std::ofstream(path, std::ios::binary) << set.SerializeAsString();
  return path;
}

// The file of write_pi_descriptors(), written once per process and removed at exit; "" when it
// cannot be made.
inline const std::string& pi_descriptor_file() {
  struct File {
    std::string path = write_pi_descriptors();
    ~File() {
      if (!path.empty()) std::remove(path.c_str());
    }
  };
  static const File file;
  return file.path;
}

}  // namespace rpcgate::test
