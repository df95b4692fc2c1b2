// Doubles as text exactly as Python's repr() and json.dumps() write them: the shortest digits that
// read back to the same double, fixed notation for decimal exponents -4..15, else e+XX / e-XX.
#pragma once

#include <string>

namespace rpcgate::codec::json {

// Appends the text of a finite `value` ("3.141592653589793", "1e+16", "-0.0", "1.0").
void append_python_double(double value, std::string& out);

}  // namespace rpcgate::codec::json
