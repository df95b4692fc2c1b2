#include "codecs/resp/reply_tree.h"

namespace rpcgate::codec::resp {

ReplyTree read_reply_tree(std::string_view bytes, std::string& error) {
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
