// Low-level RESP appenders. std::to_chars everywhere: no locale, no temporary strings.
#include "codecs/resp/resp_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace rpcgate::codec::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

}  // namespace

void append_header(std::string& out, char type, int64_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  (void)ec;  // 20 digits and a sign always fit
  end[0] = '\r';
  end[1] = '\n';
  out.append(buf, static_cast<size_t>(end + 2 - buf));
}

void append_unsigned_header(std::string& out, char type, uint64_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  (void)ec;
  end[0] = '\r';
  end[1] = '\n';
  out.append(buf, static_cast<size_t>(end + 2 - buf));
}

void append_bulk(std::string& out, std::string_view bytes) {
  append_unsigned_header(out, '$', bytes.size());
  out.append(bytes);
  out.append(kCrlf);
}

void append_simple(std::string& out, char type, std::string_view text) {
  out.push_back(type);
  size_t start = out.size();
  out.append(text);
  for (size_t i = start; i < out.size(); ++i)
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  out.append(kCrlf);
}

// The digits come from std::to_chars (shortest round trip); the layout follows nlohmann's
// format_buffer so that RESP shows a double the way the JSON codec would: fixed notation for
// decimal exponents in (-4, 15], a trailing ".0" on integral values, "e+XX" otherwise.
size_t format_double(double value, char (&buf)[kDoubleTextMax]) {
  auto put = [&buf](std::string_view text) {
    std::memcpy(buf, text.data(), text.size());
    return text.size();
  };
  if (std::isnan(value)) return put("nan");
  if (std::isinf(value)) return put(value < 0 ? "-inf" : "inf");
  if (value == 0) return put(std::signbit(value) ? "-0.0" : "0.0");

  // Scientific form gives the digits and the exponent in one go: "-d.ddde-XX" or "de+XX".
  char sci[kDoubleTextMax];
  auto [sci_end, ec] = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific);
  (void)ec;
  const char* p = sci;
  size_t out = 0;
  if (*p == '-') {
    buf[out++] = '-';
    ++p;
  }
  char digits[20];
  int k = 0;  // number of significant digits
  for (; p < sci_end && *p != 'e'; ++p)
    if (*p != '.') digits[k++] = *p;
  int exponent = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), sci_end, exponent);
  // value = 0.d1d2...dk * 10^n
  const int n = exponent + 1;
  constexpr int kMinExp = -4;
  constexpr int kMaxExp = 15;  // std::numeric_limits<double>::digits10, as nlohmann uses

  char* w = buf + out;
  if (k <= n && n <= kMaxExp) {  // digits[000].0
    std::memcpy(w, digits, static_cast<size_t>(k));
    std::memset(w + k, '0', static_cast<size_t>(n - k));
    w[n] = '.';
    w[n + 1] = '0';
    return out + static_cast<size_t>(n) + 2;
  }
  if (0 < n && n <= kMaxExp) {  // dig.its
    std::memcpy(w, digits, static_cast<size_t>(n));
    w[n] = '.';
    std::memcpy(w + n + 1, digits + n, static_cast<size_t>(k - n));
    return out + static_cast<size_t>(k) + 1;
  }
  if (kMinExp < n && n <= 0) {  // 0.[000]digits
    w[0] = '0';
    w[1] = '.';
    std::memset(w + 2, '0', static_cast<size_t>(-n));
    std::memcpy(w + 2 - n, digits, static_cast<size_t>(k));
    return out + 2 + static_cast<size_t>(-n) + static_cast<size_t>(k);
  }
  // d[.igits]e+XX, at least two exponent digits like printf("%g")
  size_t len = 0;
  w[len++] = digits[0];
  if (k > 1) {
    w[len++] = '.';
    std::memcpy(w + len, digits + 1, static_cast<size_t>(k - 1));
    len += static_cast<size_t>(k - 1);
  }
  w[len++] = 'e';
  int e = n - 1;
  w[len++] = e < 0 ? '-' : '+';
  if (e < 0) e = -e;
  if (e < 10) w[len++] = '0';
  auto [exp_end, exp_ec] = std::to_chars(w + len, buf + kDoubleTextMax, e);
  (void)exp_ec;
  return static_cast<size_t>(exp_end - buf);
}

}  // namespace rpcgate::codec::resp
