// registry: the single writer of marketplace.agents. Every command about an agent (publish,
// review, yank, rating, install) is decided by the owner of the agent name's partition of
// commands.marketplace, from the marketplace read model caught up on that partition
// (core/command/owner.h fences deposed owners), and every outcome is an event on the same
// partition of marketplace.agents.
//
// In:  commands.marketplace  publish_requested (AgentSubmitted), review_requested (AgentReviewed),
//                            yank_requested (AgentYanked), rating_requested (AgentRated),
//                            install_requested (AgentInstalled)
// Out: marketplace.agents    agent_submitted, then the pipeline: agent_validated, agent_scanned,
//                            agent_benchmarked, agent_pending_review (StageCompleted; a stage
//                            that does not pass stops it with its reason); agent_approved /
//                            agent_rejected; agent_yanked; agent_rated; agent_installed; or
//                            request_refused (MarketplaceRefused) for a command not carried out.
//      evidence.records      evidence.record_submitted for an approved version (its provenance
//                            document, in the vault): the evidence ledger makes it a leaf.
//
// The pipeline runs in the handler of the publish command. A crash in the middle leaves the
// command unhandled; handled again, it finds its own submission (same command id) and carries on
// from the last stage the read model shows, so every stage is recorded once.
#pragma once

#include <string>

#include "actors/marketplace/scan.h"
#include "actors/marketplace/selftest.h"
#include "core/actor/actor.h"
#include "core/bus/bus.h"
#include "core/command/owner.h"
#include "core/store/vault.h"
#include "projections/marketplace/marketplace.h"

namespace nf::events {
class AgentSubmitted;
}

namespace nf::marketplace {

struct registry_options {
  scan_options scan;
  bool selftest = true;
  selftest_limits limits;
  std::string selftest_dir;
};

class registry final : public ::nf::actor::actor {
 public:
  registry(command::single_writer& writer, marketplace_view view, store::vault& vault, bus::event_bus& bus, registry_options opts)
      : writer_(writer), view_(view), vault_(vault), bus_(bus), opts_(std::move(opts)) {}
  std::string name() const override { return "marketplace_registry"; }
  std::vector<std::string> subscriptions() const override;
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;

 private:
  struct decision;  // the command being decided: its context, epoch and output partition
  result<void> publish(decision& d, const events::Envelope& cmd);
  result<void> pipeline(decision& d, const events::AgentSubmitted& s, const std::string& from);
  result<void> review(decision& d, const events::Envelope& cmd);
  result<void> yank(decision& d, const events::Envelope& cmd);
  result<void> rate(decision& d, const events::Envelope& cmd);
  result<void> install(decision& d, const events::Envelope& cmd);

  command::single_writer& writer_;
  marketplace_view view_;
  store::vault& vault_;
  bus::event_bus& bus_;
  registry_options opts_;
};

}  // namespace nf::marketplace
