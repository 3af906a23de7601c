// Who may do what on every gateway route (internal to the gateway library).
//
// For each request: the caller is resolved by the tenancy directory (401 without a context, 403
// for a suspended tenant); a tenant's requests are rate limited with a token bucket at its
// requestsPerMinute (429 + Retry-After; nothing is appended) and metered per UTC day; the route's
// permission is checked (403 naming it); writes are held to the daily event and stored-bytes
// quotas (429 naming the quota, its limit and current use, and a tenancy.quota_exceeded event);
// usage crossing 80 % or 100 % of a quota emits tenancy.usage_alert once per period; every
// authenticated request is recorded on tenancy.audit.
//
// Audit records, request meters, alerts and refusals are written by one background writer in
// batches (every 100 ms, or sooner when 512 wait), so the hot path never waits on the bus for
// them. stop() (and the destructor) writes what is left.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "actors/gateway/gateway.h"
#include "actors/gateway/http_util.h"
#include "actors/tenancy/directory.h"
#include "actors/tenancy/plans.h"
#include "actors/tenancy/token_bucket.h"
#include "core/bus/bus.h"
#include "core/event/ids.h"
#include "projections/usage/usage.h"

namespace nf::gateway {

using usage::kUsageTopic;

// The period an alert on a quota is given once in: the UTC day (eventsPerDay, requestsPerMinute)
// or the UTC month (the others).
std::string alert_period(tenancy::quota q, std::int64_t now_ms);

// 401 with WWW-Authenticate, 403 or 429 for a resolution or permission error.
response auth_error(const error& e, const request& req);

class access {
 public:
  access(bus::event_bus& bus, projection::store& store, const tenancy_options& o, const nf::clock& clk, std::string region);
  ~access();
  access(const access&) = delete;
  access& operator=(const access&) = delete;

  // The caller of a request, rate limited and metered when it is a tenant: its context, or the
  // 401/403/429 answer.
  std::variant<tenancy::context, response> admit(const request& req);
  // nullopt when the caller holds `permission`; otherwise 403 naming it.
  std::optional<response> require(const tenancy::context& c, std::string_view permission, const request& req) const;
  // Checks the daily events and stored-bytes quotas before `bytes` in one event are appended for
  // the caller's tenant: nullopt to go ahead, or 429 naming the quota.
  std::optional<response> admit_write(const tenancy::context& c, std::int64_t bytes, const std::string& route, const request& req);
  // A refused reservation or write: tenancy.quota_exceeded (at most once a minute per tenant and
  // quota for writes; always for reservations when `always`).
  void quota_exceeded(const std::string& tenant, tenancy::quota q, const tenancy::admission& a, const std::string& route, bool always);
  // Usage of `q` is now `used` of `limit`: alerts at 80 % and 100 %, once per period.
  void observe(const std::string& tenant, tenancy::quota q, std::int64_t limit, std::int64_t used);
  // After the usage projection committed new counts for `tenants`: their daily event and
  // stored-bytes alerts, whichever path wrote the events (gateway, actors, producers).
  void usage_applied(const std::vector<std::string>& tenants);
  // Records an authenticated request on tenancy.audit.
  void audit(const tenancy::context& c, const request& req, const std::string& route, const std::string& path, unsigned status);

  // Writes what is queued and stops the writer.
  void stop();

 private:
  // What an audit record says; the event is built by the writer, off the request's path.
  struct audit_entry {
    std::string principal, method, route, target;
    std::vector<std::string> roles;
    unsigned status = 0;
  };
  struct pending {
    std::string topic, type, tenant;
    std::int64_t at = 0;
    json payload;                          // unless `audit`
    std::optional<audit_entry> audit;
    std::optional<event::event_id> id;
  };
  void enqueue(pending p);
  void enqueue(const std::string& topic, const std::string& type, const std::string& tenant, json payload,
               std::optional<event::event_id> id = std::nullopt);
  void run();
  void write_batch(std::unique_lock<std::mutex>& lk);
  void meter(const std::string& tenant);

  bus::event_bus& bus_;
  tenancy_options opts_;
  const nf::clock& clk_;
  std::string region_;
  std::optional<usage::usage_view> usage_;
  tenancy::rate_limiter limiter_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pending> queue_;
  std::map<std::pair<std::string, std::string>, std::int64_t> requests_;  // (tenant, date) -> requests since the last write
  bool stopping_ = false;
  std::thread writer_;

  std::mutex alert_mu_;
  std::set<std::string> alerted_;                                 // tenant|quota|period|threshold
  std::unordered_map<std::string, std::int64_t> refused_at_;      // tenant|quota -> last quota_exceeded (ms)
};

}  // namespace nf::gateway
