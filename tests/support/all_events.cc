// Linked into test binaries that build or validate events of the product's types: declares every
// feature's event types before any test runs, as the binary does at start-up.
#include <gtest/gtest.h>

#include "actors/evidence/events.h"
#include "actors/missions/events.h"
#include "actors/tenancy/events.h"
#include "core/actor/actor.h"

namespace {

class all_event_types : public ::testing::Environment {
 public:
  void SetUp() override {
    auto& reg = nf::event::type_registry::global();
    nf::actor::register_events(reg);
    nf::missions::register_events(reg);
    nf::tenancy::register_events(reg);
    nf::evidence::register_events(reg);
  }
};

[[maybe_unused]] const auto* const kRegistered = ::testing::AddGlobalTestEnvironment(new all_event_types);

}  // namespace
