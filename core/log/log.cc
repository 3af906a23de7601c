// Logger registry: loggers share one stderr sink and one level.
#include "core/log/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace nf::log {
namespace {
std::mutex mu;
spdlog::level::level_enum current = spdlog::level::info;
}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  std::lock_guard lk(mu);
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = spdlog::stderr_color_mt(module);
  logger->set_level(current);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  return logger;
}

bool set_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  std::lock_guard lk(mu);
  current = lvl;
  spdlog::set_level(lvl);
  return true;
}

}  // namespace nf::log
