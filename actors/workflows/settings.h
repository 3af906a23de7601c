// The workflows section of the config file:
//   workflows.emit_topics   topics (or "prefix.*" patterns) emit_event nodes may write; default mission.*, app.*
//   workflows.http_allow    hosts ("host" or "host:port") http_request nodes may call; default none
//   workflows.timer_period_ms  how often due timers are looked for; default 10
//   workflows.trigger_topics   topics (or patterns) triggers and wait_for_event nodes may name; default mission.*, app.*
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/config/config.h"

namespace nf::workflows {

struct workflows_settings {
  std::vector<std::string> emit_topics{"mission.*", "app.*"};
  std::vector<std::string> http_allow;
  std::int64_t timer_period_ms = 10;
  std::vector<std::string> trigger_topics{"mission.*", "app.*"};
};

result<workflows_settings> workflows_settings_of(const config::config& c);
result<void> check_workflows_section(const std::string& json_text);

}  // namespace nf::workflows
