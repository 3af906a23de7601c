// The evidence feature: the evidence actor (ledger leaves and signed tree heads), the ledger read
// model, the vault, the ledger routes and the ledger audit. See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::evidence {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::evidence
