// The envelope members both directions share: the optional "id" and "meta" extensions, read from a
// parsed frame and written into an outgoing one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::json {

// The member `key` of `object`, or nullptr.
Json* find_member(Json::object_t& object, std::string_view key);

// "id": absent or null -> nullopt. False for anything but an unsigned integer.
bool read_id(Json::object_t& object, std::optional<uint64_t>& id);

// "meta": absent or null -> empty. False unless an object whose values are all strings; the
// strings are moved out of the document. Entries come out sorted by key.
bool read_meta(Json::object_t& object, Meta& meta);

// Appends `, "id": <id>` when there is one.
void write_id(const std::optional<uint64_t>& id, std::string& out);

// Appends `, "meta": {...}` when `meta` has entries, in their order.
void write_meta(const Meta& meta, std::string& out);

}  // namespace rpcgate::codec::json
