// gRPC's health service (grpc.health.v1) on the wire: the HealthCheckRequest's service name and
// the HealthCheckResponse's status, written by hand as the two one-field messages they are. Check
// is answered by the gateway from its readiness (the `health` handler, kOwnHealthMethod); Watch
// by the listener's codec, which the gateway tells of every change (ServerCodec::set_serving).
#pragma once

#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::grpc {

inline constexpr std::string_view kHealthWatchMethod = "grpc.health.v1.Health/Watch";

// HealthCheckResponse.ServingStatus.
enum class Serving : uint8_t { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// The HealthCheckResponse saying `status` (field 1, a varint; UNKNOWN, 0, is proto3's default and
// leaves the message empty).
std::string health_response(Serving status);
// The status of the health handler's answer ("SERVING", "NOT_SERVING"); UNKNOWN for anything else.
Serving serving_of(const Json& result);

// The field `service` (1) of a HealthCheckRequest, or false for bytes that are not one.
bool health_service(std::string_view bytes, std::string& service);

}  // namespace rpcgate::codec::grpc
