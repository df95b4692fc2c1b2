#include "process/pid_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace rpcgate {

void PidFile::write(const std::string& path) {
  if (path.empty()) return;
  path_ = path;
  std::ofstream out(path_, std::ios::trunc);
  out << getpid() << "\n";
  if (!out) LOG_ERROR("master: cannot write pid_file %s", path_.c_str());
}

void PidFile::remove() const {
  if (!path_.empty()) unlink(path_.c_str());
}

bool read_pid_file(const std::string& path, pid_t& pid, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read the pid file " + path + ": " + std::strerror(errno) +
            (errno == ENOENT ? " (is rpcgate running with this configuration?)" : "");
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  long long value = 0;
  std::string rest;
  if (!(text >> value) || value <= 0 || value > INT32_MAX || (text >> rest)) {
    error = "the pid file " + path + " holds no pid";
    return false;
  }
  pid = static_cast<pid_t>(value);
  return true;
}

}  // namespace rpcgate
