// The multi-key commands a Redis Cluster client may send across slots, which rpcgate splits
// (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH): the parts a command makes, one per group of keys
// (a group is a slot: Redis Cluster refuses keys of two slots in one command, even on one node),
// and the one reply the parts' replies make, as a single Redis would have answered the whole.
// Pure: words and reply bytes in, words and reply bytes out.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec_options.h"

namespace rpcgate::codec::resp {

enum class MultiKey : uint8_t {
  kNone,   // not split
  kMget,   // MGET k...: the values, in the client's order
  kMset,   // MSET k v ...: OK
  kCount,  // DEL, UNLINK, EXISTS, TOUCH k...: the sum of the parts' counts
};

// For a command's name, in any case.
MultiKey multi_key_kind(std::string_view command);

// The number of keys in `words` (words[0] the command), or 0 when the words do not fit the
// command (an MSET whose last key has no value, no key at all): those go whole, for Redis to refuse.
size_t key_count(MultiKey kind, const std::vector<std::string_view>& words);
// The word that is the `ordinal`th key.
std::string_view key_at(MultiKey kind, const std::vector<std::string_view>& words, size_t ordinal);

struct Part {
  size_t group = 0;
  std::vector<size_t> keys;  // ordinals of the keys it takes, in the client's order
};

// The parts of the command, one per group that `group_of(ordinal)` gives, in the order of each
// group's first key.
std::vector<Part> split_keys(MultiKey kind, const std::vector<std::string_view>& words,
                             const std::function<size_t(size_t ordinal)>& group_of);

// The words of `part`: the command's name, then its keys (with their values, for MSET).
void part_words(MultiKey kind, const std::vector<std::string_view>& words, const Part& part,
                std::vector<std::string_view>& out);

// Appends to `out` the reply to the whole command made of `replies` (each part's whole RESP2 or
// RESP3 reply, in the parts' order). The first part that answered an error answers for all, as
// the command would have failed whole. False, with nothing appended, for a reply that does not
// fit the command (an MGET part's array of the wrong length).
bool merge_replies(MultiKey kind, const std::vector<Part>& parts, const std::vector<std::string_view>& replies,
                   size_t key_count, const Limits& limits, std::string& out);

}  // namespace rpcgate::codec::resp
