// Cron schedules: parsing with errors that name the field; next fire times by hand-picked cases;
// and the next five fire times of 3,000 generated expressions from random start times, compared
// with croniter (python3-croniter, an independent implementation, run through
// tests/cron/check.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "actors/workflows/cron.h"
#include "tests/support/support.h"

namespace {

using namespace nf::workflows;

std::int64_t utc(int y, unsigned mo, unsigned d, int h, int mi) {
  using namespace std::chrono;
  const sys_days date = year_month_day(year(y), month(mo), std::chrono::day(d));
  return (duration_cast<minutes>(date.time_since_epoch()).count() + h * 60 + mi) * 60'000;
}

std::int64_t next(const std::string& expr, std::int64_t after) {
  auto s = parse_cron(expr);
  EXPECT_TRUE(s.has_value()) << expr << ": " << (s ? "" : s.error().message);
  if (!s) return -1;
  return next_fire(*s, after).value_or(-1);
}

TEST(Cron, HandPickedSchedules) {
  const auto t0 = utc(2026, 12, 3, 10, 7);  // a Thursday
  EXPECT_EQ(next("*/15 * * * *", t0), utc(2026, 12, 3, 10, 15));
  EXPECT_EQ(next("0 9 * * mon-fri", t0), utc(2026, 12, 4, 9, 0));
  EXPECT_EQ(next("0 0 1 jan *", t0), utc(2027, 1, 1, 0, 0));
  EXPECT_EQ(next("0 0 29 2 *", t0), utc(2028, 2, 29, 0, 0));
  EXPECT_EQ(next("30 2 * * 7", t0), utc(2026, 12, 6, 2, 30));  // 7 is Sunday
  // Both day fields restricted: either matches (the 5th, or any Monday).
  EXPECT_EQ(next("0 0 5 * 1", t0), utc(2026, 12, 5, 0, 0));
  EXPECT_EQ(next("0 0 5 * 1", utc(2026, 12, 5, 0, 0)), utc(2026, 12, 7, 0, 0));
  // One of them starting with '*': both must hold.
  EXPECT_EQ(next("0 0 */2 * 1", t0), utc(2026, 12, 7, 0, 0));  // Dec 7: an odd day (1, 3, 5, ...) and a Monday
  EXPECT_EQ(next("5/20 * * * *", t0), utc(2026, 12, 3, 10, 25));
  EXPECT_EQ(next("7 10 3 12 *", t0), utc(2027, 12, 3, 10, 7));  // strictly after
  auto never = parse_cron("0 0 30 2 *");
  ASSERT_TRUE(never);
  EXPECT_FALSE(next_fire(*never, t0));
  EXPECT_EQ(next_fires(*parse_cron("0 */6 * * *"), t0, 3),
            (std::vector<std::int64_t>{utc(2026, 12, 3, 12, 0), utc(2026, 12, 3, 18, 0), utc(2026, 12, 4, 0, 0)}));
}

TEST(Cron, ErrorsNameTheField) {
  auto field_of = [](const std::string& expr) {
    auto s = parse_cron(expr);
    return s ? std::string("(accepted)") : s.error().message.substr(0, s.error().message.find(' '));
  };
  EXPECT_EQ(field_of("60 * * * *"), "minute");
  EXPECT_EQ(field_of("* 24 * * *"), "hour");
  EXPECT_EQ(field_of("* * 0 * *"), "day-of-month");
  EXPECT_EQ(field_of("* * * foo *"), "month");
  EXPECT_EQ(field_of("* * * * 8"), "day-of-week");
  EXPECT_EQ(field_of("*/0 * * * *"), "minute");
  EXPECT_EQ(field_of("5-1 * * * *"), "minute");
  EXPECT_EQ(field_of("1,,2 * * * *"), "minute");
  EXPECT_EQ(field_of("* * * *"), "a");
  EXPECT_EQ(field_of("* * * * * *"), "a");
  EXPECT_EQ(field_of(std::string(600, '*')), "the");
}

// Generated expressions against croniter. Vixie cron (which this follows) and croniter disagree
// on one thing: whether a day field counts as restricted. Vixie looks at the text (a field that
// starts with '*' is not), croniter at the values (a field that admits every value is not). So the
// generated day fields never start with "*/", and an expression whose day field admits every
// value without a '*' is left out of the comparison.
TEST(Cron, NextFireTimesMatchCroniter) {
  std::mt19937 rng(20261203);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto field = [&](int lo, int hi, bool day_field, const std::vector<std::string>& names) {
    std::string out;
    const int items = 1 + pick(3);
    for (int i = 0; i < items; ++i) {
      if (i) out += ",";
      auto val = [&] {
        const int v = lo + pick(hi - lo + 1);
        if (!names.empty() && pick(3) == 0) return names[static_cast<std::size_t>(v - lo) % names.size()];
        return std::to_string(v);
      };
      switch (pick(day_field ? 4 : 5)) {
        case 0: out += items == 1 ? "*" : val(); break;
        case 1: out += val(); break;
        case 2: {
          const int a = lo + pick(hi - lo + 1), b = a + pick(hi - a + 1);
          out += std::to_string(a) + "-" + std::to_string(b);
          if (pick(2)) out += "/" + std::to_string(1 + pick(5));
          break;
        }
        case 3: out += std::to_string(lo + pick(hi - lo + 1)) + "/" + std::to_string(1 + pick(10)); break;
        default: out += "*/" + std::to_string(1 + pick(20)); break;
      }
    }
    return out;
  };
  const std::vector<std::string> months{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  const std::vector<std::string> days{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::vector<std::pair<std::string, std::int64_t>> cases;
  for (int i = 0; i < 3000; ++i) {
    const std::string expr = field(0, 59, false, {}) + " " + field(0, 23, false, {}) + " " + field(1, 28, true, {}) + " " +
                             field(1, 12, false, months) + " " + field(0, 6, true, days);
    cases.emplace_back(expr, utc(2020 + pick(10), 1 + static_cast<unsigned>(pick(12)), 1 + static_cast<unsigned>(pick(28)), pick(24), pick(60)) +
                                 pick(60) * 1000);
  }
  nf::test::temp_dir dir;
  const auto in = (dir.path() / "in.tsv").string(), out = (dir.path() / "out.txt").string();
  {
    std::ofstream f(in);
    for (const auto& [e, t] : cases) f << e << "\t" << t << "\n";
  }
  const std::string cmd = "/usr/bin/python3 " + std::string(NF_SOURCE_DIR) + "/tests/cron/check.py < " + in + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs python3-croniter (scripts/deps.sh installs it)";
  std::ifstream f(out);
  std::string line;
  int compared = 0;
  for (const auto& [expr, start] : cases) {
    ASSERT_TRUE(std::getline(f, line)) << "croniter answered fewer lines than asked";
    auto s = parse_cron(expr);
    if (line == "invalid") {
      EXPECT_FALSE(s.has_value()) << expr << " is invalid to croniter";
      continue;
    }
    ASSERT_TRUE(s.has_value()) << expr << ": " << s.error().message;
    bool all_days = true;
    for (int d = 1; d <= 31; ++d) all_days = all_days && s->days[static_cast<std::size_t>(d)];
    if ((!s->weekdays_star && s->weekdays.all()) || (!s->days_star && all_days)) continue;
    std::vector<std::int64_t> want;
    std::istringstream ss(line);
    for (std::int64_t v; ss >> v;) want.push_back(v);
    EXPECT_EQ(next_fires(*s, start, 5), want) << expr << " after " << start;
    ++compared;
  }
  EXPECT_GT(compared, 2500);
}

}  // namespace
