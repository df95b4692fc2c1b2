#include "codecs/resp/multi_key.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "codecs/resp/resp3_frame.h"
#include "codecs/resp/resp_line.h"

namespace rpcgate::codec::resp {
namespace {

bool named(std::string_view command, std::string_view name) {
  return command.size() == name.size() && std::equal(command.begin(), command.end(), name.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

size_t words_per_key(MultiKey kind) { return kind == MultiKey::kMset ? 2 : 1; }

bool is_error(std::string_view reply) { return !reply.empty() && (reply[0] == '-' || reply[0] == '!'); }

}  // namespace

MultiKey multi_key_kind(std::string_view command) {
  if (named(command, "mget")) return MultiKey::kMget;
  if (named(command, "mset")) return MultiKey::kMset;
  for (std::string_view counting : {"del", "unlink", "exists", "touch"})
    if (named(command, counting)) return MultiKey::kCount;
  return MultiKey::kNone;
}

size_t key_count(MultiKey kind, const std::vector<std::string_view>& words) {
  if (kind == MultiKey::kNone || words.size() < 2 || (words.size() - 1) % words_per_key(kind) != 0) return 0;
  return (words.size() - 1) / words_per_key(kind);
}

std::string_view key_at(MultiKey kind, const std::vector<std::string_view>& words, size_t ordinal) {
  return words[1 + ordinal * words_per_key(kind)];
}

std::vector<Part> split_keys(MultiKey kind, const std::vector<std::string_view>& words,
                             const std::function<size_t(size_t ordinal)>& group_of) {
  std::vector<Part> parts;
  std::unordered_map<size_t, size_t> part_of_group;
  const size_t count = key_count(kind, words);
  for (size_t ordinal = 0; ordinal < count; ++ordinal) {
    const size_t group = group_of(ordinal);
    auto [it, added] = part_of_group.emplace(group, parts.size());
    if (added) parts.push_back(Part{group, {}});
    parts[it->second].keys.push_back(ordinal);
  }
  return parts;
}

void part_words(MultiKey kind, const std::vector<std::string_view>& words, const Part& part,
                std::vector<std::string_view>& out) {
  out.clear();
  out.push_back(words[0]);
  const size_t per_key = words_per_key(kind);
  for (size_t ordinal : part.keys)
    for (size_t i = 0; i < per_key; ++i) out.push_back(words[1 + ordinal * per_key + i]);
}

bool merge_replies(MultiKey kind, const std::vector<Part>& parts, const std::vector<std::string_view>& replies,
                   size_t key_count, const Limits& limits, std::string& out) {
  if (replies.size() != parts.size() || kind == MultiKey::kNone) return false;
  for (std::string_view reply : replies) {
    if (is_error(reply)) {
      out.append(reply);
      return true;
    }
  }
  if (kind == MultiKey::kMset) {
    for (std::string_view reply : replies)
      if (reply != "+OK\r\n") return false;
    out.append("+OK\r\n");
    return true;
  }
  if (kind == MultiKey::kCount) {
    int64_t sum = 0;
    for (std::string_view reply : replies) {
      char type = 0;
      int64_t count = 0;
      size_t header = 0;
      // A broken upstream's count must not overflow the sum.
      if (!read_frame_header(reply, type, count, header) || type != ':' || header != reply.size() || count < 0 ||
          count > INT64_MAX - sum)
        return false;
      sum += count;
    }
    out.append(":" + std::to_string(sum) + "\r\n");
    return true;
  }
  // kMget: each part's array holds its keys' values in its order; they go back to the client's.
  std::vector<std::string_view> values(key_count);
  for (size_t p = 0; p < parts.size(); ++p) {
    std::string_view reply = replies[p];
    char type = 0;
    int64_t length = 0;
    size_t header = 0;
    if (!read_frame_header(reply, type, length, header) || type != '*' ||
        static_cast<size_t>(length) != parts[p].keys.size())
      return false;
    reply.remove_prefix(header);
    for (size_t ordinal : parts[p].keys) {
      const Resp3Frame element = scan_resp3_frame(reply, limits);
      if (element.status != Resp3Frame::Status::kFrame || ordinal >= key_count) return false;
      values[ordinal] = reply.substr(0, element.length);
      reply.remove_prefix(element.length);
    }
    if (!reply.empty()) return false;
  }
  out.append("*" + std::to_string(key_count) + "\r\n");
  for (std::string_view value : values) {
    if (value.empty()) return false;  // a key no part answered
    out.append(value);
  }
  return true;
}

}  // namespace rpcgate::codec::resp
