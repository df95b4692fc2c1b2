#include "codecs/grpc/reflection.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <set>
#include <vector>

#include "codecs/grpc/grpc_message.h"

namespace rpcgate::codec::grpc {
namespace {

namespace pb = google::protobuf;
using pb::internal::WireFormatLite;

// Field numbers of gRPC's reflection.proto (identical in v1 and v1alpha).
enum RequestField : int {
  kHost = 1,
  kFileByFilename = 3,
  kFileContainingSymbol = 4,
  kFileContainingExtension = 5,
  kAllExtensionNumbersOfType = 6,
  kListServices = 7,
};
enum ResponseField : int {
  kValidHost = 1,
  kOriginalRequest = 2,
  kFileDescriptorResponse = 4,
  kAllExtensionNumbersResponse = 5,
  kListServicesResponse = 6,
  kErrorResponse = 7,
};
// Status codes an ErrorResponse carries, as gRPC's own server sends them.
constexpr uint32_t kNotFound = 5;
constexpr uint32_t kUnimplemented = 12;

struct ReflectionRequest {
  std::string host;
  int kind = 0;        // the RequestField of the oneof that was set; 0 for none
  std::string text;    // a file name, a symbol, a type name, or list_services' argument
  std::string type;    // file_containing_extension: its containing_type
  int32_t number = 0;  // and its extension_number
};

bool read_string(pb::io::CodedInputStream& in, uint32_t tag, std::string& out) {
  return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
         WireFormatLite::ReadString(&in, &out);
}

// ExtensionRequest {string containing_type = 1; int32 extension_number = 2;}, read where it lies.
bool read_extension_request(pb::io::CodedInputStream& in, uint32_t tag, ReflectionRequest& request) {
  uint32_t length = 0;
  if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED || !in.ReadVarint32(&length))
    return false;
  const auto limit = in.PushLimit(static_cast<int>(length));
  while (uint32_t inner = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(inner);
    if (field == 1) {
      if (!read_string(in, inner, request.type)) return false;
    } else if (field == 2 && WireFormatLite::GetTagWireType(inner) == WireFormatLite::WIRETYPE_VARINT) {
      if (!WireFormatLite::ReadPrimitive<int32_t, WireFormatLite::TYPE_INT32>(&in, &request.number)) return false;
    } else if (!WireFormatLite::SkipField(&in, inner)) {
      return false;
    }
  }
  // Ended at its own length: not at the end of the bytes, which a short one also reaches.
  if (!in.ConsumedEntireMessage() || in.BytesUntilLimit() != 0) return false;
  in.PopLimit(limit);
  return true;
}

bool parse_request(std::string_view bytes, ReflectionRequest& request) {
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    bool read = false;
    switch (field) {
      case kHost:
        read = read_string(in, tag, request.host);
        break;
      case kFileByFilename:
      case kFileContainingSymbol:
      case kAllExtensionNumbersOfType:
      case kListServices:
        read = read_string(in, tag, request.text);
        break;
      case kFileContainingExtension:
        read = read_extension_request(in, tag, request);
        break;
      default:
        read = WireFormatLite::SkipField(&in, tag);
    }
    if (!read) return false;
    if (field >= kFileByFilename && field <= kListServices) request.kind = field;  // the oneof: the last one set
  }
  return in.ConsumedEntireMessage();
}

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_varint(out, WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  put_varint(out, bytes.size());
  out.append(bytes);
}

// FileDescriptorResponse's list: `file`, then every file it imports, each once.
void put_file_with_imports(const pb::FileDescriptor* file, std::set<const pb::FileDescriptor*>& seen,
                           std::string& list) {
  if (!seen.insert(file).second) return;
  pb::FileDescriptorProto proto;
  file->CopyTo(&proto);
  put_bytes(list, 1, proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) put_file_with_imports(file->dependency(i), seen, list);
}

std::string error_response(uint32_t code, std::string_view message) {
  std::string error;
  put_varint(error, WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT));
  put_varint(error, code);
  put_bytes(error, 2, message);
  return error;
}

// The oneof message_response for `request`: its field number and its bytes.
std::pair<int, std::string> respond(const Descriptors& descriptors, const ReflectionRequest& request) {
  const pb::DescriptorPool& pool = descriptors.pool();
  const pb::FileDescriptor* file = nullptr;
  switch (request.kind) {
    case kListServices: {
      std::string list;
      for (const std::string& name : descriptors.services()) {
        std::string service;
        put_bytes(service, 1, name);
        put_bytes(list, 1, service);
      }
      return {kListServicesResponse, list};
    }
    case kAllExtensionNumbersOfType: {
      const pb::Descriptor* type = pool.FindMessageTypeByName(request.text);
      if (type == nullptr) return {kErrorResponse, error_response(kNotFound, "Type not found.")};
      std::vector<const pb::FieldDescriptor*> extensions;
      pool.FindAllExtensions(type, &extensions);
      std::string numbers;
      for (const pb::FieldDescriptor* extension : extensions) put_varint(numbers, extension->number());
      std::string answer;
      put_bytes(answer, 1, type->full_name());
      if (!numbers.empty()) put_bytes(answer, 2, numbers);  // packed, as proto3 writes repeated int32
      return {kAllExtensionNumbersResponse, answer};
    }
    case kFileByFilename:
      file = pool.FindFileByName(request.text);
      if (file == nullptr) return {kErrorResponse, error_response(kNotFound, "File not found.")};
      break;
    case kFileContainingSymbol:
      file = pool.FindFileContainingSymbol(request.text);
      if (file == nullptr) return {kErrorResponse, error_response(kNotFound, "Symbol not found.")};
      break;
    case kFileContainingExtension: {
      const pb::Descriptor* type = pool.FindMessageTypeByName(request.type);
      const pb::FieldDescriptor* extension =
          type == nullptr ? nullptr : pool.FindExtensionByNumber(type, request.number);
      if (extension == nullptr) return {kErrorResponse, error_response(kNotFound, "Extension not found.")};
      file = extension->file();
      break;
    }
    default:
      return {kErrorResponse, error_response(kUnimplemented, "")};
  }
  std::set<const pb::FileDescriptor*> seen;
  std::string list;
  put_file_with_imports(file, seen, list);
  return {kFileDescriptorResponse, list};
}

}  // namespace

bool is_reflection_method(std::string_view method) {
  return method == "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" ||
         method == "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
}

bool answer_reflection(const Descriptors& descriptors, std::string_view request, std::string& response) {
  ReflectionRequest parsed;
  if (!parse_request(request, parsed)) return false;
  const auto [field, answer] = respond(descriptors, parsed);
  if (!parsed.host.empty()) put_bytes(response, kValidHost, parsed.host);
  put_bytes(response, kOriginalRequest, request);  // the request as it came, which is what it echoes
  put_bytes(response, field, answer);
  return true;
}

bool serve_reflection(const Descriptors& descriptors, std::string& body, bool gzip, size_t max_message_bytes,
                      size_t answers_bound, std::string& answers, size_t& taken, std::string& error) {
  taken = 0;
  std::string response;
  std::string inflated;
  while (answers.size() < answers_bound && body.size() - taken >= kPrefixBytes) {
    const std::string_view rest = std::string_view(body).substr(taken);
    const size_t length = announced_length(rest);
    if (length > max_message_bytes) {
      error = "a reflection request larger than " + std::to_string(max_message_bytes) + " bytes";
      return false;
    }
    if (rest.size() < kPrefixBytes + length) break;  // the rest of it is still to come
    std::string_view request = rest.substr(kPrefixBytes, length);
    if (rest[0] != 0) {
      bool too_large = false;
      if (rest[0] != 1 || !gzip || !gunzip(request, max_message_bytes, inflated, error, too_large)) {
        if (rest[0] != 1 || !gzip) error = "a reflection request compressed in a way the stream does not say";
        return false;
      }
      request = inflated;
    }
    response.clear();
    if (!answer_reflection(descriptors, request, response)) {
      error = "not a grpc.reflection ServerReflectionRequest";
      return false;
    }
    append_message(response, answers);
    taken += kPrefixBytes + length;
  }
  body.erase(0, taken);
  return true;
}

}  // namespace rpcgate::codec::grpc
