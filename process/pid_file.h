// The master's pid file: written at start, removed at exit. The path stays the one written, so
// a reload that changes process.pid_file still removes the right file at exit. `rpcgate -s`
// reads it back (read_pid_file).
#pragma once

#include <sys/types.h>

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

// The pid in `path`; false with the reason in `error` when the file is missing, unreadable or
// holds no pid.
bool read_pid_file(const std::string& path, pid_t& pid, std::string& error);

}  // namespace rpcgate
