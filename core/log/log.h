// One spdlog logger per module, all writing to stderr so stdout stays clean for --json output.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace nf::log {

// Returns the logger named `module`, creating it on first use.
std::shared_ptr<spdlog::logger> get(const std::string& module);

// Sets the level of every logger ("trace".."off"); false if the name is unknown.
bool set_level(const std::string& level);

}  // namespace nf::log
