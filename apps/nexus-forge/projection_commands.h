// `nexus-forge projections` and `nexus-forge rebuild`: every read model's generation, applied
// positions, lag and digest; rebuilds into a new generation with progress and both digests.
// With --server through a running server (GET /projections, POST /projections/{name}/rebuild:
// online, queries go on from the old generation until the swap); without, on a stopped data dir.
#pragma once

#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/projection/projection.h"

namespace nf::cli {

struct projections_args {
  std::string server, key;
  std::string name;        // rebuild: the projection
  bool all = false;        // rebuild: every projection
  bool json = false;
  bool digest = false;     // projections: compute digests too
  bool quiet = false;      // no progress on stderr
};

int projections(const projections_args& a, const config::config* cfg, const std::vector<projection::projection*>& all);
int rebuild(const projections_args& a, const config::config* cfg, const std::vector<projection::projection*>& all);

}  // namespace nf::cli
