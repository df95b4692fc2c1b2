// Python-compatible double formatting. std::to_chars gives the shortest round-trip digits; the
// layout around them follows CPython's float_repr_style "short" (format code 'r').
#include "codecs/json/python_float.h"

#include <array>
#include <charconv>
#include <cstdlib>
#include <string_view>

namespace rpcgate::codec::json {

void append_python_double(double value, std::string& out) {
  // Scientific form with no precision is the shortest representation: "d.ddde+XX".
  std::array<char, 64> sci{};
  auto result = std::to_chars(sci.data(), sci.data() + sci.size(), value,
                              std::chars_format::scientific);  // 64 bytes always suffice
  std::string_view text(sci.data(), static_cast<size_t>(result.ptr - sci.data()));

  if (!text.empty() && text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  size_t e_pos = text.find('e');
  std::string_view mantissa = text.substr(0, e_pos);
  std::string_view exp_text = text.substr(e_pos + 1);  // "+XX" or "-XX"
  int exponent = 0;
  std::from_chars(exp_text.data() + 1, exp_text.data() + exp_text.size(), exponent);
  if (exp_text.front() == '-') exponent = -exponent;

  std::array<char, 24> digits{};
  size_t count = 0;
  for (char c : mantissa)
    if (c != '.') digits[count++] = c;
  std::string_view d(digits.data(), count);

  // CPython's decpt: the value is 0.<digits> * 10^decpt.
  int decpt = exponent + 1;
  if (decpt <= -4 || decpt > 16) {
    out += d[0];
    if (count > 1) {
      out += '.';
      out.append(d.substr(1));
    }
    out += 'e';
    out += exponent < 0 ? '-' : '+';
    int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    std::array<char, 8> buffer{};
    auto written = std::to_chars(buffer.data(), buffer.data() + buffer.size(), magnitude);
    out.append(buffer.data(), written.ptr);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out.append(d);
  } else if (static_cast<size_t>(decpt) >= count) {
    out.append(d);
    out.append(static_cast<size_t>(decpt) - count, '0');
    out += ".0";
  } else {
    out.append(d.substr(0, static_cast<size_t>(decpt)));
    out += '.';
    out.append(d.substr(static_cast<size_t>(decpt)));
  }
}

}  // namespace rpcgate::codec::json
