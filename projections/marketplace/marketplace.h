// The marketplace read model, folded from marketplace.agents (every step of every package) and
// evidence.ledger (which ledger leaf records each approved package's provenance). It stores
// facts: which version is "latest", what a tenant may see and how search ranks are the feature's
// policy (actors/marketplace). Key layout and invariants: README.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"

namespace nf::marketplace {

inline constexpr const char* kAgentsTopic = "marketplace.agents";
inline constexpr const char* kLedgerTopic = "evidence.ledger";  // read for leaf indices

// Event types on marketplace.agents (payloads in events/marketplace.proto).
inline constexpr const char* kSubmitted = "marketplace.agent_submitted";        // AgentSubmitted
inline constexpr const char* kValidated = "marketplace.agent_validated";        // StageCompleted
inline constexpr const char* kScanned = "marketplace.agent_scanned";            // StageCompleted
inline constexpr const char* kBenchmarked = "marketplace.agent_benchmarked";    // StageCompleted
inline constexpr const char* kPendingReview = "marketplace.agent_pending_review";  // StageCompleted
inline constexpr const char* kApproved = "marketplace.agent_approved";          // AgentReviewed
inline constexpr const char* kRejected = "marketplace.agent_rejected";          // AgentReviewed
inline constexpr const char* kYanked = "marketplace.agent_yanked";              // AgentYanked
inline constexpr const char* kRated = "marketplace.agent_rated";                // AgentRated
inline constexpr const char* kInstalled = "marketplace.agent_installed";        // AgentInstalled
inline constexpr const char* kRefused = "marketplace.request_refused";          // MarketplaceRefused

class marketplace_projection final : public projection::projection {
 public:
  // Told the name of every agent whose document apply() changes (before the batch commits; a
  // batch that fails is applied again, so a listener re-reads committed state later, e.g. from
  // the feed's on_applied). Set before the feed starts.
  void on_agent_changed(std::function<void(const std::string& name)> fn) { changed_ = std::move(fn); }
  std::string name() const override { return "marketplace"; }
  std::vector<std::string> topics() const override { return {kAgentsTopic, kLedgerTopic}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }

 private:
  std::function<void(const std::string&)> changed_;
};

class marketplace_view {
 public:
  marketplace_view(::nf::projection::store& store, const marketplace_projection& proj) : store_(store), proj_(proj) {}
  // A version's document (`version` without build metadata).
  result<std::optional<nlohmann::json>> version(const std::string& name, const std::string& version) const;
  // Every version document of an agent, in no particular order.
  result<std::vector<nlohmann::json>> versions(const std::string& name) const;
  result<std::optional<nlohmann::json>> agent(const std::string& name) const;
  // Every agent document, by name, until fn returns false.
  result<void> each_agent(const std::function<bool(const nlohmann::json&)>& fn) const;
  // The tenant's rating of the agent, and whether it installed it.
  result<std::optional<nlohmann::json>> rating(const std::string& name, const std::string& tenant) const;
  result<bool> installed(const std::string& name, const std::string& tenant) const;
  // How many distinct agents the tenant installed.
  result<std::int64_t> installed_agents(const std::string& tenant) const;
  // Events it could not fold: {type, eventId, topic, partition, offset, reason}.
  result<std::vector<nlohmann::json>> rejected(std::size_t limit = 1000) const;

 private:
  ::nf::projection::store& store_;
  const marketplace_projection& proj_;
};

}  // namespace nf::marketplace
