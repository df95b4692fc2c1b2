// The master's pid file: written at start, removed at exit. The path stays the one written, so
// a reload that changes process.pid_file still removes the right file at exit.
#pragma once

#include <string>

namespace rpcgate {

class PidFile {
 public:
  // Writes this process's pid to `path`; an empty path writes nothing. A failure is logged only.
  void write(const std::string& path);
  // Removes the file written, if any.
  void remove() const;

 private:
  std::string path_;
};

}  // namespace rpcgate
