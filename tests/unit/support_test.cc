// The test support itself: servers and brokers a test starts never outlive it.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tests/support/support.h"

namespace {

namespace t = nf::test;

// Whether `pid` is a running process (a zombie or no process at all is not).
bool running(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// A test binary that aborts (a sanitizer report, std::terminate) takes its children with it.
// Before, a crashed cluster test left three servers and a mock broker running for good, and the
// rest of the suite ran slower and slower beside them.
TEST(TestSupport, ABinaryThatAbortsTakesItsChildrenWithIt) {
  auto r = t::run({NF_ABORT_WITH_CHILD});
  EXPECT_EQ(r.exit_code, 128 + SIGABRT) << r.err;
  const int pid = std::stoi(r.out);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(t::wait_until([&] { return !running(pid); }, std::chrono::seconds(5))) << "the child " << pid << " outlived its parent";
}

}  // namespace
