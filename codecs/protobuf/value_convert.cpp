// google.protobuf.Value <-> nlohmann::json. Recursive on both sides: decoding is bounded by the
// codec's depth limit (and protobuf's recursion limit before it), encoding by whoever built the
// value, itself a bounded decoder.
#include "codecs/protobuf/value_convert.h"

#include <cmath>
#include <cstdint>

#include "codecs/base64.h"
#include "codecs/utf8.h"

namespace rpcgate::codec::protobuf {
namespace {

using google::protobuf::Value;

// 2^53: below it every whole double is an integer a JSON reader would read back exactly.
constexpr double kExactIntegerBound = 9007199254740992.0;

Json number_to_json(double number) {
  bool whole = std::trunc(number) == number && std::fabs(number) < kExactIntegerBound;
  if (!whole || (number == 0 && std::signbit(number))) return Json(number);  // NaN, inf, -0.0
  if (number >= 0) return Json(static_cast<uint64_t>(number));
  return Json(static_cast<int64_t>(number));
}

bool convert(Value& value, size_t depth_left, Json& out) {
  switch (value.kind_case()) {
    case Value::KIND_NOT_SET:
    case Value::kNullValue:
      out = nullptr;
      return true;
    case Value::kNumberValue:
      out = number_to_json(value.number_value());
      return true;
    case Value::kStringValue:
      out = std::move(*value.mutable_string_value());
      return true;
    case Value::kBoolValue:
      out = value.bool_value();
      return true;
    case Value::kStructValue: {
      if (depth_left == 0) return false;
      out = Json::object();
      auto& object = out.get_ref<Json::object_t&>();
      for (auto& [key, member] : *value.mutable_struct_value()->mutable_fields())
        if (!convert(member, depth_left - 1, object[key])) return false;
      return true;
    }
    case Value::kListValue: {
      if (depth_left == 0) return false;
      out = Json::array();
      auto& array = out.get_ref<Json::array_t&>();
      auto& values = *value.mutable_list_value()->mutable_values();
      array.resize(static_cast<size_t>(values.size()));
      for (int i = 0; i < values.size(); ++i)
        if (!convert(values[i], depth_left - 1, array[static_cast<size_t>(i)])) return false;
      return true;
    }
  }
  out = nullptr;  // a kind newer than this code: nothing to carry
  return true;
}

}  // namespace

bool value_to_json(Value& value, size_t max_depth, Json& out) { return convert(value, max_depth, out); }

void json_to_value(const Json& source, Value& out) {
  switch (source.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      out.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case Json::value_t::boolean:
      out.set_bool_value(source.get<bool>());
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      out.set_number_value(source.get<double>());
      break;
    case Json::value_t::string:
      assign_utf8(*out.mutable_string_value(), source.get_ref<const Json::string_t&>());
      break;
    case Json::value_t::binary: {
      std::string& text = *out.mutable_string_value();
      text.clear();
      append_base64(source.get_binary(), text);
      break;
    }
    case Json::value_t::array: {
      auto& values = *out.mutable_list_value()->mutable_values();
      values.Clear();  // `out` may already have been a list
      const auto& array = source.get_ref<const Json::array_t&>();
      values.Reserve(static_cast<int>(array.size()));
      for (const Json& element : array) json_to_value(element, *values.Add());
      break;
    }
    case Json::value_t::object: {
      auto& fields = *out.mutable_struct_value()->mutable_fields();
      fields.clear();
      for (const auto& [key, member] : source.get_ref<const Json::object_t&>()) {
        if (is_valid_utf8(key)) {
          json_to_value(member, fields[key]);
        } else {
          std::string repaired;
          append_utf8_replacing(key, repaired);
          json_to_value(member, fields[repaired]);
        }
      }
      break;
    }
  }
}

void assign_utf8(std::string& field, std::string_view text) {
  if (is_valid_utf8(text)) {
    field.assign(text);
  } else {
    field.clear();
    append_utf8_replacing(text, field);
  }
}

}  // namespace rpcgate::codec::protobuf
