// Injectable time: production code asks a clock, tests step a manual one by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace nf {

class clock {
 public:
  virtual ~clock() = default;
  // Wall-clock time in unix milliseconds (event timestamps).
  virtual std::int64_t now_ms() const = 0;
};

class system_clock final : public clock {
 public:
  std::int64_t now_ms() const override;
  static system_clock& instance();
};

// Runs callbacks at a later time. The real one is Asio-backed; the manual one fires on advance().
class timer_service {
 public:
  virtual ~timer_service() = default;
  virtual void schedule_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

class manual_clock final : public clock, public timer_service {
 public:
  explicit manual_clock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override;
  void schedule_after(std::chrono::milliseconds delay, std::function<void()> fn) override;
  // Moves time forward and runs every callback that falls due, in time order.
  void advance(std::chrono::milliseconds d);
  std::size_t pending() const;

 private:
  mutable std::mutex mu_;
  std::int64_t now_;
  std::uint64_t seq_ = 0;
  std::multimap<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> timers_;
};

}  // namespace nf
