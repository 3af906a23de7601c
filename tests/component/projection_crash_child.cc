// Child process for the projection crash test: applies the ledger topic to the projection store
// in small batches and prints its progress after every commit, until it has caught up.
// The parent kills it with SIGKILL at random points and starts it again.
#include <cstdio>
#include <iostream>

#include "core/bus/embedded.h"
#include "tests/component/ledger_projection.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: projection_crash_child BUS_DIR STORE_DIR\n";
    return 2;
  }
  nf::bus::embedded_options bo;
  bo.path = argv[1];
  bo.retention_check_ms = 0;
  auto bus = nf::bus::open_embedded(bo);
  if (!bus) {
    std::cerr << bus.error().message << "\n";
    return 1;
  }
  auto store = nf::projection::store::open({argv[2], false});
  if (!store) {
    std::cerr << store.error().message << "\n";
    return 1;
  }
  nf::test::ledger_projection proj;
  nf::projection::runner run(**store, proj, **bus, {100});
  for (;;) {
    auto lag = run.lag();
    if (!lag) {
      std::cerr << lag.error().message << "\n";
      return 1;
    }
    if (*lag == 0) break;
    auto n = run.step(std::chrono::milliseconds(100));
    if (!n) {
      std::cerr << n.error().message << "\n";
      return 1;
    }
    auto applied = (*store)->last_applied(proj);
    std::int64_t total = 0;
    for (const auto& [tp, off] : *applied) total += off.get();
    std::printf("applied %lld\n", static_cast<long long>(total));
    std::fflush(stdout);
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}
