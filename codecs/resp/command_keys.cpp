#include "codecs/resp/command_keys.h"

#include <algorithm>
#include <charconv>

#include "codecs/resp/reply_tree.h"

namespace rpcgate::codec::resp {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

int integer_member(const redisReply* map, std::string_view name, int otherwise) {
  const redisReply* value = member(map, name);
  return is_integer(value) ? static_cast<int>(value->integer) : otherwise;
}

KeySpec read_spec(const redisReply* map) {
  KeySpec spec;
  const redisReply* begin = member(map, "begin_search");
  const redisReply* begin_spec = member(begin, "spec");
  if (std::string_view type = text_of(member(begin, "type")); type == "index") {
    spec.begin = KeySpec::Begin::kIndex;
    spec.index = integer_member(begin_spec, "index", 0);
  } else if (type == "keyword") {
    spec.begin = KeySpec::Begin::kKeyword;
    spec.keyword = std::string(text_of(member(begin_spec, "keyword")));
    spec.startfrom = integer_member(begin_spec, "startfrom", 1);
  }
  const redisReply* find = member(map, "find_keys");
  const redisReply* find_spec = member(find, "spec");
  if (std::string_view type = text_of(member(find, "type")); type == "range") {
    spec.find = KeySpec::Find::kRange;
    spec.lastkey = integer_member(find_spec, "lastkey", 0);
    spec.step = integer_member(find_spec, "keystep", integer_member(find_spec, "step", 1));
    spec.limit = integer_member(find_spec, "limit", 0);
  } else if (type == "keynum") {
    spec.find = KeySpec::Find::kKeynum;
    spec.keynumidx = integer_member(find_spec, "keynumidx", 0);
    spec.firstkey = integer_member(find_spec, "firstkey", 1);
    spec.step = integer_member(find_spec, "keystep", 1);
  }
  if (spec.step < 1) spec.step = 1;  // a step that would never move on is no step
  // "incomplete": the spec may miss keys (MIGRATE's KEYS, SORT's STORE), which only Redis's own
  // code for the command finds: as good as unknown.
  if (const redisReply* flags = member(map, "flags"); is_array(flags)) {
    for (size_t i = 0; i < flags->elements; ++i) {
      std::string_view flag = text_of(flags->element[i]);
      if (equal_ignoring_case(flag, "incomplete")) spec.find = KeySpec::Find::kUnknown;
      spec.not_key |= equal_ignoring_case(flag, "not_key");
    }
  }
  return spec;
}

// A legacy first/last/step triple as the one range specification it stands for.
KeySpec legacy_spec(int first, int last, int step) {
  KeySpec spec;
  spec.begin = KeySpec::Begin::kIndex;
  spec.index = first;
  spec.find = KeySpec::Find::kRange;
  spec.lastkey = last < 0 ? last : last - first;
  spec.step = std::max(step, 1);
  return spec;
}

// One command entry: name, arity, flags, first key, last key, step, [ACL categories, tips, key
// specifications, subcommands]. False for anything else.
bool read_command(const redisReply* entry, std::unordered_map<std::string, CommandInfo>& commands) {
  if (!is_array(entry) || entry->elements < 6) return false;
  std::string_view name = text_of(entry->element[0]);
  if (name.empty() || entry->element[1]->type != REDIS_REPLY_INTEGER) return false;
  CommandInfo info;
  info.arity = static_cast<int>(entry->element[1]->integer);
  if (is_array(entry->element[2])) {
    for (size_t i = 0; i < entry->element[2]->elements; ++i) {
      std::string_view flag = text_of(entry->element[2]->element[i]);
      info.readonly |= flag == "readonly";
      info.write |= flag == "write";
    }
  }
  if (entry->elements > 8 && is_array(entry->element[8])) {
    for (size_t i = 0; i < entry->element[8]->elements; ++i)
      info.specs.push_back(read_spec(entry->element[8]->element[i]));
  } else if (entry->element[3]->type == REDIS_REPLY_INTEGER && entry->element[3]->integer > 0) {
    // A server older than Redis 7: its one range (movable keys stay unknown to it, and to us).
    info.specs.push_back(legacy_spec(static_cast<int>(entry->element[3]->integer),
                                     static_cast<int>(entry->element[4]->integer),
                                     static_cast<int>(entry->element[5]->integer)));
  }
  if (entry->elements > 9 && is_array(entry->element[9]) && entry->element[9]->elements > 0) {
    info.has_subcommands = true;
    for (size_t i = 0; i < entry->element[9]->elements; ++i)
      if (!read_command(entry->element[9]->element[i], commands)) return false;  // named "container|sub"
  }
  commands[lower(name)] = std::move(info);
  return true;
}

// The position where the spec's search for keys begins, or -1 when it finds none there.
long begin_of(const KeySpec& spec, const std::vector<std::string_view>& words) {
  const long count = static_cast<long>(words.size());
  if (spec.begin == KeySpec::Begin::kIndex) return spec.index;
  // kKeyword: forwards from startfrom, or backwards from the end; never the command's name.
  const long start = spec.startfrom >= 0 ? spec.startfrom : count + spec.startfrom;
  const long direction = spec.startfrom >= 0 ? 1 : -1;
  for (long i = start; i >= 1 && i < count; i += direction)
    if (equal_ignoring_case(words[static_cast<size_t>(i)], spec.keyword)) return i + 1;
  return -1;
}

}  // namespace

bool CommandTable::load(std::string_view reply, std::string& error) {
  ReplyTree root = read_reply_tree(reply, error);
  if (root == nullptr) {
    error = "COMMAND: " + error;
    return false;
  }
  std::unordered_map<std::string, CommandInfo> commands;
  for (size_t i = 0; is_array(root.get()) && i < root->elements; ++i) {
    if (!read_command(root->element[i], commands)) {
      error = "entry " + std::to_string(i) + " of the COMMAND reply is not a command";
      return false;
    }
  }
  if (commands.empty()) {
    error = "the COMMAND reply lists no command";
    return false;
  }
  commands_ = std::move(commands);
  return true;
}

const CommandInfo* CommandTable::find(std::string_view name, std::string_view subcommand) const {
  std::string key = lower(name);
  auto it = commands_.find(key);
  if (it == commands_.end()) return nullptr;
  if (!it->second.has_subcommands || subcommand.empty()) return &it->second;
  auto sub = commands_.find(key + "|" + lower(subcommand));
  return sub == commands_.end() ? nullptr : &sub->second;
}

CommandTable::Keys CommandTable::keys(const std::vector<std::string_view>& words, std::vector<size_t>& positions,
                                      bool only_keys) const {
  if (words.empty()) return Keys::kInvalid;
  const CommandInfo* info = find(words[0], words.size() > 1 ? words[1] : std::string_view());
  if (info == nullptr) return Keys::kUnknownCommand;
  const long count = static_cast<long>(words.size());
  if (info->arity > 0 ? count != info->arity : count < -info->arity) return Keys::kInvalid;
  for (const KeySpec& spec : info->specs) {
    if (only_keys && spec.not_key) continue;
    if (spec.begin == KeySpec::Begin::kUnknown || spec.find == KeySpec::Find::kUnknown) return Keys::kCannotTell;
    const long first = begin_of(spec, words);
    if (first < 0 || first >= count) continue;  // nothing at its place: this spec has no keys here
    long last = 0;
    long from = first;
    if (spec.find == KeySpec::Find::kRange) {
      if (spec.lastkey >= 0)
        last = first + spec.lastkey;
      else if (spec.limit <= 1)
        last = count + spec.lastkey;
      else
        last = first + (count - first) / spec.limit + spec.lastkey;
    } else {
      const long at = first + spec.keynumidx;
      if (at >= count) return Keys::kInvalid;
      std::string_view text = words[static_cast<size_t>(at)];
      long number = -1;
      auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (status != std::errc() || end != text.data() + text.size() || number < 0 || number > count)
        return Keys::kInvalid;
      from = first + spec.firstkey;
      last = from + (number - 1) * spec.step;
      if (number == 0) continue;
    }
    if (last >= count) return Keys::kInvalid;
    for (long i = from; i <= last; i += spec.step) positions.push_back(static_cast<size_t>(i));
  }
  return Keys::kFound;
}

}  // namespace rpcgate::codec::resp
