// The producing feature: events produced to any topic over HTTP, and topics managed while the
// server runs. See README.md for routes, permissions, events and configuration.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::producing {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::producing
