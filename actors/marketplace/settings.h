// The marketplace's section of the config file: "marketplace".
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace nf::marketplace {

struct marketplace_settings {
  std::int64_t max_files = 1000;                   // per package
  std::int64_t max_file_bytes = 4 << 20;           // per file
  std::int64_t max_package_bytes = 16 << 20;      // all files of a package
  std::int64_t max_binary_bytes = 1 << 20;         // a binary file over this is a scan finding
  bool selftest = true;                            // run packages' selftests (the benchmark gate)
  std::int64_t selftest_wall_ms = 10'000;
  std::int64_t selftest_cpu_seconds = 10;
  std::int64_t selftest_memory_bytes = 512ll << 20;
  std::int64_t selftest_file_bytes = 64ll << 20;
  std::string selftest_dir;                        // empty: <data_dir>/marketplace/selftest
};

// The "marketplace" section of `c` (defaults when absent); errors name the key.
result<marketplace_settings> marketplace_settings_of(const config::config& c);
result<void> check_marketplace_section(const std::string& json_text);

}  // namespace nf::marketplace
