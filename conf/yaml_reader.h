// Checked, typed access to a YAML tree for the config loader. Nothing here throws on bad input:
// each problem is recorded as "FILE:LINE: path: message" and reading goes on, so one run of
// `rpcgate -t` reports every mistake in a file rather than the first.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace rpcgate::conf {

// The problems found in one file, and where each key was written.
class ReadContext {
 public:
  explicit ReadContext(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  Origin origin(int line) const { return Origin{file_, line}; }

  // `line` is 1-based (0 = unknown); `path` names the value ("listeners[0].address") or is empty.
  void error(int line, std::string_view path, std::string_view message);
  bool has_errors() const { return !problems_.empty(); }
  // "FILE:LINE: path: message", in line order (problems on one line in the order found).
  std::vector<std::string> messages() const;

  void record(const std::string& path, int line) { origins_.emplace(path, origin(line)); }
  // The line recorded for `path`, 0 when none.
  int line_of(std::string_view path) const;
  std::map<std::string, Origin, std::less<>> take_origins() { return std::move(origins_); }

 private:
  struct Problem {
    int line;
    std::string text;
  };
  std::string file_;
  std::vector<Problem> problems_;
  std::map<std::string, Origin, std::less<>> origins_;
};

// A value of the tree and how to blame it. Copy-construct Fields, never assign one over another:
// yaml-cpp's Node::operator= does not rebind the handle, it rewrites the node it refers to.
struct Field {
  YAML::Node node;
  std::string path;  // "listeners[0].address"
  int line = 0;      // 1-based; the key's line when the value is empty or a collection
};

// 1-based line of a node; 0 when it has none.
int line_of(const YAML::Node& node);
// For "got ..." in messages: "'text'", "a list", "a mapping", "nothing".
std::string describe(const YAML::Node& node);
// "a, b, c".
std::string join(std::span<const std::string_view> words);
// The candidate a typo most likely meant ("adress" -> "address"), or empty when none is close.
std::string_view closest(std::string_view word, std::span<const std::string_view> candidates);
// " (did you mean 'address'?)" or "".
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);
// "a.b", "a" when `base` is empty.
std::string child_path(std::string_view base, std::string_view key);
// Removes the first line of `text` and returns it, without its '\n' (a '\r' stays).
inline std::string_view take_line(std::string_view& text) {
  size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  return line;
}

// Scalar readers: nullopt (with an error recorded) when the value is missing, of the wrong kind
// or out of range. Ranges are inclusive.
std::optional<std::string> read_string(ReadContext& ctx, const Field& field);
std::optional<uint64_t> read_integer(ReadContext& ctx, const Field& field, uint64_t min, uint64_t max);
std::optional<size_t> read_size(ReadContext& ctx, const Field& field, size_t min, size_t max);
std::optional<Duration> read_duration(ReadContext& ctx, const Field& field, Duration min);
std::optional<bool> read_bool(ReadContext& ctx, const Field& field);
std::optional<Address> read_address(ReadContext& ctx, const Field& field);
std::optional<std::string> read_choice(ReadContext& ctx, const Field& field, std::span<const std::string_view> choices);
// The items of a list, each with path "path[i]" and its origin recorded. An empty value is an
// empty list; anything but a list is an error and no items.
std::vector<Field> read_list(ReadContext& ctx, const Field& field);

// A mapping checked against the keys its section allows. Construction records an error for each
// unknown or repeated key and for a value that is not a mapping (an empty value reads as an empty
// mapping). YAML merge keys (`<<: *defaults`) are honoured: written keys win over merged ones.
class MapReader {
 public:
  // `what` names the section in messages ("listener", "cluster 'users'"). With
  // `allow_extensions`, keys starting with "x-" are accepted and ignored (homes for anchors).
  MapReader(ReadContext& ctx, const Field& field, std::string_view what, std::span<const std::string_view> keys,
            bool allow_extensions = false);

  bool is_map() const { return is_map_; }
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  ReadContext& context() const { return ctx_; }

  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::optional<Field> get(std::string_view key) const;
  // The line of `key` when present, else the mapping's line.
  int key_line(std::string_view key) const;
  // Records "missing required key" for each absent key; true when all are present.
  bool require(std::initializer_list<std::string_view> keys);

  // Typed reads: when the key is present and its value valid, store it in `out` and return true.
  bool read_string(std::string_view key, std::string& out);
  bool read_size(std::string_view key, size_t& out, size_t min, size_t max);
  bool read_duration(std::string_view key, Duration& out, Duration min = Duration{0});
  bool read_bool(std::string_view key, bool& out);
  bool read_address(std::string_view key, Address& out);
  bool read_choice(std::string_view key, std::string& out, std::span<const std::string_view> choices);
  template <typename T>
  bool read_integer(std::string_view key, T& out, uint64_t min, uint64_t max) {
    auto field = get(key);
    if (!field) return false;
    auto value = conf::read_integer(ctx_, *field, min, max);
    if (value) out = static_cast<T>(*value);
    return value.has_value();
  }

 private:
  struct Entry {
    std::string key;
    int key_line;
    YAML::Node value;
  };
  void collect(const YAML::Node& node, bool merged, int depth, std::vector<Entry>& out);
  const Entry* find(std::string_view key) const;

  ReadContext& ctx_;
  std::string path_;
  int line_;
  bool is_map_ = false;
  std::vector<Entry> entries_;
};

}  // namespace rpcgate::conf
