// Where a command's keys are, learned from a Redis's own COMMAND reply (the key specifications
// of Redis 7, or the first/last/step of older servers), not from a table written here: a command
// that Redis or a module adds routes by its keys as soon as the cluster knows it. Pure: the reply's
// bytes in, a table out, and the table answers for a command's words.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rpcgate::codec::resp {

// One key specification (redis.io's "Command key specifications"): where the search for keys
// begins, then how the keys are found from there. Positions count the command's name as 0.
struct KeySpec {
  enum class Begin : uint8_t { kIndex, kKeyword, kUnknown };
  enum class Find : uint8_t { kRange, kKeynum, kUnknown };  // kUnknown also for an "incomplete" spec
  Begin begin = Begin::kUnknown;
  Find find = Find::kUnknown;
  int index = 0;         // kIndex: the first key's position
  std::string keyword;   // kKeyword: the keys start after this word (matched in any case),
  int startfrom = 0;     // searched for from this position on, or backwards from the end if < 0
  int lastkey = 0;       // kRange: the last key relative to the first (< 0: from the end)
  int step = 1;          // kRange: the distance between keys; kKeynum: likewise
  int limit = 0;         // kRange with lastkey < 0: only 1/limit of the remaining words (0, 1: all)
  int keynumidx = 0;     // kKeynum: the word that says how many keys follow, relative to the begin
  int firstkey = 0;      // kKeynum: the first key, relative to the begin
  bool not_key = false;  // a shard channel (SPUBLISH, SSUBSCRIBE): hashed like a key, yet no key
};

struct CommandInfo {
  int arity = 0;  // > 0: exactly that many words; < 0: at least -arity
  bool readonly = false;
  bool write = false;
  std::vector<KeySpec> specs;
  bool has_subcommands = false;
};

class CommandTable {
 public:
  // Fills the table from the bytes of a COMMAND reply (RESP2). False, with `error`, for bytes that
  // are not one; a table once filled is replaced only by a reply that parses.
  bool load(std::string_view reply, std::string& error);
  size_t size() const { return commands_.size(); }

  // The entry for `name`, or for its subcommand `name|sub` when it has them; null when unknown.
  // Both in any case.
  const CommandInfo* find(std::string_view name, std::string_view subcommand = {}) const;

  enum class Keys : uint8_t {
    kFound,           // `positions` has them (none for a command without keys)
    kUnknownCommand,  // not in the table
    kInvalid,         // the words do not fit the command (arity, a key count that overruns): Redis refuses it
    kCannotTell,      // a specification this side cannot follow (Redis says "unknown"): ask COMMAND GETKEYS
  };
  // `words[0]` is the command's name. Appends the positions of its keys in the order Redis's
  // COMMAND GETKEYS lists them, and of its shard channels too unless `only_keys` (for routing a
  // channel's slot is a key's).
  Keys keys(const std::vector<std::string_view>& words, std::vector<size_t>& positions, bool only_keys = false) const;

 private:
  std::unordered_map<std::string, CommandInfo> commands_;  // lower-case names, "container|sub" for subcommands
};

}  // namespace rpcgate::codec::resp
