// A SAX consumer that builds the DOM itself. nlohmann's parser is iterative; its own DOM builder
// has no depth bound, which is the one thing this adds (plus a readable error without a throw).
#include "codecs/json/bounded_parse.h"

#include <utility>
#include <vector>

#include "codecs/utf8.h"

namespace rpcgate::codec::json {
namespace {

// An error message quotes the offending input; keep the reply small whatever the frame held.
constexpr size_t kMaxErrorText = 200;

class BoundedDomBuilder {
 public:
  BoundedDomBuilder(Json& root, size_t max_depth, std::string& error)
      : root_(root), max_depth_(max_depth), error_(error) {}

  bool null() { return add(Json(nullptr)) != nullptr; }
  bool boolean(bool value) { return add(Json(value)) != nullptr; }
  bool number_integer(Json::number_integer_t value) { return add(Json(value)) != nullptr; }
  bool number_unsigned(Json::number_unsigned_t value) { return add(Json(value)) != nullptr; }
  bool number_float(Json::number_float_t value, const Json::string_t&) { return add(Json(value)) != nullptr; }
  // The parser allows moving the token out: one allocation per string, no copy.
  bool string(Json::string_t& value) { return add(Json(std::move(value))) != nullptr; }
  bool binary(Json::binary_t& value) { return add(Json::binary(std::move(value))) != nullptr; }

  bool start_object(size_t) { return open(Json::value_t::object); }
  bool key(Json::string_t& name) {
    member_ = &stack_.back()->get_ref<Json::object_t&>()[std::move(name)];  // last duplicate wins
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(size_t) { return open(Json::value_t::array); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }

  bool parse_error(size_t, const std::string&, const Json::exception& ex) {
    // what() reads "[json.exception.parse_error.101] parse error at line 1, column 4: ...".
    std::string_view text = ex.what();
    if (auto bracket = text.find("] "); !text.empty() && text.front() == '[' && bracket != std::string_view::npos)
      text.remove_prefix(bracket + 2);
    if (text.size() > kMaxErrorText) text = text.substr(0, kMaxErrorText);
    // The quoted input may hold bytes that are not UTF-8, or be cut inside a sequence.
    error_.assign("invalid JSON: ");
    append_utf8_replacing(text, error_);
    return false;
  }

 private:
  // Places a finished value where the document expects the next one; returns it.
  Json* add(Json&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& container = *stack_.back();
    if (container.is_array()) {
      auto& array = container.get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    *member_ = std::move(value);
    return member_;
  }

  // A pointer to an open container stays valid: only the innermost open container grows.
  bool open(Json::value_t type) {
    if (stack_.size() > max_depth_) {  // the envelope itself is stack_[0] and does not count
      error_ = "JSON nesting deeper than " + std::to_string(max_depth_);
      return false;
    }
    stack_.push_back(add(Json(type)));
    return true;
  }

  Json& root_;
  size_t max_depth_;
  std::string& error_;
  std::vector<Json*> stack_;  // the open containers, outermost first
  Json* member_ = nullptr;
};

}  // namespace

bool parse_envelope(std::string_view text, size_t max_depth, Json& out, std::string& error) {
  // nlohmann's lexer takes a NUL byte for the end of input and would accept `{...}\0garbage`.
  // No valid JSON text holds a raw NUL (inside strings it must be escaped), so refuse any.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    error = "invalid JSON: NUL byte at offset " + std::to_string(nul);
    return false;
  }
  BoundedDomBuilder builder(out, max_depth, error);
  return Json::sax_parse(text.data(), text.data() + text.size(), &builder);
}

}  // namespace rpcgate::codec::json
