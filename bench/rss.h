// The process's resident set size, for the memory benchmarks.
#pragma once

#include <fstream>
#include <string>

namespace nf::bench {

// VmRSS from /proc/self/status in KiB; -1 when it cannot be read.
inline long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace nf::bench
