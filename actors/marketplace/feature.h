// The marketplace feature: publish with validation, security scan and benchmark gate, review,
// immutable versions, yanks, explained dependency resolution, ratings and installs. See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::marketplace {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::marketplace
