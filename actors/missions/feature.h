// The missions feature: mission control (the four contracts, the mission lifecycle), the
// missions read model and its routes. See README.md for events in and out, routes, permissions
// and configuration.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::missions {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::missions
