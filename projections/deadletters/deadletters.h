// The dead letters read model: every event an actor parked on platform.deadletter, with what
// operators did about it since (replay requested, replayed, replay failed, discarded).
//
// In:  platform.deadletter (platform.dead_lettered: DeadLetter; platform.deadletter_replayed,
//      platform.deadletter_replay_failed, platform.deadletter_discarded: DeadLetterAction) and
//      platform.deadletter.replays (platform.deadletter_replay_requested: DeadLetterAction).
// Keys: d/<dead letter id> -> the dead letter (JSON, below); p/<dead letter id> -> the parked
//       DeadLetter itself (protobuf bytes: the original record, for a replay request).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"
#include "deadletter.pb.h"

namespace nf::deadletters {

// A dead letter's states. parked -> replay_requested -> replayed | replay_failed; parked or
// replay_failed -> discarded; replay_failed -> replay_requested again.
inline constexpr const char* kParked = "parked";
inline constexpr const char* kReplayRequestedStatus = "replay_requested";
inline constexpr const char* kReplayedStatus = "replayed";
inline constexpr const char* kReplayFailedStatus = "replay_failed";
inline constexpr const char* kDiscardedStatus = "discarded";

class deadletters_projection final : public projection::projection {
 public:
  std::string name() const override { return "deadletters"; }
  std::vector<std::string> topics() const override;
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
};

struct filter {
  std::optional<std::string> actor, status;
  std::optional<std::string> tenant;  // set: that tenant's only
  std::size_t limit = 100;
};

class deadletters_view {
 public:
  deadletters_view(::nf::projection::store& store, const deadletters_projection& proj) : store_(store), proj_(proj) {}
  // {id, actor, status, tenant, type, key, source{topic,partition,offset}, error, attempts,
  //  parkedAt, position{partition,offset}, history[{action, at, by, reason}]}
  result<std::optional<nlohmann::json>> get(const std::string& id) const;
  // Newest parked first.
  result<std::vector<nlohmann::json>> list(const filter& f) const;
  // The parked event, for a replay request.
  result<std::optional<events::DeadLetter>> parked(const std::string& id) const;

 private:
  ::nf::projection::store& store_;
  const deadletters_projection& proj_;
};

}  // namespace nf::deadletters
