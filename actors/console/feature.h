// The console feature: the web console served at / by `serve`, and `nexus-forge dashboard`,
// which prints its address (and opens a browser when there is one). See README.md.
#pragma once

#include <memory>

#include "core/feature/feature.h"

namespace nf::console {

std::unique_ptr<feature::feature> make_feature();

}  // namespace nf::console
