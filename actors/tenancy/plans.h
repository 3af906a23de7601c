// Plans, quotas and their arithmetic (pure).
//
// Quotas: events appended per day, stored bytes, API requests per minute, concurrent workflow
// runs, installed agents, declared CPU (millicores) and memory (MiB) reservations. A plan gives
// defaults; a tenant may override any of them. A limit of -1 means unlimited.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/base/result.h"

namespace nf::tenancy {

enum class quota : std::uint8_t {
  events_per_day,
  stored_bytes,
  requests_per_minute,
  concurrent_runs,
  installed_agents,
  cpu_millicores,
  memory_mib,
};
inline constexpr std::size_t kQuotaCount = 7;
inline constexpr std::array<quota, kQuotaCount> kQuotas = {quota::events_per_day,   quota::stored_bytes,     quota::requests_per_minute,
                                                           quota::concurrent_runs, quota::installed_agents, quota::cpu_millicores,
                                                           quota::memory_mib};

// JSON names: eventsPerDay, storedBytes, requestsPerMinute, concurrentRuns, installedAgents,
// cpuMillicores, memoryMib.
std::string_view name(quota q);
std::optional<quota> parse_quota(std::string_view json_name);

enum class plan : std::uint8_t { basic, pro, enterprise };
std::string_view name(plan p);
result<plan> parse_plan(std::string_view s);

struct limits {
  std::array<std::int64_t, kQuotaCount> value{};  // -1: unlimited
  std::int64_t operator[](quota q) const { return value[static_cast<std::size_t>(q)]; }
  std::int64_t& operator[](quota q) { return value[static_cast<std::size_t>(q)]; }
  bool operator==(const limits&) const = default;
};

// Every quota unlimited (the platform admin's).
inline limits unlimited() {
  limits l;
  l.value.fill(-1);
  return l;
}

using overrides = std::map<quota, std::int64_t>;

limits plan_defaults(plan p);
limits effective(plan p, const overrides& o);
// {"eventsPerDay": 5000, ...}: unknown names, non-integers and values below -1 are errors that
// name the field.
result<overrides> parse_overrides(const nlohmann::json& j);
nlohmann::json to_json(const limits& l);

// Whether `amount` more fits under `limit` when `used` is taken.
struct admission {
  bool allowed = true;
  std::int64_t limit = -1;
  std::int64_t used = 0;
  std::int64_t requested = 0;
};
admission admit(std::int64_t limit, std::int64_t used, std::int64_t amount);

// Alert thresholds (percent of a limit) crossed when usage goes from `before` to `after`.
inline constexpr std::array<int, 2> kAlertThresholds = {80, 100};
std::vector<int> crossed(std::int64_t limit, std::int64_t before, std::int64_t after);

}  // namespace nf::tenancy
