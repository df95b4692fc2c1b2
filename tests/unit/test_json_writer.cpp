// The json codec's text layer: doubles, strings and whole values written exactly as Python's
// json.dumps() writes them (expectations generated with CPython 3.11), plus base64 and UTF-8.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "codecs/base64.h"
#include "codecs/json/json_writer.h"
#include "codecs/json/python_float.h"
#include "codecs/utf8.h"

using rpcgate::Json;
namespace json = rpcgate::codec::json;
namespace codec = rpcgate::codec;

namespace {

std::string python_double(double value) {
  std::string out;
  json::append_python_double(value, out);
  return out;
}

std::string dumps(const Json& value) {
  std::string out;
  json::write_json(value, out);
  return out;
}

std::string dumps_string(std::string_view text) {
  std::string out;
  json::write_json_string(text, out);
  return out;
}

struct DoubleCase {
  uint64_t bits;
  const char* python;  // json.dumps(struct.unpack("<d", bits))
};

// Hand-picked edges (exponent switch points, subnormals, extremes), then seeded random doubles.
const std::vector<DoubleCase> kDoubles = {
    {0x400921fb54442d18ULL, "3.141592653589793"},
    {0x3fb999999999999aULL, "0.1"},
    {0x3fd3333333333333ULL, "0.3"},
    {0x3fd5555555555555ULL, "0.3333333333333333"},
    {0x3fe5555555555555ULL, "0.6666666666666666"},
    {0x3ff0000000000000ULL, "1.0"},
    {0xbff0000000000000ULL, "-1.0"},
    {0x4059000000000000ULL, "100.0"},
    {0x430c6bf526340000ULL, "1000000000000000.0"},
    {0x4341c37937e08000ULL, "1e+16"},
    {0x4341c37937e07fffULL, "9999999999999998.0"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},
    {0x3f1f75104d551d69ULL, "0.00012"},
    {0x3e8421f5f40d8376ULL, "1.5e-07"},
    {0x444b1ae4d6e2ef50ULL, "1e+21"},
    {0x4480f0cf064dd592ULL, "1e+22"},
    {0x54b249ad2594c37dULL, "1e+100"},
    {0x01a56e1fc2f8f359ULL, "1e-300"},
    {0x0000000000000001ULL, "5e-324"},
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
    {0x4340000000000000ULL, "9007199254740992.0"},
    {0x4340000000000001ULL, "9007199254740994.0"},
    {0x43118b54f22aeb03ULL, "1234567890123456.8"},
    {0x43e56a95319d63e1ULL, "1.2345678901234567e+19"},
    {0x405edd2f1a9fbe77ULL, "123.456"},
    {0x8000000000000000ULL, "-0.0"},
    {0x0000000000000000ULL, "0.0"},
    {0x3fe0000000000000ULL, "0.5"},
    {0xbefa36e2eb1c432dULL, "-2.5e-05"},
    {0x44b52d02c7e14af6ULL, "1e+23"},
    {0x4021000000000000ULL, "8.5"},
    {0xf2a74de452e6b438ULL, "-1.989032661366619e+244"},
    {0x6513270e269e0d37ULL, "7.761117632285041e+178"},
    {0x0c5c7fd0a6a3a450ULL, "3.980498358697587e-249"},
    {0xd23f0824128b2f33ULL, "-1.5432835417340557e+88"},
    {0x1818e811892f902bULL, "1.3647584518757569e-192"},
    {0x9531985d5d9dc9f8ULL, "-1.3701135617873088e-206"},
    {0xe8e25d940ed90475ULL, "-1.7160537630466207e+197"},
    {0x36f675cc81e74ef5ULL, "6.294675241195386e-44"},
    {0x1600a35a099950d8ULL, "1.0613447212142254e-202"},
    {0x6b0d549b6f03675aULL, "4.708325160387546e+207"},
    {0x3d9c172411e20b8fULL, "6.387016158513563e-12"},
    {0x8d116ece1738f7d9ULL, "-9.973130378568733e-246"},
    {0x0f21ddb66cad4a26ULL, "8.779753225680271e-236"},
    {0x90c192cfd3ac94afULL, "-5.795503248498993e-228"},
    {0xf28c105d1fb17c23ULL, "-5.988180159386011e+243"},
    {0xa170b33839263059ULL, "-1.306052388527796e-147"},
    {0x953f48f1a09f76b5ULL, "-2.436117699484841e-206"},
    {0x0fd630f1f29d0da9ULL, "2.233386999150174e-232"},
    {0x95e60af593bd04cfULL, "-3.51527970626667e-203"},
    {0x0cb1e29c658cda14ULL, "1.5987381841032883e-247"},
    {0x3898d190f9ebdaccULL, "4.6678633181812096e-36"},
    {0x8e81973e0becd7b0ULL, "-8.441872792105456e-239"},
    {0x2217beaddbc496cbULL, "1.9015657400796622e-144"},
    {0x6b4cb2424a23d596ULL, "7.370437700706684e+208"},
    {0xc125b683aaa45910ULL, "-711489.833285125"},
    {0xc12753ff0c352f28ULL, "-764415.5238432633"},
    {0xc11760f1683d3ebaULL, "-383036.35179613123"},
    {0x41234b796fbd2958ULL, "632252.7182400627"},
    {0xc1237ca67af53826ULL, "-638547.240152125"},
    {0x4103ec029e5c88c0ULL, "163200.32732493244"},
    {0x4110f50bc05c5f08ULL, "277826.9378523682"},
    {0xc10f272750fed2dcULL, "-255204.91454853758"},
    {0x40f7500ee717bb10ULL, "95488.93141911575"},
    {0xc12aaf6c19a097daULL, "-874422.0500533537"},
    {0xc12ae13b51f45f35ULL, "-880797.6600675347"},
    {0xc121f2652612b0c2ULL, "-588082.5743613469"},
    {0x40f09c7ff503e80cULL, "68039.99731817859"},
    {0x4127b8198cca48caULL, "777228.774980807"},
    {0x4121deb3ba1dac58ULL, "585561.8635076387"},
    {0x3fa283550eb7f030ULL, "0.036158235594456634"},
    {0x42d20fe5ab9a6e47ULL, "79437948152249.11"},
    {0x3eaa2aaf7e36c603ULL, "7.798296305842437e-07"},
    {0x418b64021834f9cfULL, "57442371.0258671"},
    {0x4048c17d49783851ULL, "49.511635955525556"},
};

}  // namespace

TEST_CASE("doubles print as Python's repr: shortest round-trip digits, Python's layout") {
  for (const auto& c : kDoubles) {
    double value = std::bit_cast<double>(c.bits);
    CAPTURE(c.python);
    CHECK(python_double(value) == c.python);
    CHECK(dumps(Json(value)) == c.python);
    // And the text reads back to the very same double.
    CHECK(std::bit_cast<uint64_t>(Json::parse(python_double(value)).get<double>()) == c.bits);
  }
}

TEST_CASE("the legacy pi answer prints as the legacy service prints it") {
  CHECK(dumps(Json(3.141592653589793)) == "3.141592653589793");
  CHECK(dumps(Json(std::sqrt(8 * (1 + 1.0 / 9)))) == "2.9814239699997196");
}

TEST_CASE("NaN and infinities, which JSON cannot carry, print as null") {
  CHECK(dumps(Json(std::numeric_limits<double>::quiet_NaN())) == "null");
  CHECK(dumps(Json(std::numeric_limits<double>::infinity())) == "null");
  CHECK(dumps(Json(-std::numeric_limits<double>::infinity())) == "null");
}

TEST_CASE("strings are escaped as json.dumps escapes them (ensure_ascii)") {
  struct Case {
    std::string input;
    std::string python;
  };
  const std::vector<Case> cases = {
      {"plain", R"("plain")"},
      {R"(quote " and \\ backslash)", R"("quote \" and \\\\ backslash")"},
      {"\n\r\t\b\f", R"("\n\r\t\b\f")"},
      {std::string("\x00\x01\x1f\x7f", 4), R"("\u0000\u0001\u001f\u007f")"},
      {"\xc3\xa9", R"("\u00e9")"},
      {"\xe6\x97\xa5\xe6\x9c\xac", R"("\u65e5\u672c")"},
      {"\xf0\x9f\x98\x80", R"("\ud83d\ude00")"},
      {"\xe2\x80\xa8", R"("\u2028")"},
      {"", R"("")"},
      {"mixed \xc3\xa9 and \xf0\x9f\x98\x80 and \x7f", R"("mixed \u00e9 and \ud83d\ude00 and \u007f")"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.python);
    CHECK(dumps_string(c.input) == c.python);
    CHECK(Json::parse(c.python).get<std::string>() == c.input);  // and it reads back
  }
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD, one per bad byte") {
  CHECK(dumps_string("a\xff"
                     "b") == R"("a\ufffdb")");
  CHECK(dumps_string("\xc3") == R"("\ufffd")");                                // cut short
  CHECK(dumps_string("\xc0\xaf") == R"("\ufffd\ufffd")");                      // overlong
  CHECK(dumps_string("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");            // a surrogate
  CHECK(dumps_string("\xf4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
  CHECK(dumps_string("\xf4\x8f\xbf\xbf") == R"("\udbff\udfff")");              // U+10FFFF itself is fine
}

TEST_CASE("whole values use Python's separators") {
  Json value = Json::parse(R"({"a": [1, -2, 2.5, null, true, false, "x"], "b": {}, "c": []})");
  CHECK(dumps(value) == R"({"a": [1, -2, 2.5, null, true, false, "x"], "b": {}, "c": []})");
  CHECK(dumps(Json(std::numeric_limits<uint64_t>::max())) == "18446744073709551615");
  CHECK(dumps(Json(std::numeric_limits<int64_t>::min())) == "-9223372036854775808");
  CHECK(dumps(Json(1.0)) == "1.0");  // a double stays a double, as in Python
  CHECK(dumps(Json(1)) == "1");
  CHECK(dumps(Json::parse(R"({"\u00e9": {"k": [[]]}})")) == R"({"\u00e9": {"k": [[]]}})");
}

TEST_CASE("object keys come out in nlohmann::json's (sorted) order") {
  CHECK(dumps(Json::parse(R"({"b": 1, "a": 2})")) == R"({"a": 2, "b": 1})");
}

TEST_CASE("binary values print as a base64 string") {
  CHECK(dumps(Json::binary({0xff, 0x00, 0x41})) == R"("/wBB")");
  CHECK(dumps(Json::binary({})) == R"("")");
}

TEST_CASE("base64 follows RFC 4648's test vectors") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [input, expected] : vectors) {
    std::string out = "prefix:";
    codec::append_base64({reinterpret_cast<const uint8_t*>(input.data()), input.size()}, out);
    CHECK(out == "prefix:" + expected);
    CHECK(codec::base64_size(input.size()) == expected.size());
  }
}

TEST_CASE("UTF-8 validation and repair") {
  CHECK(codec::is_valid_utf8(""));
  CHECK(codec::is_valid_utf8("ascii"));
  CHECK(codec::is_valid_utf8("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"));
  CHECK_FALSE(codec::is_valid_utf8("\xff"));
  CHECK_FALSE(codec::is_valid_utf8("\xe6\x97"));
  CHECK_FALSE(codec::is_valid_utf8("\xed\xbf\xbf"));
  std::string repaired;
  codec::append_utf8_replacing("a\xff\xc3\xa9", repaired);
  CHECK(repaired == "a\xef\xbf\xbd\xc3\xa9");
}

TEST_CASE("writing appends and never disturbs what the buffer held") {
  std::string out = "keep";
  json::write_json(Json::parse(R"([1, "two"])"), out);
  CHECK(out == R"(keep[1, "two"])");
}
