// Token buckets for per-tenant request rates (a limit per minute, bursts up to that limit),
// on an injected clock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace nf::tenancy {

class token_bucket {
 public:
  struct decision {
    bool allowed;
    std::int64_t retry_after_ms;  // when refused: until one token is back
    std::int64_t remaining = -1;  // whole tokens left after this one (-1: unlimited)
  };
  // `per_minute` tokens per minute, holding at most `per_minute`; starts full. < 0: unlimited.
  token_bucket(std::int64_t per_minute, std::int64_t now_ms);
  decision take(std::int64_t now_ms);
  // A new limit keeps the tokens already there (capped at the new size).
  void set_rate(std::int64_t per_minute, std::int64_t now_ms);

 private:
  void refill(std::int64_t now_ms);
  std::mutex mu_;
  std::int64_t per_minute_;
  // Tokens are kept in millitokens: 1 token = 60,000 units, so one unit accrues per (1 / per_minute) ms.
  std::int64_t units_;
  std::int64_t last_ms_;
};

// One bucket per tenant, created on first use and re-rated when the tenant's limit changes.
class rate_limiter {
 public:
  token_bucket::decision take(const std::string& tenant, std::int64_t per_minute, std::int64_t now_ms);

 private:
  struct entry {
    std::int64_t per_minute;
    std::unique_ptr<token_bucket> bucket;
  };
  std::mutex mu_;
  std::unordered_map<std::string, entry> buckets_;
};

}  // namespace nf::tenancy
