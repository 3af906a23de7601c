#include "actors/marketplace/events.h"

#include "marketplace.pb.h"

namespace nf::marketplace {

void register_events(event::type_registry& reg) {
  reg.add(kPublishRequested, events::AgentSubmitted::descriptor(), "marketplace");
  reg.add(kSubmitted, events::AgentSubmitted::descriptor(), "marketplace");
  for (const char* t : {kValidated, kScanned, kBenchmarked, kPendingReview}) reg.add(t, events::StageCompleted::descriptor(), "marketplace");
  for (const char* t : {kReviewRequested, kApproved, kRejected}) reg.add(t, events::AgentReviewed::descriptor(), "marketplace");
  for (const char* t : {kYankRequested, kYanked}) reg.add(t, events::AgentYanked::descriptor(), "marketplace");
  for (const char* t : {kRatingRequested, kRated}) reg.add(t, events::AgentRated::descriptor(), "marketplace");
  for (const char* t : {kInstallRequested, kInstalled}) reg.add(t, events::AgentInstalled::descriptor(), "marketplace");
  reg.add(kRefused, events::MarketplaceRefused::descriptor(), "marketplace");
}

}  // namespace nf::marketplace
