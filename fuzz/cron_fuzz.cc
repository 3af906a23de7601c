// libFuzzer: cron expressions as a user could write them in a schedule. Nothing may crash or
// loop; an accepted expression's next fire times are whole minutes, strictly increasing, each
// after the time asked about, and each matches the schedule's fields.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/workflows/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nf::workflows;
  using namespace std::chrono;
  auto s = parse_cron(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!s) {
    if (s.error().message.empty()) std::abort();
    return 0;
  }
  const std::int64_t start = 1'796'000'000'000;
  std::int64_t prev = start;
  for (auto t : next_fires(*s, start, 3)) {
    if (t <= prev || t % 60'000 != 0) std::abort();
    const sys_time<milliseconds> tp{milliseconds(t)};
    const auto day = floor<days>(tp);
    const year_month_day ymd(day);
    const auto in_day = duration_cast<minutes>(tp - day).count();
    if (!s->minutes[static_cast<std::size_t>(in_day % 60)] || !s->hours[static_cast<std::size_t>(in_day / 60)]) std::abort();
    if (!s->months[static_cast<unsigned>(ymd.month())]) std::abort();
    prev = t;
  }
  return 0;
}
