#include "codecs/resp/reply_tree.h"

#include "codecs/resp/resp3_frame.h"

namespace rpcgate::codec::resp {

ReplyTree read_reply_tree(std::string_view bytes, std::string& error) {
  // hiredis allocates an array as its header announces it, before any element comes: a count
  // that the bytes could not hold (every element takes 3 bytes at least, "+\r\n") is refused
  // first, so that a node's reply costs at most a few times its size.
  Limits limits;
  limits.max_elements = bytes.size() / 3 + 1;
  limits.max_frame_bytes = bytes.size();
  limits.max_request_bytes = bytes.size() + 1;
  limits.max_depth = 16;
  const Resp3Frame frame = scan_resp3_frame(bytes, limits);
  if (frame.status == Resp3Frame::Status::kError) {
    error = "not a RESP reply: " + frame.message;
    return ReplyTree(nullptr, &freeReplyObject);
  }
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(), &redisReaderFree);
  void* parsed = nullptr;
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK ||
      redisReaderGetReply(reader.get(), &parsed) != REDIS_OK) {
    error = "not a RESP reply: " + std::string(reader->errstr);
    return ReplyTree(nullptr, &freeReplyObject);
  }
  ReplyTree tree(static_cast<redisReply*>(parsed), &freeReplyObject);
  if (tree == nullptr) {
    error = "an incomplete reply";
  } else if (tree->type == REDIS_REPLY_ERROR) {
    error = std::string(tree->str, tree->len);
    tree.reset();
  }
  return tree;
}

std::string_view text_of(const redisReply* reply) {
  return reply != nullptr && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
             ? std::string_view(reply->str, reply->len)
             : std::string_view();
}

bool is_array(const redisReply* reply) { return reply != nullptr && reply->type == REDIS_REPLY_ARRAY; }

bool is_integer(const redisReply* reply) { return reply != nullptr && reply->type == REDIS_REPLY_INTEGER; }

const redisReply* member(const redisReply* map, std::string_view name) {
  if (!is_array(map)) return nullptr;
  for (size_t i = 0; i + 1 < map->elements; i += 2)
    if (text_of(map->element[i]) == name) return map->element[i + 1];
  return nullptr;
}

}  // namespace rpcgate::codec::resp
