// An embedded bus in a test's temp directory: no fsync, no retention sweeps. Header-only, so the
// test-support library itself does not link the bus.
#pragma once

#include <filesystem>
#include <memory>

#include "core/bus/embedded.h"

namespace nf::test {

inline std::unique_ptr<bus::embedded_bus> open_test_bus(const std::filesystem::path& dir) {
  bus::embedded_options o;
  o.path = dir.string();
  o.sync = false;
  o.retention_check_ms = 0;
  return std::move(bus::open_embedded(o).value());
}

}  // namespace nf::test
