// Cron schedules: the 5-field syntax (minute hour day-of-month month day-of-week, UTC) with `*`,
// lists, ranges, steps (`*/15`, `1-30/2`, `5/10` meaning 5-max/10) and the names of months and
// days (`jan`..`dec`, `sun`..`sat`, any case). Day-of-week 0 and 7 are Sunday. As in Vixie cron,
// when both day fields are restricted a day matches if either does (a field is unrestricted when
// it starts with `*`, so `*/2` in one of them makes the two AND-ed). The workflow engine's
// schedules use it to find their next fire times.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::workflows {

struct cron_schedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1..31
  std::bitset<13> months;   // 1..12
  std::bitset<7> weekdays;  // 0 (Sunday)..6
  bool days_star = false, weekdays_star = false;
  std::string text;
};

// errc::invalid_argument naming the field ("minute", "hour", "day-of-month", "month",
// "day-of-week") and what is wrong with it.
result<cron_schedule> parse_cron(std::string_view text);

// The first fire time strictly after `after_ms` (unix milliseconds, UTC), on a whole minute;
// nullopt when there is none within 30 years (`0 0 30 2 *`).
std::optional<std::int64_t> next_fire(const cron_schedule& s, std::int64_t after_ms);
// The next `n` fire times after `after_ms`.
std::vector<std::int64_t> next_fires(const cron_schedule& s, std::int64_t after_ms, std::size_t n);

}  // namespace nf::workflows
