// The workflow engine feature: versioned definitions, a type-checked compile, the node library,
// durable runs with retries, timers, approvals, reset and step-through debugging. See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::workflows {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::workflows
