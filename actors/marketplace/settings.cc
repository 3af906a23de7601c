#include "actors/marketplace/settings.h"

#include "core/config/section.h"

namespace nf::marketplace {
namespace {

result<marketplace_settings> read(const config::section_reader& r) {
  marketplace_settings s;
  NF_TRY(r.get("max_files", s.max_files));
  NF_TRY(r.get("max_file_bytes", s.max_file_bytes));
  NF_TRY(r.get("max_package_bytes", s.max_package_bytes));
  NF_TRY(r.get("max_binary_bytes", s.max_binary_bytes));
  NF_TRY(r.get("selftest", s.selftest));
  NF_TRY(r.get("selftest_wall_ms", s.selftest_wall_ms));
  NF_TRY(r.get("selftest_cpu_seconds", s.selftest_cpu_seconds));
  NF_TRY(r.get("selftest_memory_bytes", s.selftest_memory_bytes));
  NF_TRY(r.get("selftest_file_bytes", s.selftest_file_bytes));
  NF_TRY(r.get("selftest_dir", s.selftest_dir));
  for (const auto& [key, v] : std::initializer_list<std::pair<const char*, std::int64_t>>{
           {"max_files", s.max_files}, {"max_file_bytes", s.max_file_bytes}, {"max_package_bytes", s.max_package_bytes},
           {"max_binary_bytes", s.max_binary_bytes}, {"selftest_wall_ms", s.selftest_wall_ms},
           {"selftest_cpu_seconds", s.selftest_cpu_seconds}, {"selftest_memory_bytes", s.selftest_memory_bytes},
           {"selftest_file_bytes", s.selftest_file_bytes}})
    if (v <= 0) return r.bad(key, "must be greater than 0");
  if (s.max_file_bytes > s.max_package_bytes) return r.bad("max_file_bytes", "must not exceed max_package_bytes");
  if (s.max_package_bytes > (256ll << 20)) return r.bad("max_package_bytes", "must be at most 268435456 (256 MiB)");
  return s;
}

const std::set<std::string> kKeys = {"max_files", "max_file_bytes", "max_package_bytes", "max_binary_bytes", "selftest",
                                     "selftest_wall_ms", "selftest_cpu_seconds", "selftest_memory_bytes", "selftest_file_bytes",
                                     "selftest_dir"};

}  // namespace

result<marketplace_settings> marketplace_settings_of(const config::config& c) {
  NF_TRY_ASSIGN(auto r, config::section_reader::open(c, "marketplace", kKeys));
  return read(r);
}

result<void> check_marketplace_section(const std::string& json_text) {
  NF_TRY_ASSIGN(auto r, config::section_reader::parse("marketplace", json_text, kKeys));
  NF_TRY(read(r));
  return ok();
}

}  // namespace nf::marketplace
