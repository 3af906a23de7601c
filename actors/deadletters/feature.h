// The dead letters feature: what actors parked (platform.deadletter), listed, replayed to the
// actor that parked it, or discarded. See README.md for routes, permissions, events and commands.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::deadletters {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::deadletters
