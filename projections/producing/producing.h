// The producing read model: the settings of topics created over HTTP, and an index of the events
// whose id the client chose (idempotent appends), folded from the log itself so it survives a
// crash between an append and its answer.
//
// In: every topic but the platform's ("*" less tenancy.*, evidence.*, commands.*, platform.*).
//     Of producing.topics, producing.topic_created (TopicCreated); of every
//     topic, records carrying the nf-digest header (a client-chosen id).
// Keys: s/<topic> -> the topic's settings (JSON: name, partitions, retentionMs,
//       acceptUnknownTypes, tenant, createdBy, createdAt);
//       i/<16-byte event id> -> topic \0 partition (decimal) \0 offset (decimal) \0 digest (hex).
// The first record of an id wins: a later one with the same id (from another instance before it
// saw the first) is not indexed over it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event/ids.h"
#include "core/projection/projection.h"

namespace nf::producing {

inline constexpr const char* kTopicsTopic = "producing.topics";
inline constexpr const char* kTopicCreated = "producing.topic_created";
// On records whose id the client chose: SHA-256 of the event's content (actors/producing/batch.h).
inline constexpr const char* kDigestHeader = "nf-digest";

class producing_projection final : public projection::projection {
 public:
  std::string name() const override { return "producing"; }
  // Every topic a client may produce to, and producing.topics; not those only the platform
  // writes, whose traffic (audit, metering, heartbeats, commands) would only cost.
  std::vector<std::string> topics() const override {
    return {"*", "!tenancy.*", "!evidence.*", "!commands.*", "!platform.*"};
  }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
};

// Where an event with a client-chosen id went, and what it carried.
struct indexed {
  topic_name topic;
  partition_id partition;
  offset off;
  std::string digest;
};

class producing_view {
 public:
  producing_view(::nf::projection::store& store, const producing_projection& proj) : store_(store), proj_(proj) {}
  result<std::optional<nlohmann::json>> settings(const std::string& topic) const;
  result<std::vector<nlohmann::json>> all_settings() const;
  // One lookup per id, from one consistent view.
  result<std::vector<std::optional<indexed>>> find(const std::vector<event::event_id>& ids) const;

 private:
  ::nf::projection::store& store_;
  const producing_projection& proj_;
};

}  // namespace nf::producing
