// Who may do what on every route: the tenancy feature's implementation of http::admission.
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
// them. A batch the bus refuses stays queued and is tried again on the next round; at most
// `max_retained` records wait, and what has to be dropped beyond that is logged and counted
// (nf_tenancy_records_lost_total). stop() (and the destructor) writes what is left.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace google::protobuf {
class Message;
}

#include "actors/tenancy/directory.h"
#include "actors/tenancy/plans.h"
#include "actors/tenancy/token_bucket.h"
#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/event/ids.h"
#include "core/http/admission.h"
#include "projections/usage/usage.h"

namespace nf::tenancy {

// The period an alert on a quota is given once in: the UTC day (eventsPerDay, requestsPerMinute)
// or the UTC month (the others).
std::string alert_period(quota q, std::int64_t now_ms);

// 401 with WWW-Authenticate, 403 or 429 for a resolution or permission error.
http::response auth_error(const error& e, const http::request& req);

// The tenancy context of an admitted caller (every caller admitted by `access` has one).
const context& context_of(const http::caller& c);

struct access_options {
  directory* dir = nullptr;                  // required
  usage::usage_projection* usage = nullptr;  // metering read model; null: no quotas on writes
  bool audit = true;                         // record every admitted request on tenancy.audit
  std::string region = "local";
  std::size_t max_retained = 100'000;        // records kept for another try when the bus refuses a batch
};

class access final : public http::admission {
 public:
  access(bus::event_bus& bus, projection::store& store, access_options o, const nf::clock& clk);
  ~access() override;
  access(const access&) = delete;
  access& operator=(const access&) = delete;

  std::variant<http::caller, http::response> admit(const http::request& req) override;
  std::optional<http::response> require(const http::caller& c, http::permission p, const http::request& req) override;
  bool allows(const http::caller& c, http::permission p, std::string_view resource) override;
  std::optional<http::response> admit_write(const http::caller& c, std::int64_t events, std::int64_t bytes, std::string_view route,
                                            const http::request& req) override;
  void record(const http::caller& c, const http::request& req, std::string_view route, std::string_view path, unsigned status) override;
  recheck_fn recheck(const http::caller& c, const http::request& req) override;

  // A refused reservation or write: tenancy.quota_exceeded (at most once a minute per tenant and
  // quota for writes; always for reservations when `always`).
  void quota_exceeded(const std::string& tenant, quota q, const tenancy::admission& a, const std::string& route, bool always);
  // Usage of `q` is now `used` of `limit`: alerts at 80 % and 100 %, once per period.
  void observe(const std::string& tenant, quota q, std::int64_t limit, std::int64_t used);
  // After the usage projection committed new counts for `tenants`: their daily event and
  // stored-bytes alerts, whichever path wrote the events (routes, actors, producers).
  void usage_applied(const std::vector<std::string>& tenants);

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
    std::shared_ptr<const google::protobuf::Message> payload;  // the typed event, unless `audit`
    std::optional<audit_entry> audit;
    std::optional<event::event_id> id;
  };
  void enqueue(pending p);
  void enqueue(const std::string& topic, const std::string& type, const std::string& tenant,
               std::shared_ptr<const google::protobuf::Message> payload, std::optional<event::event_id> id = std::nullopt);
  void run();
  void write_batch(std::unique_lock<std::mutex>& lk);
  void meter(const std::string& tenant);

  bus::event_bus& bus_;
  access_options opts_;
  const nf::clock& clk_;
  std::optional<usage::usage_view> usage_;
  rate_limiter limiter_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pending> queue_;
  std::map<std::pair<std::string, std::string>, std::int64_t> requests_;  // (tenant, date) -> requests since the last write
  std::int64_t meter_day_ = -1;                                          // the day meter_date_ names
  std::string meter_date_;
  std::map<std::string, std::deque<bus::record>> retry_;                   // topic -> records the bus refused, oldest first
  std::size_t retained_ = 0;
  bool stopping_ = false;
  std::thread writer_;

  std::mutex alert_mu_;
  std::set<std::string> alerted_;                                 // tenant|quota|period|threshold
  std::unordered_map<std::string, std::int64_t> refused_at_;      // tenant|quota -> last quota_exceeded (ms)
};

}  // namespace nf::tenancy
