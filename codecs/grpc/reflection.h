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

// One reflection stream's requests as they arrive: each whole message at the front of `body` is
// answered, prefixed, into `answers` and taken off `body`, while `answers` holds less than
// `answers_bound` bytes, so that a client asking without reading is held back by its window (the
// caller gives the bytes taken back to it). A message compressed with gzip (`gzip`: the stream's
// grpc-encoding says so) is inflated first. Returns the bytes taken; false, with `error`, for a
// message that is no request (the stream then ends INVALID_ARGUMENT).
bool serve_reflection(const Descriptors& descriptors, std::string& body, bool gzip, size_t max_message_bytes,
                      size_t answers_bound, std::string& answers, size_t& taken, std::string& error);

}  // namespace rpcgate::codec::grpc
