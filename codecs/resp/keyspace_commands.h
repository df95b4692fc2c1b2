// The Redis commands about the whole keyspace that a Redis Cluster client sends to every master
// (DBSIZE, KEYS, FLUSHALL, FLUSHDB, RANDOMKEY, INFO) or to one master after another (SCAN),
// which rpcgate spreads over the masters so that its clients see one Redis: the parts they make,
// and the one reply the masters' replies make. Pure: words and reply bytes in, bytes out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpcgate::codec::resp {

enum class Keyspace : uint8_t {
  kNone,
  kCount,      // DBSIZE: the sum
  kKeys,       // KEYS: every master's keys, master after master
  kFlush,      // FLUSHALL, FLUSHDB: OK once every master said OK
  kRandomKey,  // RANDOMKEY: a key of the first master (in turn) that has one
  kInfo,       // INFO: every master's sections, each named with its master
  kScan,       // SCAN: one master at a time, the cursor naming which
};

// For a command's name, in any case.
Keyspace keyspace_kind(std::string_view command);
// The same, from the start of a command frame as rpcgate forwards it (an array of bulk strings),
// reading its name alone: most commands are none of these, and are told so cheaply.
Keyspace keyspace_kind_of_frame(std::string_view frame);

// A SCAN cursor through rpcgate: the master's own cursor shifted left by kOwnerBits, the master's
// number (in the order of their first slot) in the low bits. Cursor 0 is the first master's
// start, so a client's first SCAN 0 starts the whole iteration, and 0 back means every master
// is done. A cluster has at most 16384 masters (one per slot): 14 bits name any of them, and a
// master's cursor must stay below 2^50 (Redis's is below its hash table's size).
inline constexpr unsigned kOwnerBits = 14;

// The SCAN to send for the client's `words` (words[0] is SCAN) over `owners` masters: the master
// it goes to, and its frame in `frame`, the cursor made that master's own. A cursor that Redis
// would refuse, or that names a master the map does not have, goes to the first master in a
// form it refuses with its own "-ERR invalid cursor".
size_t scan_part(const std::vector<std::string_view>& words, size_t owners, std::string& frame);

// Appends the reply to the whole command made of the masters' `replies` (kScan: the one master's,
// `scanned` its number). `owners` names the masters, in order; `turn` picks RANDOMKEY's first
// master. The first error answers for the whole. False for replies that do not fit the command.
bool merge_keyspace(Keyspace kind, const std::vector<std::string_view>& replies, const std::vector<std::string>& owners,
                    size_t scanned, size_t turn, std::string& out);

}  // namespace rpcgate::codec::resp
