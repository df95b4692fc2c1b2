// Checked, typed access to a YAML tree (see yaml_reader.h): the kinds, syntaxes and ranges of
// values, and the keys a mapping may hold, each mistake recorded with its file and line.
#include "conf/yaml_reader.h"

#include <algorithm>
#include <limits>

#include "conf/scalars.h"

namespace rpcgate::conf {
namespace {

// Merge keys may pull in mappings that themselves merge; aliases cannot form a cycle in
// yaml-cpp, but a bound keeps a pathological file from recursing deeply.
constexpr int kMaxMergeDepth = 16;
constexpr size_t kMaxQuotedChars = 60;

bool is_empty(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Sizes people write with decimal units; refused, but worth a precise hint.
bool has_decimal_unit(std::string_view text) {
  while (!text.empty() && (text.front() >= '0' && text.front() <= '9')) text.remove_prefix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const std::string unit = lower(text);
  return unit == "k" || unit == "kb" || unit == "m" || unit == "mb" || unit == "g" || unit == "gb" || unit == "t" ||
         unit == "tb" || unit == "kib" || unit == "mib" || unit == "gib";
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void ReadContext::error(int line, std::string_view path, std::string_view message) {
  std::string text = file_;
  if (line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  problems_.push_back(Problem{line, std::move(text)});
}

std::vector<std::string> ReadContext::messages() const {
  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::vector<std::string> out;
  out.reserve(sorted.size());
  for (auto& problem : sorted) out.push_back(std::move(problem.text));
  return out;
}

int ReadContext::line_of(std::string_view path) const {
  auto it = origins_.find(path);
  return it == origins_.end() ? 0 : it->second.line;
}

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string describe(const YAML::Node& node) {
  if (is_empty(node)) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  std::string text = node.Scalar();
  if (text.size() > kMaxQuotedChars) text = text.substr(0, kMaxQuotedChars) + "...";
  return "'" + text + "'";
}

std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (auto word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

std::string_view closest(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string needle = lower(word);
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (auto candidate : candidates) {
    const size_t distance = edit_distance(needle, lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // Two edits catch transpositions and dropped letters; short words need a closer match so that
  // "ms" does not suggest "s".
  const size_t allowed = std::min<size_t>(2, needle.size() / 3 + 1);
  return best_distance <= allowed && best != word ? best : std::string_view{};
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string_view guess = closest(word, candidates);
  return guess.empty() ? std::string{} : " (did you mean '" + std::string(guess) + "'?)";
}

std::string child_path(std::string_view base, std::string_view key) {
  if (base.empty()) return std::string(key);
  std::string out(base);
  out += '.';
  out += key;
  return out;
}

std::optional<std::string> read_string(ReadContext& ctx, const Field& field) {
  if (!field.node.IsScalar() || is_empty(field.node)) {
    ctx.error(field.line, field.path, "expected a string, got " + describe(field.node));
    return std::nullopt;
  }
  if (field.node.Scalar().empty()) {
    ctx.error(field.line, field.path, "expected a non-empty string");
    return std::nullopt;
  }
  return field.node.Scalar();
}

std::optional<uint64_t> read_integer(ReadContext& ctx, const Field& field, uint64_t min, uint64_t max) {
  const std::string expected = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!field.node.IsScalar() || is_empty(field.node)) {
    ctx.error(field.line, field.path, expected + ", got " + describe(field.node));
    return std::nullopt;
  }
  const std::string& text = field.node.Scalar();
  uint64_t value = 0;
  bool ok = all_digits(text);
  for (size_t i = 0; ok && i < text.size(); ++i) {
    ok = !__builtin_mul_overflow(value, uint64_t{10}, &value) &&
         !__builtin_add_overflow(value, uint64_t(text[i] - '0'), &value);
  }
  if (!ok || value < min || value > max) {
    ctx.error(field.line, field.path, expected + ", got " + describe(field.node));
    return std::nullopt;
  }
  return value;
}

std::optional<size_t> read_size(ReadContext& ctx, const Field& field, size_t min, size_t max) {
  std::string expected = "expected a byte size from " + std::to_string(min) + " to " + std::to_string(max);
  if (format_size(max) != std::to_string(max)) expected += " (" + format_size(max) + ")";
  expected += ", such as 65536, 64KiB or 16MiB";
  if (!field.node.IsScalar() || is_empty(field.node)) {
    ctx.error(field.line, field.path, expected + "; got " + describe(field.node));
    return std::nullopt;
  }
  const std::string& text = field.node.Scalar();
  const auto value = parse_size(text);
  if (!value || *value < min || *value > max) {
    std::string message = expected + "; got " + describe(field.node);
    if (!value && has_decimal_unit(text))
      message += " (units are binary and case-sensitive: KiB = 1024, MiB = 2^20, GiB = 2^30 bytes)";
    ctx.error(field.line, field.path, message);
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> read_duration(ReadContext& ctx, const Field& field, Duration min) {
  const std::string expected = "expected a duration such as 250ms, 10s, 1m or 1h";
  if (!field.node.IsScalar() || is_empty(field.node)) {
    ctx.error(field.line, field.path, expected + ", got " + describe(field.node));
    return std::nullopt;
  }
  const std::string& text = field.node.Scalar();
  const auto value = parse_duration(text);
  if (!value) {
    std::string message = expected + ", got " + describe(field.node);
    if (all_digits(text))
      message += " (a number needs a unit: " + text + "ms or " + text + "s?)";
    else if (text.starts_with('-'))
      message += " (durations cannot be negative)";
    ctx.error(field.line, field.path, message);
    return std::nullopt;
  }
  if (*value < min) {
    ctx.error(
        field.line, field.path,
        min == Duration{1} ? "must be greater than 0" : "must be at least " + format_duration(min) + ", got " + text);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> read_bool(ReadContext& ctx, const Field& field) {
  if (field.node.IsScalar() && !is_empty(field.node)) {
    const std::string text = lower(field.node.Scalar());
    if (text == "true") return true;
    if (text == "false") return false;
  }
  ctx.error(field.line, field.path, "expected true or false, got " + describe(field.node));
  return std::nullopt;
}

std::optional<Address> read_address(ReadContext& ctx, const Field& field) {
  if (!field.node.IsScalar() || is_empty(field.node)) {
    ctx.error(field.line, field.path,
              "expected an address such as 127.0.0.1:6380 or [::1]:6380, got " + describe(field.node));
    return std::nullopt;
  }
  std::string problem;
  auto address = parse_address(field.node.Scalar(), &problem);
  if (!address) ctx.error(field.line, field.path, "bad address '" + field.node.Scalar() + "': " + problem);
  return address;
}

std::optional<std::string> read_choice(ReadContext& ctx, const Field& field,
                                       std::span<const std::string_view> choices) {
  if (field.node.IsScalar() && !is_empty(field.node)) {
    const std::string& text = field.node.Scalar();
    if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
    ctx.error(field.line, field.path,
              "unknown value '" + text + "'" + did_you_mean(text, choices) + "; expected one of: " + join(choices));
    return std::nullopt;
  }
  ctx.error(field.line, field.path, "expected one of: " + join(choices) + "; got " + describe(field.node));
  return std::nullopt;
}

std::vector<Field> read_list(ReadContext& ctx, const Field& field) {
  std::vector<Field> items;
  if (is_empty(field.node)) return items;
  if (!field.node.IsSequence()) {
    ctx.error(field.line, field.path, "expected a list ('- item' lines or [a, b]), got " + describe(field.node));
    return items;
  }
  size_t index = 0;
  for (const auto& node : field.node) {
    Field item{node, field.path + "[" + std::to_string(index++) + "]", line_of(node)};
    if (item.line == 0) item.line = field.line;
    ctx.record(item.path, item.line);
    items.push_back(std::move(item));
  }
  return items;
}

MapReader::MapReader(ReadContext& ctx, const Field& field, std::string_view what,
                     std::span<const std::string_view> keys, bool allow_extensions)
    : ctx_(ctx), path_(field.path), line_(field.line) {
  if (is_empty(field.node)) {
    is_map_ = true;  // an empty section: every key takes its default
    return;
  }
  if (!field.node.IsMap()) {
    ctx.error(line_, path_,
              "expected a mapping for " + std::string(what) + " ('key: value' lines or {key: value, ...}), got " +
                  describe(field.node));
    return;
  }
  is_map_ = true;
  std::vector<Entry> all;
  collect(field.node, false, 0, all);
  // Copy-construct into a new vector rather than erase: assigning a YAML::Node (which erase
  // does to shift elements) rebinds the node it refers to and rewrites the tree.
  for (const auto& entry : all) {
    if (std::find(keys.begin(), keys.end(), entry.key) != keys.end()) {
      ctx.record(child_path(path_, entry.key), entry.key_line);
      entries_.push_back(entry);
    } else if (!(allow_extensions && entry.key.starts_with("x-"))) {
      ctx.error(entry.key_line, path_,
                "unknown key '" + entry.key + "' in " + std::string(what) + did_you_mean(entry.key, keys) +
                    "; expected one of: " + join(keys));
    }
  }
}

void MapReader::collect(const YAML::Node& node, bool merged, int depth, std::vector<Entry>& out) {
  std::vector<YAML::Node> merges;
  // yaml-cpp's iterator hands out temporary pairs: copy the nodes, never bind to it->first.
  for (const auto& pair : node) {
    const YAML::Node key = pair.first;
    const int key_line = line_of(key);
    if (!key.IsScalar()) {
      ctx_.error(key_line, path_, "a key must be a name, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (name == "<<" && key.Tag() != "!") {  // a quoted "<<" is an ordinary key
      merges.push_back(pair.second);
      continue;
    }
    auto first = std::find_if(out.begin(), out.end(), [&](const Entry& e) { return e.key == name; });
    if (first != out.end()) {
      // A merged mapping supplies only the keys not written: that is the point of merging.
      if (!merged)
        ctx_.error(key_line, path_,
                   "duplicate key '" + name + "' (first at line " + std::to_string(first->key_line) + ")");
      continue;
    }
    out.push_back(Entry{name, key_line, pair.second});
  }
  for (const auto& source : merges) {
    if (depth >= kMaxMergeDepth) {
      ctx_.error(line_of(source), path_, "merge keys ('<<') nest too deep");
      return;
    }
    if (source.IsMap()) {
      collect(source, true, depth + 1, out);
      continue;
    }
    bool ok = source.IsSequence();
    if (ok) {
      for (const auto& item : source) {
        if (item.IsMap())
          collect(item, true, depth + 1, out);
        else
          ok = false;
      }
    }
    if (!ok)
      ctx_.error(line_of(source) > 0 ? line_of(source) : line_, path_,
                 "a merge key '<<' takes a mapping or a list of mappings, got " + describe(source));
  }
}

const MapReader::Entry* MapReader::find(std::string_view key) const {
  for (const auto& entry : entries_)
    if (entry.key == key) return &entry;
  return nullptr;
}

std::optional<Field> MapReader::get(std::string_view key) const {
  const Entry* entry = find(key);
  if (entry == nullptr) return std::nullopt;
  // yaml-cpp marks an empty value at the next token, and a block collection at its first item:
  // the key's line is what a reader looks for.
  const bool use_key_line = is_empty(entry->value) || !entry->value.IsScalar();
  return Field{entry->value, child_path(path_, key), use_key_line ? entry->key_line : line_of(entry->value)};
}

int MapReader::key_line(std::string_view key) const {
  const Entry* entry = find(key);
  return entry == nullptr ? line_ : entry->key_line;
}

bool MapReader::require(std::initializer_list<std::string_view> keys) {
  bool all = true;
  for (auto key : keys) {
    if (has(key)) continue;
    all = false;
    if (is_map_) ctx_.error(line_, path_, "missing required key '" + std::string(key) + "'");
  }
  return all;
}

bool MapReader::read_string(std::string_view key, std::string& out) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_string(ctx_, *field);
  if (value) out = std::move(*value);
  return value.has_value();
}

bool MapReader::read_size(std::string_view key, size_t& out, size_t min, size_t max) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_size(ctx_, *field, min, max);
  if (value) out = *value;
  return value.has_value();
}

bool MapReader::read_duration(std::string_view key, Duration& out, Duration min) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_duration(ctx_, *field, min);
  if (value) out = *value;
  return value.has_value();
}

bool MapReader::read_bool(std::string_view key, bool& out) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_bool(ctx_, *field);
  if (value) out = *value;
  return value.has_value();
}

bool MapReader::read_address(std::string_view key, Address& out) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_address(ctx_, *field);
  if (value) out = std::move(*value);
  return value.has_value();
}

bool MapReader::read_choice(std::string_view key, std::string& out, std::span<const std::string_view> choices) {
  auto field = get(key);
  if (!field) return false;
  auto value = conf::read_choice(ctx_, *field, choices);
  if (value) out = std::move(*value);
  return value.has_value();
}

}  // namespace rpcgate::conf
