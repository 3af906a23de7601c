#include "actors/workflows/settings.h"

#include "core/config/section.h"

namespace nf::workflows {
namespace {

const std::set<std::string> kKeys = {"emit_topics", "http_allow", "timer_period_ms", "trigger_topics"};

result<workflows_settings> read(const config::section_reader& r) {
  workflows_settings s;
  NF_TRY(r.get("emit_topics", s.emit_topics));
  NF_TRY(r.get("http_allow", s.http_allow));
  NF_TRY(r.get("timer_period_ms", s.timer_period_ms));
  NF_TRY(r.get("trigger_topics", s.trigger_topics));
  for (const auto& t : s.trigger_topics)
    if (t.rfind("workflow.", 0) == 0 || t.rfind("commands.", 0) == 0 || t == "*")
      return r.bad("trigger_topics", "'" + t + "' would let workflows trigger on the engine's own topics");
  if (s.timer_period_ms < 1 || s.timer_period_ms > 10'000) return r.bad("timer_period_ms", "must be from 1 to 10000");
  for (const auto& t : s.emit_topics)
    if (t.rfind("workflow.", 0) == 0 || t.rfind("commands.", 0) == 0 || t.rfind("platform.", 0) == 0 || t.rfind("tenancy.", 0) == 0 || t == "*")
      return r.bad("emit_topics", "'" + t + "' would let workflows write the platform's own topics");
  return s;
}

}  // namespace

result<workflows_settings> workflows_settings_of(const config::config& c) {
  NF_TRY_ASSIGN(auto r, config::section_reader::open(c, "workflows", kKeys));
  return read(r);
}

result<void> check_workflows_section(const std::string& json_text) {
  NF_TRY_ASSIGN(auto r, config::section_reader::parse("workflows", json_text, kKeys));
  NF_TRY(read(r));
  return ok();
}

}  // namespace nf::workflows
