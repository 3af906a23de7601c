// The regions feature: the regions a configuration names, and replication between them
// (`nexus-forge mirror`, `mirror translate`). See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::regions {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::regions
