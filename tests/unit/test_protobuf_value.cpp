// google.protobuf.Value <-> nlohmann::json: every kind, the integer rule for whole doubles, depth
// at N and N+1, binary and non-UTF-8 text, and the moves that spare copies.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "codecs/protobuf/value_convert.h"

using google::protobuf::Value;
using rpcgate::Json;
namespace pb = rpcgate::codec::protobuf;

namespace {

Json through_value(const Json& source, size_t max_depth = 64) {
  Value value;
  pb::json_to_value(source, value);
  Json out;
  REQUIRE(pb::value_to_json(value, max_depth, out));
  return out;
}

Json from_number(double number) {
  Value value;
  value.set_number_value(number);
  Json out;
  REQUIRE(pb::value_to_json(value, 64, out));
  return out;
}

Value nested_lists(size_t depth) {
  Value value;
  value.set_string_value("leaf");
  for (size_t i = 0; i < depth; ++i) {
    Value outer;
    *outer.mutable_list_value()->add_values() = std::move(value);
    value = std::move(outer);
  }
  return value;
}

Value nested_structs(size_t depth) {
  Value value;
  value.set_bool_value(true);
  for (size_t i = 0; i < depth; ++i) {
    Value outer;
    (*outer.mutable_struct_value()->mutable_fields())["k"] = std::move(value);
    value = std::move(outer);
  }
  return value;
}

}  // namespace

TEST_CASE("JSON values survive a trip through Value") {
  const char* texts[] = {
      "null",
      "true",
      "false",
      "0",
      "1",
      "-5",
      "1.5",
      "-2.25",
      "1e300",
      "\"\"",
      "\"\\u00e9\\ud83d\\ude00\"",
      "[]",
      "{}",
      "[1, [2, [3]], {\"a\": null}]",
      "{\"b\": {\"c\": [true, \"x\"]}, \"a\": 9007199254740991}",
  };
  for (const char* text : texts) {
    CAPTURE(text);
    Json source = Json::parse(text);
    Json back = through_value(source);
    CHECK(back == source);
    CHECK(back.type() == source.type());  // 1 stays an integer, 1.5 a double
  }
}

TEST_CASE("the kinds map one to one") {
  Value value;
  pb::json_to_value(Json::parse(R"({"n": 1, "s": "x", "b": false, "z": null, "l": [1.5]})"), value);
  REQUIRE(value.kind_case() == Value::kStructValue);
  const auto& fields = value.struct_value().fields();
  CHECK(fields.at("n").number_value() == 1.0);
  CHECK(fields.at("s").string_value() == "x");
  CHECK(fields.at("b").kind_case() == Value::kBoolValue);
  CHECK(fields.at("z").kind_case() == Value::kNullValue);
  CHECK(fields.at("l").list_value().values(0).number_value() == 1.5);

  Value unset;
  Json out = 5;
  REQUIRE(pb::value_to_json(unset, 64, out));
  CHECK(out.is_null());  // a Value with no kind set reads as null
}

TEST_CASE("whole doubles below 2^53 become JSON integers, as a JSON reader would see them") {
  CHECK(from_number(1000).is_number_unsigned());
  CHECK(from_number(1000) == 1000);
  CHECK(from_number(-3).is_number_integer());
  CHECK(from_number(-3) == -3);
  CHECK(from_number(9007199254740991.0).is_number_unsigned());
  CHECK(from_number(-9007199254740991.0).is_number_integer());
  // Past 2^53 a double no longer stands for one integer: it stays a double.
  CHECK(from_number(9007199254740992.0).is_number_float());
  CHECK(from_number(1e300).is_number_float());
  CHECK(from_number(0.5).is_number_float());
  // -0.0 keeps its sign; NaN and infinities stay doubles (the JSON writer prints them as null).
  CHECK(from_number(-0.0).is_number_float());
  CHECK(std::signbit(from_number(-0.0).get<double>()));
  CHECK(std::isnan(from_number(std::nan("")).get<double>()));
  CHECK(from_number(std::numeric_limits<double>::infinity()).is_number_float());
}

TEST_CASE("integers become doubles: past 2^53 they lose precision, as in protobuf's JSON mapping") {
  Value value;
  pb::json_to_value(Json(std::numeric_limits<uint64_t>::max()), value);
  CHECK(value.number_value() == 18446744073709551616.0);
  pb::json_to_value(Json(std::numeric_limits<int64_t>::min()), value);
  CHECK(value.number_value() == -9223372036854775808.0);
}

TEST_CASE("depth at the limit and one past it") {
  for (size_t limit : {size_t{0}, size_t{1}, size_t{5}, size_t{64}}) {
    CAPTURE(limit);
    Json out;
    Value lists_at = nested_lists(limit);
    CHECK(pb::value_to_json(lists_at, limit, out));
    Value lists_past = nested_lists(limit + 1);
    CHECK_FALSE(pb::value_to_json(lists_past, limit, out));
    Value structs_at = nested_structs(limit);
    CHECK(pb::value_to_json(structs_at, limit, out));
    Value structs_past = nested_structs(limit + 1);
    CHECK_FALSE(pb::value_to_json(structs_past, limit, out));
  }
}

TEST_CASE("binary values become base64 text") {
  Value value;
  pb::json_to_value(Json::binary({0xde, 0xad, 0xbe, 0xef}), value);
  CHECK(value.string_value() == "3q2+7w==");
  CHECK(pb::binary_bytes(Json::binary({0x61, 0x00, 0x62})) == std::string_view("a\0b", 3));
}

TEST_CASE("text that is not UTF-8 is repaired, since protobuf refuses it") {
  Value value;
  pb::json_to_value(Json::parse(R"({"k": "v"})"), value);
  Json source = Json::object();
  source["bad\xff key"] = "bad\xc3 value";
  pb::json_to_value(source, value);
  const auto& fields = value.struct_value().fields();
  REQUIRE(fields.size() == 1);
  CHECK(fields.begin()->first == "bad\xef\xbf\xbd key");
  CHECK(fields.begin()->second.string_value() == "bad\xef\xbf\xbd value");
  // The result serializes and parses back, where raw bytes would be refused.
  Value parsed;
  CHECK(parsed.ParseFromString(value.SerializeAsString()));

  std::string field;
  pb::assign_utf8(field, "ok \xc3\xa9");
  CHECK(field == "ok \xc3\xa9");
  pb::assign_utf8(field, "\xff");
  CHECK(field == "\xef\xbf\xbd");
}

TEST_CASE("strings are moved out of the Value, not copied") {
  Value value;
  value.mutable_list_value()->add_values()->set_string_value(std::string(1000, 'x'));
  Json out;
  REQUIRE(pb::value_to_json(value, 64, out));
  CHECK(out[0].get<std::string>().size() == 1000);
  CHECK(value.list_value().values(0).string_value().empty());
}

TEST_CASE("a Value being reused is overwritten, kind and all") {
  Value value;
  pb::json_to_value(Json::parse(R"({"a": 1})"), value);
  pb::json_to_value(Json::parse(R"({"b": 2})"), value);
  CHECK(value.struct_value().fields().size() == 1);
  pb::json_to_value(Json::parse("[1, 2]"), value);
  pb::json_to_value(Json::parse("[3]"), value);
  CHECK(value.list_value().values_size() == 1);
  pb::json_to_value(Json("now a string"), value);
  CHECK(value.kind_case() == Value::kStringValue);
  pb::json_to_value(Json(nullptr), value);
  CHECK(value.kind_case() == Value::kNullValue);
}
