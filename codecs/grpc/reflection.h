// gRPC server reflection (grpc.reflection.v1 and v1alpha, ServerReflectionInfo) answered from a
// listener's loaded descriptors, so that generic tools (grpcurl, Python's reflection client) can
// list the services a listener translates and call them without their .proto files. Pure: one
// ServerReflectionRequest in, one ServerReflectionResponse out; the stream around them is the
// server codec's. The messages are written with protobuf's wire format by hand, as the health
// service's are: their layout is gRPC's reflection.proto, which rpcgate does not build.
#pragma once

#include <string>
#include <string_view>

#include "codecs/grpc/descriptors.h"

namespace rpcgate::codec::grpc {

// Whether `method` (a call's path without its leading '/') is the reflection stream, in either of
// the two versions that clients ask for (v1alpha is what most tools still try first).
bool is_reflection_method(std::string_view method);

// Appends to `response` the ServerReflectionResponse to one ServerReflectionRequest: the files
// asked for with every file they import (each once per answer), the services loaded, the
// extension numbers of a type, or an ErrorResponse (NOT_FOUND for a symbol or file the
// descriptors lack, UNIMPLEMENTED for a kind of request this side does not know). False, with
// nothing appended, for bytes that are not a ServerReflectionRequest.
bool answer_reflection(const Descriptors& descriptors, std::string_view request, std::string& response);

}  // namespace rpcgate::codec::grpc
