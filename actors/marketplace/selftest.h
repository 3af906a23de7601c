// The benchmark gate: runs a package's `selftest` command in a child process, in a temporary
// directory holding the package's files, with CPU, memory, wall-time and file-size limits and an
// empty environment (PATH, HOME and TMPDIR only, so no secret of the server's is inherited).
// Records wall time, CPU time, peak RSS, the exit status and the tail of its output.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::marketplace {

struct selftest_limits {
  std::chrono::milliseconds wall{10'000};
  std::chrono::seconds cpu{10};
  std::uint64_t memory_bytes = 512ull << 20;  // address space
  std::uint64_t file_bytes = 64ull << 20;     // any one file it writes
};

struct selftest_file {
  std::string path;        // relative, already validated
  std::string_view bytes;
  bool executable = false;
};

struct selftest_result {
  int exit_status = -1;    // -1: killed by a signal
  int signal = 0;
  std::int64_t wall_ms = 0, cpu_ms = 0, peak_rss_kb = 0;
  std::string limit_hit;   // wall_time | cpu_time | file_size | memory, or empty
  std::string output_tail; // the last 4 KiB of stdout and stderr together
  bool passed() const { return exit_status == 0 && limit_hit.empty(); }
};

// Runs `command` with /bin/sh -c in a fresh directory under `tmp_root` (removed afterwards).
result<selftest_result> run_selftest(const std::string& command, const std::vector<selftest_file>& files, const selftest_limits& limits,
                                     const std::string& tmp_root);

}  // namespace nf::marketplace
