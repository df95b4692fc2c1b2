#include "codecs/resp/keyspace_commands.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "codecs/resp/resp_line.h"
#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {
namespace {

bool named(std::string_view command, std::string_view name) {
  return command.size() == name.size() && std::equal(command.begin(), command.end(), name.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// A whole bulk string reply's bytes; false for anything else (a nil included).
bool read_bulk(std::string_view reply, std::string_view& text) {
  char type = 0;
  int64_t length = 0;
  size_t header = 0;
  if (!read_frame_header(reply, type, length, header) || type != '$' || length < 0 ||
      reply.size() != header + static_cast<size_t>(length) + 2)
    return false;
  text = reply.substr(header, static_cast<size_t>(length));
  return true;
}

bool read_cursor(std::string_view word, uint64_t& cursor) {
  auto [end, status] = std::from_chars(word.data(), word.data() + word.size(), cursor);
  return status == std::errc() && end == word.data() + word.size() && !word.empty();
}

constexpr uint64_t kOwnerMask = (uint64_t{1} << kOwnerBits) - 1;

// Redis reads a cursor with strtoul and refuses one that does not parse whole.
constexpr std::string_view kRefusedCursor = "invalid";

// INFO's sections of one master, each header line ("# Server") given the master's name
// ("# Server 127.0.0.1:7000"), so that the masters' sections stay apart for a reader that keys
// them by name, and redis-cli shows them as it shows any INFO.
void append_named_sections(std::string_view text, std::string_view owner, std::string& out) {
  while (!text.empty()) {
    size_t end = text.find("\r\n");
    const std::string_view line = text.substr(0, end);
    out.append(line);
    if (line.starts_with("# ")) {
      out.push_back(' ');
      out.append(owner);
    }
    if (end == std::string_view::npos) break;
    out.append("\r\n");
    text.remove_prefix(end + 2);
  }
}

bool merge_scan(std::string_view reply, size_t scanned, size_t owners, std::string& out) {
  char type = 0;
  int64_t count = 0;
  size_t header = 0;
  if (!read_frame_header(reply, type, count, header) || type != '*' || count != 2) return false;
  reply.remove_prefix(header);
  int64_t length = 0;
  if (!read_frame_header(reply, type, length, header) || type != '$' || length < 0 ||
      reply.size() < header + static_cast<size_t>(length) + 2)
    return false;
  uint64_t cursor = 0;
  if (!read_cursor(reply.substr(header, static_cast<size_t>(length)), cursor) || cursor > (~uint64_t{0} >> kOwnerBits))
    return false;  // a master's cursor too large to carry its master's number
  reply.remove_prefix(header + static_cast<size_t>(length) + 2);  // the keys, passed on as they are
  uint64_t next = 0;
  if (cursor != 0)
    next = cursor << kOwnerBits | scanned;
  else if (scanned + 1 < owners)
    next = scanned + 1;  // this master is done: the next one's start
  out.append("*2\r\n");
  append_bulk(out, std::to_string(next));
  out.append(reply);
  return true;
}

}  // namespace

Keyspace keyspace_kind(std::string_view command) {
  if (named(command, "dbsize")) return Keyspace::kCount;
  if (named(command, "keys")) return Keyspace::kKeys;
  if (named(command, "flushall") || named(command, "flushdb")) return Keyspace::kFlush;
  if (named(command, "randomkey")) return Keyspace::kRandomKey;
  if (named(command, "info")) return Keyspace::kInfo;
  if (named(command, "scan")) return Keyspace::kScan;
  return Keyspace::kNone;
}

Keyspace keyspace_kind_of_frame(std::string_view frame) {
  const std::string_view command = command_word(frame);
  return command.empty() ? Keyspace::kNone : keyspace_kind(command);
}

size_t scan_part(const std::vector<std::string_view>& words, size_t owners, std::string& frame) {
  frame.clear();
  append_unsigned_header(frame, '*', words.size());
  append_bulk(frame, words[0]);
  if (words.size() < 2) return 0;  // the first master says what is missing
  uint64_t cursor = 0;
  size_t owner = 0;
  if (!read_cursor(words[1], cursor)) {
    append_bulk(frame, words[1]);  // not ours to judge: Redis reads cursors more leniently
  } else if ((cursor & kOwnerMask) >= owners) {
    append_bulk(frame, kRefusedCursor);  // a master this map does not have
  } else {
    owner = static_cast<size_t>(cursor & kOwnerMask);
    append_bulk(frame, std::to_string(cursor >> kOwnerBits));
  }
  for (size_t i = 2; i < words.size(); ++i) append_bulk(frame, words[i]);  // MATCH, COUNT, TYPE
  return owner;
}

bool merge_keyspace(Keyspace kind, const std::vector<std::string_view>& replies, const std::vector<std::string>& owners,
                    size_t scanned, size_t turn, std::string& out) {
  if (replies.empty()) return false;
  for (std::string_view reply : replies) {
    if (!reply.empty() && reply[0] == '-') {
      out.append(reply);
      return true;
    }
  }
  char type = 0;
  int64_t number = 0;
  size_t header = 0;
  switch (kind) {
    case Keyspace::kNone:
      return false;
    case Keyspace::kScan:
      return replies.size() == 1 && merge_scan(replies[0], scanned, owners.size(), out);
    case Keyspace::kFlush:
      if (!std::all_of(replies.begin(), replies.end(), [](std::string_view reply) { return reply == "+OK\r\n"; }))
        return false;
      out.append("+OK\r\n");
      return true;
    case Keyspace::kCount: {
      int64_t sum = 0;
      for (std::string_view reply : replies) {
        if (!read_frame_header(reply, type, number, header) || type != ':' || header != reply.size() || number < 0 ||
            number > std::numeric_limits<int64_t>::max() - sum)
          return false;
        sum += number;
      }
      append_header(out, ':', sum);
      return true;
    }
    case Keyspace::kKeys: {
      int64_t total = 0;
      for (std::string_view reply : replies) {
        // Every element takes 3 bytes at least: a count its bytes cannot hold is no whole reply.
        if (!read_frame_header(reply, type, number, header) || type != '*' || number < 0 ||
            static_cast<uint64_t>(number) > reply.size() / 3)
          return false;
        total += number;
      }
      append_header(out, '*', total);
      for (std::string_view reply : replies) {
        read_frame_header(reply, type, number, header);
        out.append(reply.substr(header));  // each a whole reply: its elements, and nothing after
      }
      return true;
    }
    case Keyspace::kRandomKey: {
      for (size_t i = 0; i < replies.size(); ++i) {
        std::string_view reply = replies[(turn + i) % replies.size()];
        std::string_view key;
        if (read_bulk(reply, key)) {
          out.append(reply);
          return true;
        }
        if (reply != "$-1\r\n") return false;
      }
      out.append("$-1\r\n");  // every master is empty
      return true;
    }
    case Keyspace::kInfo: {
      if (replies.size() != owners.size()) return false;
      std::string text;
      for (size_t i = 0; i < replies.size(); ++i) {
        std::string_view body;
        if (!read_bulk(replies[i], body)) return false;
        if (i > 0) text.append("\r\n");  // a blank line between sections, as Redis writes them
        append_named_sections(body, owners[i], text);
      }
      append_bulk(out, text);
      return true;
    }
  }
  return false;
}

}  // namespace rpcgate::codec::resp
