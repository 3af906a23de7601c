// Starts a child (`sleep`), prints its pid, then aborts: a test binary that dies mid-test. Run by
// TestSupport.ABinaryThatAbortsTakesItsChildrenWithIt.
#include <cstdio>
#include <cstdlib>

#include "tests/support/support.h"

int main() {
  nf::test::child c({"/bin/sleep", "300"});
  std::printf("%d\n", c.pid());
  std::fflush(stdout);
  std::abort();
}
