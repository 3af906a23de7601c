// The event watch: reads the topics triggers and event waits may name (workflows.trigger_topics)
// and turns matching events into engine commands.
//  - A trigger {on_event: {topic, type, filter}, inputs} starts a run per matching event of its
//    tenant: run_requested with a run id derived from the trigger and the event id, so an event
//    read again (a restart, a rebalance) names the same run and starts nothing new. Exactly once.
//  - A wait_for_event node waiting on the topic (the read model's `we/` rows) gets node_result
//    with the event when its type, filter and correlation (the event key, or payload.correlationId)
//    match. A wait ends once: the engine takes the first result for the node's attempt.
// An event that is not an envelope is counted and skipped (it is nothing a trigger could match).
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/actor/actor.h"
#include "projections/workflows/workflows.h"

namespace nf::workflows {

class event_watch final : public ::nf::actor::actor {
 public:
  event_watch(workflows_view view, std::vector<std::string> topics) : view_(view), topics_(std::move(topics)) {}
  std::string name() const override { return "workflow_triggers"; }
  // The trigger topics, and always the topics that end mission and agent_invoke waits.
  std::vector<std::string> subscriptions() const override {
    auto t = topics_;
    // mission.lifecycle as a pattern: the missions feature may be off (the topic absent).
    for (const std::string& always : {std::string(kMissionLifecycleTopic) + "*", std::string(kAgentResultsTopic)})
      if (std::find(t.begin(), t.end(), always) == t.end()) t.push_back(always);
    return t;
  }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;

 private:
  result<void> refresh();
  workflows_view view_;
  std::vector<std::string> topics_;
  std::vector<nlohmann::json> triggers_;
  std::chrono::steady_clock::time_point loaded_{};
};

}  // namespace nf::workflows
