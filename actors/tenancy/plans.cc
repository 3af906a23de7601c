// Plans and quota arithmetic.
#include "actors/tenancy/plans.h"

#include <nlohmann/json.hpp>

namespace nf::tenancy {
namespace {

constexpr std::array<std::string_view, kQuotaCount> kNames = {"eventsPerDay",    "storedBytes",     "requestsPerMinute", "concurrentRuns",
                                                              "installedAgents", "cpuMillicores",   "memoryMib"};

}  // namespace

std::string_view name(quota q) { return kNames[static_cast<std::size_t>(q)]; }

std::optional<quota> parse_quota(std::string_view n) {
  for (std::size_t i = 0; i < kQuotaCount; ++i)
    if (kNames[i] == n) return kQuotas[i];
  return std::nullopt;
}

std::string_view name(plan p) {
  switch (p) {
    case plan::basic: return "basic";
    case plan::pro: return "pro";
    case plan::enterprise: return "enterprise";
  }
  return "basic";
}

result<plan> parse_plan(std::string_view s) {
  if (s == "basic") return plan::basic;
  if (s == "pro") return plan::pro;
  if (s == "enterprise") return plan::enterprise;
  return error{errc::invalid_argument, "'plan' must be one of basic|pro|enterprise, got '" + std::string(s) + "'"};
}

limits plan_defaults(plan p) {
  limits l;
  switch (p) {
    case plan::basic:
      l.value = {10'000, std::int64_t{1} << 30, 600, 2, 5, 2'000, 4'096};
      break;
    case plan::pro:
      l.value = {1'000'000, std::int64_t{100} << 30, 6'000, 20, 50, 32'000, 65'536};
      break;
    case plan::enterprise:
      l.value = {100'000'000, std::int64_t{10} << 40, 60'000, 500, 1'000, 512'000, 1'048'576};
      break;
  }
  return l;
}

limits effective(plan p, const overrides& o) {
  auto l = plan_defaults(p);
  for (const auto& [q, v] : o) l[q] = v;
  return l;
}

result<overrides> parse_overrides(const nlohmann::json& j) {
  if (!j.is_object()) return error{errc::invalid_argument, "'quotas' must be an object of quota names to limits"};
  overrides o;
  for (const auto& [k, v] : j.items()) {
    auto q = parse_quota(k);
    if (!q) return error{errc::invalid_argument, "unknown quota 'quotas." + k + "'"};
    if (!v.is_number_integer() || v.get<std::int64_t>() < -1)
      return error{errc::invalid_argument, "'quotas." + k + "' must be an integer >= 0, or -1 for unlimited"};
    o[*q] = v.get<std::int64_t>();
  }
  return o;
}

nlohmann::json to_json(const limits& l) {
  nlohmann::json j = nlohmann::json::object();
  for (auto q : kQuotas) j[std::string(name(q))] = l[q];
  return j;
}

admission admit(std::int64_t limit, std::int64_t used, std::int64_t amount) {
  admission a{true, limit, used, amount};
  if (limit >= 0 && (amount > limit || used > limit - amount)) a.allowed = false;
  return a;
}

std::vector<int> crossed(std::int64_t limit, std::int64_t before, std::int64_t after) {
  std::vector<int> out;
  if (limit <= 0 || after <= before) return out;
  for (int t : kAlertThresholds) {
    // The smallest usage at or above t% of the limit, in integers: ceil(limit * t / 100).
    const std::int64_t mark = limit / 100 * t + ((limit % 100) * t + 99) / 100;
    if (before < mark && after >= mark) out.push_back(t);
  }
  return out;
}

}  // namespace nf::tenancy
