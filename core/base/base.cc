// Small out-of-line pieces of the base module: error names, clocks, topic_partition rendering.
#include <vector>

#include "core/base/clock.h"
#include "core/base/hex.h"
#include "core/base/result.h"
#include "core/base/types.h"

namespace nf {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::too_large: return "too_large";
    case errc::conflict: return "conflict";
    case errc::wrong_expected_version: return "wrong_expected_version";
    case errc::locked: return "locked";
    case errc::corruption: return "corruption";
    case errc::io_error: return "io_error";
    case errc::timeout: return "timeout";
    case errc::unavailable: return "unavailable";
    case errc::unsupported: return "unsupported";
    case errc::cancelled: return "cancelled";
    case errc::unauthenticated: return "unauthenticated";
    case errc::permission_denied: return "permission_denied";
    case errc::rate_limited: return "rate_limited";
    case errc::no_space: return "no_space";
    case errc::internal: return "internal";
  }
  return "unknown";
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = v(hex[i]), lo = v(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string describe(const error& e) { return std::string(to_string(e.code)) + ": " + e.message; }

std::string to_string(const topic_partition& tp) {
  return tp.topic.get() + "/" + std::to_string(tp.partition.get());
}

std::int64_t system_clock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

system_clock& system_clock::instance() {
  static system_clock c;
  return c;
}

std::int64_t manual_clock::now_ms() const {
  std::lock_guard lk(mu_);
  return now_;
}

void manual_clock::schedule_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  std::lock_guard lk(mu_);
  timers_.emplace(std::make_pair(now_ + delay.count(), seq_++), std::move(fn));
}

void manual_clock::advance(std::chrono::milliseconds d) {
  std::int64_t target;
  {
    std::lock_guard lk(mu_);
    target = now_ + d.count();
  }
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard lk(mu_);
      auto it = timers_.begin();
      if (it == timers_.end() || it->first.first > target) {
        now_ = target;
        return;
      }
      now_ = it->first.first;
      fn = std::move(it->second);
      timers_.erase(it);
    }
    fn();
  }
}

std::size_t manual_clock::pending() const {
  std::lock_guard lk(mu_);
  return timers_.size();
}

}  // namespace nf
