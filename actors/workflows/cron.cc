#include "actors/workflows/cron.h"

#include <algorithm>

#include "core/base/text.h"
#include <array>
#include <cctype>
#include <chrono>

namespace nf::workflows {
namespace {

struct field_spec {
  const char* name;
  int lo, hi;
  const char* const* names;  // lo-indexed names, or null
  std::size_t name_count;
};

constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// A number or, where the field has them, a name.
std::optional<int> value(std::string_view v, const field_spec& f) {
  if (v.empty() || v.size() > 9) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int n = 0;
    for (char c : v) n = n * 10 + (c - '0');
    return n;
  }
  if (!f.names || v.size() != 3) return std::nullopt;
  std::string lower(v);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < f.name_count; ++i)
    if (lower == f.names[i]) return f.lo == 0 ? static_cast<int>(i) : static_cast<int>(i) + 1;
  return std::nullopt;
}

// Sets the bits `text` selects in [lo, hi]; an error names the field.
result<std::vector<int>> parse_field(std::string_view text, const field_spec& f) {
  auto bad = [&](const std::string& why) { return error{errc::invalid_argument, std::string(f.name) + " '" + std::string(text) + "': " + why}; };
  if (text.empty()) return bad("is empty");
  std::vector<int> out;
  for (auto item : split(text, ',')) {
    if (item.empty()) return bad("has an empty list item");
    int step = 1;
    bool stepped = false;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      stepped = true;
      auto s = value(item.substr(slash + 1), field_spec{f.name, 0, 0, nullptr, 0});
      if (!s || *s < 1) return bad("the step must be a positive number");
      step = *s;
      item = item.substr(0, slash);
    }
    int a = f.lo, b = f.hi;
    if (item == "*") {
    } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
      auto x = value(item.substr(0, dash), f), y = value(item.substr(dash + 1), f);
      if (!x || !y) return bad("'" + std::string(item) + "' is not a range of numbers or names");
      a = *x;
      b = *y;
    } else {
      auto x = value(item, f);
      if (!x) return bad("'" + std::string(item) + "' is not a number" + (f.names ? " or a name" : ""));
      a = *x;
      b = stepped ? f.hi : *x;  // "5/10": from 5 to the end, every 10
    }
    if (a < f.lo || a > f.hi || b < f.lo || b > f.hi) return bad(std::to_string(f.lo) + " to " + std::to_string(f.hi) + " only");
    if (a > b) return bad("a range must not run backwards");
    for (int v = a; v <= b; v += step) out.push_back(v);
  }
  return out;
}

using days = std::chrono::sys_days;

}  // namespace

result<cron_schedule> parse_cron(std::string_view text) {
  if (text.size() > 512) return error{errc::invalid_argument, "the cron expression is longer than 512 characters"};
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    const auto start = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\t') ++at;
    if (at > start) fields.push_back(text.substr(start, at - start));
  }
  if (fields.size() != 5)
    return error{errc::invalid_argument, "a cron expression has 5 fields (minute hour day-of-month month day-of-week), not " + std::to_string(fields.size())};
  static const field_spec specs[5] = {{"minute", 0, 59, nullptr, 0},
                                      {"hour", 0, 23, nullptr, 0},
                                      {"day-of-month", 1, 31, nullptr, 0},
                                      {"month", 1, 12, kMonths, 12},
                                      {"day-of-week", 0, 7, kDays, 7}};
  cron_schedule s;
  s.text = std::string(text);
  for (int i = 0; i < 5; ++i) {
    NF_TRY_ASSIGN(auto values, parse_field(fields[static_cast<std::size_t>(i)], specs[i]));
    for (int v : values) {
      switch (i) {
        case 0: s.minutes.set(static_cast<std::size_t>(v)); break;
        case 1: s.hours.set(static_cast<std::size_t>(v)); break;
        case 2: s.days.set(static_cast<std::size_t>(v)); break;
        case 3: s.months.set(static_cast<std::size_t>(v)); break;
        default: s.weekdays.set(static_cast<std::size_t>(v % 7)); break;
      }
    }
  }
  s.days_star = fields[2][0] == '*';
  s.weekdays_star = fields[4][0] == '*';
  return s;
}

std::optional<std::int64_t> next_fire(const cron_schedule& s, std::int64_t after_ms) {
  using namespace std::chrono;
  // The next whole minute after `after_ms`.
  const std::int64_t first_minute = (after_ms >= 0 ? after_ms / 60'000 : (after_ms - 59'999) / 60'000) + 1;
  auto day = floor<std::chrono::days>(sys_time<minutes>(minutes(first_minute)));
  int minute_of_day = static_cast<int>(first_minute - duration_cast<minutes>(day.time_since_epoch()).count());
  for (int i = 0; i < 366 * 30; ++i, ++day, minute_of_day = 0) {
    const year_month_day ymd(day);
    const weekday wd(day);
    const bool dom = s.days[static_cast<unsigned>(ymd.day())];
    const bool dow = s.weekdays[wd.c_encoding()];
    const bool day_ok = s.days_star || s.weekdays_star ? dom && dow : dom || dow;
    if (!s.months[static_cast<unsigned>(ymd.month())] || !day_ok) continue;
    for (int h = minute_of_day / 60; h < 24; ++h) {
      if (!s.hours[static_cast<std::size_t>(h)]) continue;
      for (int m = h == minute_of_day / 60 ? minute_of_day % 60 : 0; m < 60; ++m)
        if (s.minutes[static_cast<std::size_t>(m)])
          return (duration_cast<minutes>(day.time_since_epoch()).count() + h * 60 + m) * 60'000;
    }
  }
  return std::nullopt;
}

std::vector<std::int64_t> next_fires(const cron_schedule& s, std::int64_t after_ms, std::size_t n) {
  std::vector<std::int64_t> out;
  while (out.size() < n) {
    auto t = next_fire(s, out.empty() ? after_ms : out.back());
    if (!t) break;
    out.push_back(*t);
  }
  return out;
}

}  // namespace nf::workflows
