// The tenancy feature: tenants, API keys, JWTs, roles, quotas, metering and the audit log, and
// the admission every route runs through. See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::tenancy {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::tenancy
