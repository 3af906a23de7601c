// The event bus: topics of partitioned, offset-addressed logs, with consumer groups.
// Two implementations pass the same conformance suite (tests/component/bus_conformance_test.cc):
//   embedded  a durable log on RocksDB in the data directory (default)
//   kafka     librdkafka against a Kafka cluster
// Partitions are chosen by key with Kafka's default partitioner (murmur2), so a key lands on the
// same partition number under either implementation and under a Java Kafka client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/types.h"

namespace nf::bus {

struct header {
  std::string name;
  std::string value;
  bool operator==(const header&) const = default;
};

// Key versions (optimistic concurrency, as EventStoreDB's expected revision). On a topic that
// tracks them (topic_config::key_versions), a key's version is the number of records appended
// with that key so far: 0 before the first (no stream), n after the n-th. An append may name the
// version a key must have just before a record; a mismatch appends nothing of the whole call and
// is errc::wrong_expected_version naming the topic, key, expected and actual version.
inline constexpr std::int64_t kNoStream = 0;

// What a producer appends. The bus treats key and value as opaque bytes.
struct record {
  std::string key = {};
  std::string value = {};
  std::int64_t timestamp_ms = 0;               // 0: the bus stamps the append time
  std::vector<header> headers = {};
  std::optional<partition_id> partition = std::nullopt;  // unset: chosen by key (murmur2), or round-robin if key is empty
  // Unset: any version. Set: the key's version just before this record (kNoStream: the key has
  // no record yet); records earlier in the same append count. Needs a non-empty key on a topic
  // with key_versions.
  std::optional<std::int64_t> expected_version = std::nullopt;
};

struct append_result {
  partition_id partition;
  offset off;
  std::int64_t timestamp_ms;
  std::int64_t version = 0;                    // the key's version after this record; 0 when not tracked
};

// What a consumer reads.
struct message {
  topic_name topic;
  partition_id partition;
  offset off;
  std::int64_t timestamp_ms = 0;
  std::string key;
  std::string value;
  std::vector<header> headers;

  const std::string* find_header(const std::string& name) const;
};

struct topic_config {
  std::int32_t partitions = 1;
  std::int64_t retention_ms = -1;              // -1: keep forever
  std::int64_t retention_bytes = -1;           // -1: unlimited; applies per partition
  bool key_versions = false;                   // count records per key, so appends can expect a version
  // Kafka's cleanup.policy=compact: the bus keeps at least the latest record of every key (offsets
  // never change; reading from the start gives every key's latest value). A record with an empty
  // value is a tombstone: it deletes its key, and is itself removed once it is older than
  // delete_retention_ms. Every record needs a key. Not combined with retention_ms/retention_bytes.
  bool compact = false;
  std::int64_t delete_retention_ms = 86'400'000;  // Kafka's delete.retention.ms default: one day
};

struct topic_info {
  topic_name name;
  topic_config config;
};

enum class reset_policy { earliest, latest };

struct consumer_options {
  // Group consumers split partitions among group members and commit positions under this name.
  // Empty: a standalone consumer that reads what assign() gives it and commits nothing.
  std::string group;
  // Exact topic names or patterns with '*' ("mission.*"). Patterns also match topics created
  // after subscribing. Only for group consumers.
  std::vector<std::string> subscriptions;
  // Where to start when the group has no committed offset for a partition.
  reset_policy reset = reset_policy::earliest;
};

class consumer {
 public:
  virtual ~consumer() = default;

  // Waits up to `timeout` for at least one message; returns up to `max_messages`.
  // An empty vector means the timeout passed (or wakeup() was called).
  virtual result<std::vector<message>> poll(std::chrono::milliseconds timeout, std::size_t max_messages) = 0;

  // Commits, for every partition polled from, the offset after the last message returned.
  virtual result<void> commit() = 0;
  // Commits explicit positions (the next offset to read).
  virtual result<void> commit(const std::vector<std::pair<topic_partition, offset>>& positions) = 0;

  // Standalone consumers: read these partitions from these offsets.
  virtual result<void> assign(const std::vector<std::pair<topic_partition, offset>>& positions) = 0;
  // Moves the read position of an assigned partition.
  virtual result<void> seek(const topic_partition& tp, offset off) = 0;

  // Partitions currently owned by this consumer.
  virtual std::vector<topic_partition> assignment() = 0;

  // While paused, poll() returns no messages but keeps group membership (backpressure).
  virtual void pause() = 0;
  virtual void resume() = 0;

  // Makes a blocked poll() return early; safe from any thread.
  virtual void wakeup() = 0;
};

class event_bus {
 public:
  virtual ~event_bus() = default;

  virtual std::string_view kind() const = 0;
  // Names the cluster, the same for every instance on it: Kafka's cluster id, or an id the
  // embedded bus generates into its store when it is created. Position tokens carry it.
  virtual result<std::string> cluster_id() = 0;

  virtual result<void> create_topic(const topic_name& name, const topic_config& cfg) = 0;
  virtual result<std::vector<topic_info>> list_topics() = 0;
  virtual result<topic_info> describe_topic(const topic_name& name) = 0;

  // Appends all records or none (embedded); the results are in record order.
  virtual result<std::vector<append_result>> append(const topic_name& topic, std::span<const record> records) = 0;

  // Appends like append() and reports the outcome to `done` exactly once. The embedded bus
  // queues the records for its next group commit and returns at once; `done` then runs on the
  // thread that wrote the group, so it must be quick and must not append. Without such a queue
  // (the default, and Kafka) the records are appended on the calling thread and `done` runs
  // before this returns.
  using append_done = std::function<void(result<std::vector<append_result>>)>;
  virtual void append_async(const topic_name& topic, std::vector<record> records, append_done done) {
    done(append(topic, records));
  }
  // Whether append_async returns without waiting for the write, so an I/O thread may call it.
  virtual bool appends_async() const { return false; }

  // Starts counting key versions on an existing topic (the embedded bus counts the records
  // already there, so versions are the same as if the topic had tracked them from its creation).
  // errc::unsupported where the bus cannot check expected versions itself (Kafka: decisions that
  // need them go through the partition's owner).
  virtual result<void> track_key_versions(const topic_name& topic) {
    return error{errc::unsupported, "the " + std::string(kind()) + " bus does not check expected versions of topic '" + topic.get() + "'"};
  }

  // First offset still stored, and the offset the next append will get.
  virtual result<offset> begin_offset(const topic_partition& tp) = 0;
  virtual result<offset> end_offset(const topic_partition& tp) = 0;
  // First offset whose timestamp is >= ts_ms; end_offset if there is none.
  virtual result<offset> offset_for_time(const topic_partition& tp, std::int64_t ts_ms) = 0;

  virtual result<std::unique_ptr<consumer>> make_consumer(const consumer_options& opts) = 0;
  // The committed position of a group on a partition, if any.
  virtual result<std::optional<offset>> committed(const std::string& group, const topic_partition& tp) = 0;
};

// Kafka's murmur2 (seed 0x9747b28c), as org.apache.kafka.common.utils.Utils.murmur2.
std::int32_t murmur2(std::string_view key) noexcept;
// Kafka's default partition for a non-empty key: (murmur2(key) & 0x7fffffff) % partitions.
partition_id partition_for_key(std::string_view key, std::int32_t partitions) noexcept;

// '*' matches any run of characters; everything else matches itself.
bool topic_matches(std::string_view pattern, std::string_view topic) noexcept;
bool is_pattern(std::string_view subscription) noexcept;
// Whether a topic is matched by any of a consumer's subscriptions (exact names or patterns).
bool subscribed_by(const std::vector<std::string>& subscriptions, std::string_view topic) noexcept;
// The same pattern as an anchored POSIX regex for librdkafka ("mission.*" -> "^mission\..*$").
std::string pattern_to_regex(std::string_view pattern);

// Topic names: 1..249 characters of [a-zA-Z0-9._-], as Kafka requires.
result<void> validate_topic_name(std::string_view name);
// A compacted topic takes no retention and a non-negative delete_retention_ms (both buses).
result<void> check_cleanup(const topic_name& name, const topic_config& cfg);

// Total bytes an event occupies against max_event_bytes.
std::size_t record_size(const record& r) noexcept;
// errc::too_large naming the first record over `max_event_bytes` (bus.max_event_bytes), if any.
result<void> check_record_sizes(std::span<const record> records, std::size_t max_event_bytes);

}  // namespace nf::bus
