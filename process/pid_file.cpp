#include "process/pid_file.h"

#include <unistd.h>

#include <fstream>

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

}  // namespace rpcgate
