// A whole RESP2 reply read into hiredis's reply objects, for the few replies rpcgate reads as a
// tree rather than as a stream (COMMAND, CLUSTER SHARDS, CLUSTER SLOTS: once at start and on a
// topology change, never per request), with the accessors that walk one safely.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>

namespace rpcgate::codec::resp {

using ReplyTree = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

// The reply in `bytes` (which must hold exactly one whole reply). Null, with `error`, for bytes
// that are not one, and for an error reply (its text in `error`).
ReplyTree read_reply_tree(std::string_view bytes, std::string& error);

// A bulk or status string's text; empty for anything else (null included).
std::string_view text_of(const redisReply* reply);
bool is_array(const redisReply* reply);
bool is_integer(const redisReply* reply);
// A map as RESP2 sends it, a flat array of names and values: the value of `name`, or null.
const redisReply* member(const redisReply* map, std::string_view name);

}  // namespace rpcgate::codec::resp
