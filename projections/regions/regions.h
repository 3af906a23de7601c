// The regions read model: the exact map from source offsets to target offsets of every record a
// link copied into this region, folded from the copied records' own nf-mirror headers (so it is
// committed with the consumed offsets and rebuilt from the log like any read model).
//
// In: the mirrored topics (regions.mirror_topics; records without nf-mirror are passed over).
// Keys: m/<source region>/<topic>/<partition:5>/<source start:20> -> "<target start> <count>"
//         a run: `count` records copied from consecutive source offsets to consecutive target
//         offsets (a run ends where the link skipped a record or the target took another);
//       l/<source region>/<topic>/<partition:5> -> "<source start> <target start> <count>", the
//         partition's last run (the one the next record may extend);
//       h/<region> -> the region's latest region.heartbeat (JSON: region, instance, load, lagMs,
//         lagEvents, version, links, at), from region.heartbeats, its own and the copied ones;
//       lg/<from>/<to> -> a link's latest region.replication_lag (JSON: from, to, state, lagEvents,
//         lagMs, partitions, at), from region.lag;
//       pr/current -> the latest region.promoted (JSON: region, replaced, epoch, the ledger proof),
//         from region.control; epochs only grow.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/projection/projection.h"

namespace nf::regions {

inline constexpr const char* kHeartbeatsTopic = "region.heartbeats";
inline constexpr const char* kHeartbeat = "region.heartbeat";
inline constexpr const char* kLagTopic = "region.lag";
inline constexpr const char* kReplicationLag = "region.replication_lag";
inline constexpr const char* kControlTopic = "region.control";
inline constexpr const char* kPromoted = "region.promoted";
inline constexpr const char* kRecovered = "region.recovered";
// Where `region failback` keeps the events a region had that its peer never got (one partition).
inline constexpr const char* kDivergedTopic = "region.diverged";
inline constexpr const char* kDiverged = "region.diverged";

class regions_projection final : public projection::projection {
 public:
  explicit regions_projection(std::vector<std::string> topics) : topics_(std::move(topics)) {}
  // Before the projection is fed (the topics are read when its feed starts).
  void set_topics(std::vector<std::string> topics) { topics_ = std::move(topics); }
  std::string name() const override { return "regions"; }
  std::vector<std::string> topics() const override {
    auto t = topics_;
    t.push_back(kHeartbeatsTopic);
    t.push_back(kLagTopic);
    t.push_back(kControlTopic);
    return t;
  }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }

 private:
  std::vector<std::string> topics_;
};

// A run of the map.
struct offset_run {
  std::int64_t source_start = 0;
  std::int64_t target_start = 0;
  std::int64_t count = 0;
};

class regions_view {
 public:
  regions_view(::nf::projection::store& store, const regions_projection& proj) : store_(store), proj_(proj) {}
  // The run holding the greatest source offset copied from `source_region` that is <= `source`
  // (nullopt: nothing at or before it was copied).
  result<std::optional<offset_run>> run_at(const std::string& source_region, const topic_partition& tp, std::int64_t source) const;
  // For each partition, the target position matching a committed source position (see
  // replicator.h translate()); nullopt: nothing before it was copied (the target's start).
  result<std::vector<std::optional<std::int64_t>>> translate(const std::string& source_region,
                                                             const std::vector<std::pair<topic_partition, std::int64_t>>& committed) const;
  // Every region's latest heartbeat, by region (JSON text).
  result<std::map<std::string, std::string>> heartbeats() const;
  // Every link's latest replication lag, by "<from>/<to>" (JSON text).
  result<std::map<std::string, std::string>> replication() const;
  // The latest promotion (JSON text): the primary region and its epoch; nullopt: none yet.
  result<std::optional<std::string>> primary() const;
  // Every region's latest recovery from a peer, by region (JSON text).
  result<std::map<std::string, std::string>> recoveries() const;

 private:
  ::nf::projection::store& store_;
  const regions_projection& proj_;
};

}  // namespace nf::regions
