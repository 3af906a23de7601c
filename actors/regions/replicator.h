// Cross-region replication: copies the events of chosen topics from one region's bus to
// another's, and translates consumer positions between them.
//
// Each copied record keeps its key, value (the envelope, with its id and origin_region),
// partition number, timestamp and headers, and gains two headers that make it its own checkpoint:
//   nf-mirror  "<source region> <source offset>"   where this link read it
//   nf-origin  "<origin region> <origin offset>"   where it was first written (kept across hops)
// So the data and its checkpoint are one append: after a crash at any moment the link resumes
// after the last record the target holds from its source, and nothing is copied twice or lost.
// An event whose origin is the target region is never copied (no loops between two regions
// with the same topic names), and per origin and partition the target's highest origin offset
// is a watermark (an event reaching it again over another path is not copied again).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/bus/fence.h"
#include "core/event/codec.h"

namespace nf::regions {

using event::kMirrorHeader;  // "nf-mirror" (core/event/codec.h: actors pass such records by)
inline constexpr const char* kOriginHeader = "nf-origin";

// A position written in a header: "<region> <offset>".
struct region_position {
  std::string region;
  std::int64_t offset = 0;
};
std::string to_header(const region_position& p);
std::optional<region_position> parse_position(std::string_view header);

struct link_options {
  std::string from;                  // the source region's name
  std::string to;                    // the target region's name
  std::vector<std::string> topics;   // names or patterns ("mission.*")
  std::size_t batch = 1000;          // records read per poll
  // `region recover`: the target lost its log, so the records whose origin is the target (its own
  // events, which the source holds as copies) are copied back too.
  bool recover = false;
};

// The last region.recovered a region wrote about itself (its log rebuilt from a peer): per
// partition, where the rebuilt log ended, where the peer's log ended, and the shift added to the
// origin offsets of the region's own events written after it.
struct recovery_info {
  std::string from;                  // the peer
  struct part {
    std::int64_t end = 0, peer_end = 0, shift = 0;
  };
  std::map<topic_partition, part> parts;
};
// From `b`'s region.control; nullopt when `region` was never recovered (or the topic is absent).
result<std::optional<recovery_info>> last_recovery(bus::event_bus& b, const std::string& region);
// One region.control record as a recovery of `region`: nullopt for anything else. Partitions
// with a negative or implausible (above 2^62) end, peer end or shift are left out.
std::optional<recovery_info> recovery_of_record(const bus::message& m, const std::string& region);

// Where a record of region `source` was first written: its nf-origin header, else the envelope's
// origin_region (the source when none) at its offset in `source`, shifted by a recovery of the
// source for its own events after it.
region_position origin_of(const bus::message& m, const std::string& source, const recovery_info* recovered);

// One partition of a link: where it stands.
struct partition_state {
  topic_partition tp;
  std::int64_t next = 0;             // the next source offset to read
  std::int64_t source_end = 0;       // the source's end offset when last looked at
  std::int64_t last_copied_ts = 0;   // the source timestamp of the last record copied
  std::int64_t copied = 0;           // records appended by this process
  std::int64_t skipped_loop = 0;     // records whose origin is the target
  std::int64_t skipped_seen = 0;     // records the target already had from their origin
  std::int64_t pending_since = 0;    // the source timestamp of the first record not copied yet (0: none)
  std::int64_t skipped_fence = 0;    // owner claims and records of deposed owners (not copied)
  bus::fence_tracker fence;  // the source partition's owner claims, as read
  std::int64_t lag_events() const { return source_end > next ? source_end - next : 0; }
  // How long the oldest record not copied yet has waited, at `now_ms`.
  std::int64_t lag_ms(std::int64_t now_ms) const { return lag_events() > 0 && pending_since > 0 && now_ms > pending_since ? now_ms - pending_since : 0; }
};

// The origin watermarks of one target bus, shared by every link into it in this process: the
// check and the append of a partition happen under one lock, so two links never both copy an
// event that reached them over two paths.
class target_guard {
 public:
  explicit target_guard(bus::event_bus& target) : target_(target) {}
  bus::event_bus& bus() { return target_; }
  std::mutex& lock_of(const topic_partition& tp);
  // The highest origin offset of `origin` in the target partition (a backward scan the first
  // time), -1 when none.
  result<std::int64_t> watermark(const topic_partition& tp, const std::string& origin);
  void advance(const topic_partition& tp, const std::string& origin, std::int64_t off);

 private:
  bus::event_bus& target_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::int32_t>, std::unique_ptr<std::mutex>> locks_;
  std::map<std::tuple<std::string, std::int32_t, std::string>, std::int64_t> marks_;
};

class replicator {
 public:
  // `source` and the guard's target outlive the replicator.
  replicator(bus::event_bus& source, target_guard& target, link_options opts);
  ~replicator();

  // Resolves the topics (invalid_argument for a link to itself or a pattern matching no source
  // topic), creates the missing target topics with the source's partition count (a target topic
  // with fewer partitions is an error naming it) and finds where each partition resumes.
  result<void> prepare();
  // Copies what the source has, up to opts.batch records per poll; returns the records read
  // (copied or skipped), 0 when there was nothing new within `wait`.
  result<std::size_t> step(std::chrono::milliseconds wait);
  // Looks for topics created on the source since prepare() that the patterns match.
  result<void> refresh_topics();
  // Each partition's state (source ends refreshed; with `timestamps`, also the source time of each
  // lagging partition's first record not copied, one read each).
  result<std::vector<partition_state>> lag(bool timestamps = false);
  const link_options& options() const { return opts_; }

 private:
  result<void> add_topic(const bus::topic_info& t);
  result<void> copy(std::vector<bus::message>& batch);

  bus::event_bus& source_;
  target_guard& target_;
  link_options opts_;
  std::unique_ptr<bus::consumer> reader_;
  std::map<topic_partition, partition_state> parts_;
  std::vector<std::string> topics_;
  std::optional<recovery_info> recovered_;  // of the source
};

// Reads [from, to) of one partition, oldest first, calling `fn` for each record until it returns
// false. Gaps (compaction, retention) are skipped; a partition that stops short of `to` ends it.
result<void> read_partition(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to,
                            const std::function<bool(const bus::message&)>& fn);

// The last record of a target partition at or after target offset `floor` that came from
// `source_region` over a link: its source offset, or nullopt when there is none (scanning back
// from the end in windows).
result<std::optional<std::int64_t>> last_mirrored(bus::event_bus& target, const topic_partition& tp, const std::string& source_region,
                                                  std::int64_t floor = 0);

// A consumer group's committed position on the source, as the position on the target after
// which it has read nothing: every event it had committed is before it and every one it had not
// is at or after it (for the events the link copied; the target's own events keep their order).
struct translated {
  topic_partition tp;
  std::int64_t source = 0;           // the group's committed offset on the source (next to read)
  std::int64_t target = 0;           // the same position on the target
};
result<std::vector<translated>> translate(bus::event_bus& source, bus::event_bus& target, const std::string& group,
                                         const std::string& source_region, const std::vector<std::string>& topics);

}  // namespace nf::regions
