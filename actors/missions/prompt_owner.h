// prompt_owner: decides which mission prompts are new. A mission id's idempotency must see every
// earlier prompt for the id, so one instance decides for it: the owner of the id's partition of
// commands.missions in the group "actor.prompt_owner", from the missions read model caught up on
// that partition of mission.prompts (core/command/owner.h fences deposed owners).
//
// In:  commands.missions mission.prompt_requested (MissionPrompt; envelope header nf-body-sha256)
// Out: mission.prompts   mission.prompted (the same payload and header) for a new id, or
//                        mission.prompt_declined (PromptDeclined): "repeat" when the id exists with
//                        the same tenant and body, "conflict" otherwise.
// Ids are derived from the command, so handling a command again after a crash finds its own
// mission.prompted and declines it as a repeat: one prompt per id, whatever happens.
// Outcomes are appended without waiting for the write (many commands share one group commit);
// until the read model shows a prompt this instance accepted, the owner remembers it, so a repeat
// right behind it is still declined.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/actor/actor.h"
#include "core/command/owner.h"
#include "projections/missions/missions.h"

namespace nf::missions {

inline constexpr const char* kCommands = "commands.missions";
inline constexpr const char* kPromptRequested = "mission.prompt_requested";
inline constexpr const char* kPromptDeclined = "mission.prompt_declined";

class prompt_owner final : public ::nf::actor::actor {
 public:
  prompt_owner(command::single_writer& writer, missions_view view) : writer_(writer), view_(view) {}
  std::string name() const override { return "prompt_owner"; }
  std::vector<std::string> subscriptions() const override { return {kCommands}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  // Outcomes are appended without waiting, many to a group commit; the runtime waits for them
  // here before it commits positions.
  result<void> flush() override { return writer_.flush(); }

 private:
  // A prompt this instance accepted that the read model may not show yet.
  struct accepted {
    std::string hash, tenant;
    partition_id partition;
    std::int64_t offset = -1;  // -1 while its append is in flight
  };
  // Drops the accepted prompts the read model has applied (oldest first).
  void forget_applied();
  std::optional<accepted> recently_accepted(const std::string& id);

  command::single_writer& writer_;
  missions_view view_;
  std::mutex mu_;
  std::unordered_map<std::string, accepted> recent_;  // mission id -> its prompt, until applied
  std::deque<std::string> order_;                      // recent_'s ids, oldest first
};

}  // namespace nf::missions
