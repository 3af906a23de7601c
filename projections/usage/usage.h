// Usage metering: events and bytes appended per tenant per UTC day, folded from every topic.
//
// In: every topic ("*"); events whose envelope names a tenant count for it, on the day of their
//     bus timestamp; bytes are the record's key + value. The platform's own records about a
//     tenant (tenancy.audit, tenancy.usage) are not its usage; of them this folds
//     tenancy.requests_metered (requests the gateway served) and tenancy.usage_alert.
// Keys: d/<tenant>/<YYYY-MM-DD> -> events (8 bytes BE) || bytes (8 bytes BE);
//       s/<tenant> -> bytes appended in total (stored bytes before retention);
//       r/<tenant>/<YYYY-MM-DD> -> requests (8 bytes BE);
//       al/<tenant>/<period>/<quota>/<threshold> -> the alert (JSON), the first one only.
// The counters and the consumed offsets commit in one WriteBatch, so a crash or a replay never
// counts an event twice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"
#include "core/projection/touched.h"

namespace nf::events {
class Envelope;
}

namespace nf::usage {

// The platform's records about tenants' usage: requests metered, alerts, refusals.
inline constexpr const char* kUsageTopic = "tenancy.usage";

class usage_projection final : public projection::projection {
 public:
  // Tenants whose counters changed since the last call (for alert checks once a batch is
  // committed); a rebuild or replay reports them again, which alerts tolerate (once per period).
  std::vector<std::string> drain_touched();
  std::string name() const override { return "usage"; }
  std::vector<std::string> topics() const override { return {"*"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }

 private:
  result<void> apply_usage_record(const events::Envelope& env, ::nf::projection::state_writer& w);
  ::nf::projection::touched_set touched_;
};

struct day_usage {
  std::string date;  // YYYY-MM-DD
  std::int64_t events = 0;
  std::int64_t bytes = 0;
  std::int64_t requests = 0;
};

class usage_view {
 public:
  usage_view(::nf::projection::store& store, const usage_projection& proj) : store_(store), proj_(proj) {}
  // Days with usage in a month ("YYYY-MM"), ascending.
  result<std::vector<day_usage>> month(const tenant_id& tenant, const std::string& period) const;
  result<day_usage> day(const tenant_id& tenant, const std::string& date) const;
  result<std::int64_t> stored_bytes(const tenant_id& tenant) const;
  // Events appended on `date` and bytes stored, from one snapshot (the write-quota check).
  struct write_usage {
    std::int64_t events_today = 0;
    std::int64_t stored_bytes = 0;
  };
  result<write_usage> for_writes(const tenant_id& tenant, const std::string& date) const;
  // Alerts given in periods starting with `period_prefix` ("2026-11" covers the month and its days).
  result<std::vector<nlohmann::json>> alerts(const tenant_id& tenant, const std::string& period_prefix) const;
  result<bool> alerted(const tenant_id& tenant, const std::string& period, const std::string& quota, int threshold) const;

 private:
  ::nf::projection::store& store_;
  const usage_projection& proj_;
};

// "YYYY-MM-DD" of a unix time in ms, UTC.
std::string utc_date(std::int64_t unix_ms);
// Valid "YYYY-MM".
bool valid_period(const std::string& period);

}  // namespace nf::usage
