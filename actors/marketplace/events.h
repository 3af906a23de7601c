// The marketplace's event types (events/marketplace.proto) and command topic.
#pragma once

#include "core/event/types.h"
#include "projections/marketplace/marketplace.h"

namespace nf::marketplace {

inline constexpr const char* kCommands = "commands.marketplace";
inline constexpr const char* kPublishRequested = "marketplace.publish_requested";  // AgentSubmitted
inline constexpr const char* kReviewRequested = "marketplace.review_requested";    // AgentReviewed
inline constexpr const char* kYankRequested = "marketplace.yank_requested";        // AgentYanked
inline constexpr const char* kRatingRequested = "marketplace.rating_requested";    // AgentRated
inline constexpr const char* kInstallRequested = "marketplace.install_requested";  // AgentInstalled

void register_events(event::type_registry& reg);

}  // namespace nf::marketplace
