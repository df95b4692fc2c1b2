// Server reflection's answers, read back with protobuf's own parser through a description of
// gRPC's reflection messages built here (field numbers as in grpc-proto's reflection.proto), and
// requests written the same way: nothing in this test decodes the wire by hand.
#include <doctest/doctest.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "codecs/grpc/reflection.h"

namespace pb = google::protobuf;
using rpcgate::codec::grpc::answer_reflection;
using rpcgate::codec::grpc::Descriptors;

namespace {

// gRPC's reflection messages, as far as this test reads them (original_request as bytes).
constexpr const char* kReflectionMessages = R"pb(
  name: "reflection_under_test.proto"
  package: "r"
  syntax: "proto3"
  message_type {
    name: "ExtensionRequest"
    field { name: "containing_type" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "extension_number" number: 2 type: TYPE_INT32 label: LABEL_OPTIONAL }
  }
  message_type {
    name: "Request"
    field { name: "host" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "file_by_filename" number: 3 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "file_containing_symbol" number: 4 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field {
      name: "file_containing_extension"
      number: 5
      type: TYPE_MESSAGE
      type_name: ".r.ExtensionRequest"
      label: LABEL_OPTIONAL
      oneof_index: 0
    }
    field { name: "all_extension_numbers_of_type" number: 6 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "list_services" number: 7 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "unknown_kind" number: 9 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    oneof_decl { name: "message_request" }
  }
  message_type {
    name: "Files"
    field { name: "file_descriptor_proto" number: 1 type: TYPE_BYTES label: LABEL_REPEATED }
  }
  message_type {
    name: "Numbers"
    field { name: "base_type_name" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "extension_number" number: 2 type: TYPE_INT32 label: LABEL_REPEATED }
  }
  message_type {
    name: "Service"
    field { name: "name" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
  }
  message_type {
    name: "Services"
    field { name: "service" number: 1 type: TYPE_MESSAGE type_name: ".r.Service" label: LABEL_REPEATED }
  }
  message_type {
    name: "Error"
    field { name: "error_code" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL }
    field { name: "error_message" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL }
  }
  message_type {
    name: "Response"
    field { name: "valid_host" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "original_request" number: 2 type: TYPE_BYTES label: LABEL_OPTIONAL }
    field { name: "file_descriptor_response" number: 4 type: TYPE_MESSAGE type_name: ".r.Files" label: LABEL_OPTIONAL }
    field {
      name: "all_extension_numbers_response"
      number: 5
      type: TYPE_MESSAGE
      type_name: ".r.Numbers"
      label: LABEL_OPTIONAL
    }
    field { name: "list_services_response" number: 6 type: TYPE_MESSAGE type_name: ".r.Services" label: LABEL_OPTIONAL }
    field { name: "error_response" number: 7 type: TYPE_MESSAGE type_name: ".r.Error" label: LABEL_OPTIONAL }
  }
)pb";

// What a listener loads: a service file that imports two others, one of them extending a type.
constexpr const char* kBase = R"pb(
  name: "base.proto"
  package: "t"
  syntax: "proto2"
  message_type {
    name: "Base"
    field { name: "id" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL }
    extension_range { start: 100 end: 201 }
  }
)pb";
constexpr const char* kMarks = R"pb(
  name: "marks.proto"
  package: "t"
  syntax: "proto2"
  dependency: "base.proto"
  extension { name: "mark" number: 150 type: TYPE_INT32 label: LABEL_OPTIONAL extendee: ".t.Base" }
  extension { name: "note" number: 120 type: TYPE_STRING label: LABEL_OPTIONAL extendee: ".t.Base" }
)pb";
constexpr const char* kService = R"pb(
  name: "svc.proto"
  package: "t"
  syntax: "proto2"
  dependency: "base.proto"
  dependency: "marks.proto"
  message_type {
    name: "Req"
    field { name: "base" number: 1 type: TYPE_MESSAGE type_name: ".t.Base" label: LABEL_OPTIONAL }
  }
  service {
    name: "Svc"
    method { name: "Do" input_type: ".t.Req" output_type: ".t.Base" }
  }
  service {
    name: "Other"
    method { name: "Go" input_type: ".t.Base" output_type: ".t.Base" }
  }
)pb";

pb::FileDescriptorProto file_proto(const char* text) {
  pb::FileDescriptorProto file;
  REQUIRE(pb::TextFormat::ParseFromString(text, &file));
  return file;
}

struct Fixture {
  Fixture() {
    pb::FileDescriptorSet set;
    for (const char* text : {kBase, kMarks, kService}) *set.add_file() = file_proto(text);
    char path[] = "/tmp/rpcgate-reflection-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path, std::ios::binary) << set.SerializeAsString();
    std::string error;
    descriptors = Descriptors::load({path}, error);
    std::remove(path);
    REQUIRE_MESSAGE(descriptors != nullptr, error);
    REQUIRE(messages.BuildFile(file_proto(kReflectionMessages)) != nullptr);
  }

  // A Request with `text_format` set, written by protobuf.
  std::string request(const std::string& text_format) {
    std::unique_ptr<pb::Message> message(factory.GetPrototype(messages.FindMessageTypeByName("r.Request"))->New());
    REQUIRE(pb::TextFormat::ParseFromString(text_format, message.get()));
    return message->SerializeAsString();
  }

  // The answer to `request_bytes`, parsed by protobuf and printed as text format.
  std::string ask(const std::string& request_bytes) {
    std::string bytes;
    REQUIRE(answer_reflection(*descriptors, request_bytes, bytes));
    std::unique_ptr<pb::Message> message(factory.GetPrototype(messages.FindMessageTypeByName("r.Response"))->New());
    REQUIRE(message->ParseFromString(bytes));
    CHECK(message->GetReflection()->GetUnknownFields(*message).empty());
    last = std::move(message);
    return text_of(*last);
  }

  static std::string text_of(const pb::Message& message) {
    std::string text;
    pb::TextFormat::Printer printer;
    printer.SetSingleLineMode(true);
    printer.PrintToString(message, &text);
    return text;
  }

  // The names of the files in the last answer's file_descriptor_response, in order.
  std::vector<std::string> files() const {
    const pb::Reflection* reflection = last->GetReflection();
    const pb::Message& files =
        reflection->GetMessage(*last, last->GetDescriptor()->FindFieldByName("file_descriptor_response"));
    const pb::FieldDescriptor* list = files.GetDescriptor()->FindFieldByName("file_descriptor_proto");
    std::vector<std::string> names;
    for (int i = 0; i < files.GetReflection()->FieldSize(files, list); ++i) {
      pb::FileDescriptorProto file;
      REQUIRE(file.ParseFromString(files.GetReflection()->GetRepeatedString(files, list, i)));
      names.push_back(file.name());
    }
    return names;
  }

  std::shared_ptr<const Descriptors> descriptors;
  pb::DescriptorPool messages;
  pb::DynamicMessageFactory factory{&messages};
  std::unique_ptr<pb::Message> last;
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "list_services names every loaded service, and the answer echoes host and request") {
  const std::string asked = request(R"(host: "h:1" list_services: "*")");
  const std::string text = ask(asked);
  CHECK(text.find(R"(valid_host: "h:1")") != std::string::npos);
  CHECK(text.find(R"(list_services_response { service { name: "t.Svc" } service { name: "t.Other" } })") !=
        std::string::npos);
  const pb::FieldDescriptor* original = last->GetDescriptor()->FindFieldByName("original_request");
  CHECK(last->GetReflection()->GetString(*last, original) == asked);
}

TEST_CASE_FIXTURE(Fixture, "a symbol's file comes with every file it imports, each once") {
  for (const char* symbol : {"t.Svc", "t.Svc.Do", "t.Req", "t.Req.base", "t.Other"}) {
    CAPTURE(symbol);
    ask(request(std::string("file_containing_symbol: \"") + symbol + "\""));
    CHECK(files() == std::vector<std::string>{"svc.proto", "base.proto", "marks.proto"});
  }
  ask(request(R"(file_by_filename: "marks.proto")"));
  CHECK(files() == std::vector<std::string>{"marks.proto", "base.proto"});
  ask(request(R"(file_containing_extension { containing_type: "t.Base" extension_number: 150 })"));
  CHECK(files() == std::vector<std::string>{"marks.proto", "base.proto"});
}

TEST_CASE_FIXTURE(Fixture, "extension numbers of a type") {
  const std::string text = ask(request(R"(all_extension_numbers_of_type: "t.Base")"));
  CHECK(
      text.find(
          R"(all_extension_numbers_response { base_type_name: "t.Base" extension_number: 120 extension_number: 150 })") !=
      std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "what the descriptors lack is NOT_FOUND, an unknown kind of request UNIMPLEMENTED") {
  CHECK(ask(request(R"(file_containing_symbol: "t.Nope")"))
            .find(R"(error_response { error_code: 5 error_message: "Symbol not found." })") != std::string::npos);
  CHECK(ask(request(R"(file_by_filename: "nope.proto")")).find("error_code: 5") != std::string::npos);
  CHECK(ask(request(R"(file_containing_extension { containing_type: "t.Base" extension_number: 151 })"))
            .find("error_code: 5") != std::string::npos);
  CHECK(ask(request(R"(all_extension_numbers_of_type: "t.Nope")")).find("error_code: 5") != std::string::npos);
  CHECK(ask(request(R"(unknown_kind: "x")")).find("error_code: 12") != std::string::npos);
  CHECK(ask(request("")).find("error_code: 12") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "bytes that are no request are refused, with nothing written") {
  std::string out;
  for (std::string bad : {std::string("\x0a\x05"
                                      "ab",
                                      4),
                          std::string("\x2a\x03\x08\x01", 4), std::string("\xff", 1), std::string("\x18\x01", 2)}) {
    CAPTURE(bad.size());
    CHECK_FALSE(answer_reflection(*descriptors, bad, out));
    CHECK(out.empty());
  }
}
