// `nexus-forge doctor`: checks a stopped node's data directory end to end (the bus, every read
// model, the evidence ledger and vault) and, only when asked with --repair, recovers a damaged
// bus to its last consistent point, reporting exactly which offsets were lost, and rebuilds the
// read models that are ahead of it.
#pragma once

#include <vector>

#include "core/config/config.h"
#include "core/projection/projection.h"

namespace nf::cli {

struct doctor_args {
  bool repair = false;
  bool json = false;
};

// Exit codes: 0 nothing wrong (or everything repaired), 1 problems found, 2 cannot run (e.g. a
// server owns the data directory).
// `read_models`: every feature's (feature::projections()).
int doctor(const doctor_args& a, const config::config& cfg, const std::vector<projection::projection*>& read_models);

}  // namespace nf::cli
