// Token bucket.
#include "actors/tenancy/token_bucket.h"

#include <algorithm>

namespace nf::tenancy {
namespace {
constexpr std::int64_t kUnitsPerToken = 60'000;  // ms per minute: a rate of r/min adds r units per ms
}

token_bucket::token_bucket(std::int64_t per_minute, std::int64_t now_ms)
    : per_minute_(per_minute), units_(std::max<std::int64_t>(per_minute, 0) * kUnitsPerToken), last_ms_(now_ms) {}

void token_bucket::refill(std::int64_t now_ms) {
  if (now_ms <= last_ms_) return;  // a clock that steps back adds nothing
  const std::int64_t cap = per_minute_ * kUnitsPerToken;
  const std::int64_t elapsed = std::min<std::int64_t>(now_ms - last_ms_, kUnitsPerToken);  // a full minute refills all
  units_ = std::min(cap, units_ + elapsed * per_minute_);
  last_ms_ = now_ms;
}

token_bucket::decision token_bucket::take(std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (per_minute_ < 0) return {true, 0, -1};
  refill(now_ms);
  if (units_ >= kUnitsPerToken) {
    units_ -= kUnitsPerToken;
    return {true, 0, units_ / kUnitsPerToken};
  }
  if (per_minute_ == 0) return {false, 60'000, 0};
  const std::int64_t missing = kUnitsPerToken - units_;
  return {false, (missing + per_minute_ - 1) / per_minute_, 0};
}

void token_bucket::set_rate(std::int64_t per_minute, std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (per_minute_ >= 0) refill(now_ms);
  else units_ = std::max<std::int64_t>(per_minute, 0) * kUnitsPerToken;
  per_minute_ = per_minute;
  last_ms_ = now_ms;
  if (per_minute_ >= 0) units_ = std::min(units_, per_minute_ * kUnitsPerToken);
}

token_bucket::decision rate_limiter::take(const std::string& tenant, std::int64_t per_minute, std::int64_t now_ms) {
  if (per_minute < 0) return {true, 0, -1};
  token_bucket* b;
  {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(tenant);
    if (it == buckets_.end()) it = buckets_.emplace(tenant, entry{per_minute, std::make_unique<token_bucket>(per_minute, now_ms)}).first;
    if (it->second.per_minute != per_minute) {
      it->second.bucket->set_rate(per_minute, now_ms);
      it->second.per_minute = per_minute;
    }
    b = it->second.bucket.get();
  }
  return b->take(now_ms);
}

}  // namespace nf::tenancy
