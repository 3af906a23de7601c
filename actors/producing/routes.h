// The producing routes:
//   POST /topics/{topic}/events   events:write  one event, {"events":[...]} or NDJSON -> 201 {positions}
//   POST /topics                  topics:write  {name, partitions, retentionMs?, acceptUnknownTypes?} -> 201
//   GET  /topics/{topic}          events:read   partitions, offsets and settings
//
// A batch is appended atomically (all or nothing) after every event passed its checks: a known
// type against its contract (400 naming events[i] or the NDJSON line and the field), an unknown
// type only on a topic that accepts unknown types, the size limit (413), quotas (429). The caller's
// tenant is stamped on every event. Topics the platform writes (restricted ones, commands.*,
// platform.*) are refused to everyone; `tenant.<id>.*` topics belong to that tenant, and another
// tenant is answered 404 as for a topic that does not exist.
//
// An event with a client-chosen `id` is appended once: a retry with the same id and content is
// answered with the original positions, another content with 409. The index of such ids is the
// producing read model (folded from the log, so it survives a crash between an append and its
// answer) plus the ids this instance appended that the read model has not folded yet.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "core/streams/visibility.h"
#include "projections/producing/producing.h"

namespace nf::producing {

namespace perm {
inline constexpr http::permission write{"events:write"};
inline constexpr http::permission read{"events:read"};
inline constexpr http::permission topics_write{"topics:write"};
}  // namespace perm

struct route_options {
  std::string region = "local";
  std::size_t max_batch_events = 1000;
  std::size_t max_event_bytes = 1 << 20;
  std::int32_t default_partitions = 3;
  std::chrono::milliseconds read_your_writes_timeout{5'000};
  std::size_t recent_ids = 200'000;           // client ids remembered until the read model folds them
  std::set<std::string> accept_unknown_types;  // topics the config lets take unregistered types
  // Changes whenever the producing read model folded a batch (null: topic settings are read from
  // the store on every request). While it holds still, a topic's settings are served from memory.
  const std::atomic<std::uint64_t>* settings_generation = nullptr;
};

class routes {
 public:
  routes(bus::event_bus& bus, projection::store& store, producing_projection& proj, projection::feed& feed,
         const streams::topic_visibility& visibility, const nf::clock& clk, route_options opts);
  void add_to(http::route_table& table);
  // Notes the end of every partition of every topic: the index of client ids is ready once the
  // read model has folded up to there (a log under constant writes is never "at its end").
  result<void> mark_start();
  // Whether the index holds every client id appended before this instance started.
  bool index_ready() const;

 private:
  struct placed {
    std::int32_t partition = 0;
    std::int64_t off = 0;
    std::string digest;
  };
  // A request's events, checked and built, before the append.
  struct prepared {
    std::string topic;
    std::vector<std::string> wheres;   // "event", "events[3]" or "line 4"
    std::vector<bus::record> records;
    std::vector<std::string> ids;      // raw event ids, in order
    bool client_ids = false;           // every event has a client-chosen id
  };
  // Answers from the group commit that wrote the events (or at once with a refusal). Events with
  // client ids, and large bodies, go on to a worker: their checks wait and read.
  void produce(const http::route_context& c, http::answer_fn answer);
  // Parses and checks every event of the request; a refusal is the answer.
  std::variant<prepared, http::response> prepare(const http::route_context& c);
  // Client ids: the earlier append's positions, a 409, or this append (waits; on a worker).
  http::response append_idempotent(const http::route_context& c, prepared& p);
  // The answer to an append: 201 with the positions, or the bus's refusal.
  http::response appended(const http::route_context& c, const prepared& p, const result<std::vector<bus::append_result>>& at);
  http::response positions_answer(const http::route_context& c, const prepared& p, const std::vector<placed>& at, bool duplicate) const;
  http::response create_topic(const http::route_context& c);
  http::response describe(const http::route_context& c);
  // 403 or 404 when the caller may not touch `topic`; nullopt otherwise.
  std::optional<http::response> refuse_topic(const http::route_context& c, const std::string& topic, bool writing) const;
  // Whether `topic` takes event types nobody registered (its settings, or the config).
  bool accepts_unknown(const std::string& topic, const std::optional<nlohmann::json>& settings) const;
  // The same from the read model, remembered until it folds again (see settings_generation).
  result<bool> accepts_unknown(const std::string& topic);

  bus::event_bus& bus_;
  projection::store& store_;
  producing_projection& proj_;
  projection::feed& feed_;
  producing_view view_;
  const streams::topic_visibility& visibility_;
  const nf::clock& clk_;
  route_options opts_;

  // Client ids: those being appended now (a second request with one of them waits), and those
  // appended by this instance, oldest first, until recent_ids is exceeded.
  mutable std::mutex start_mu_;
  std::map<topic_partition, std::int64_t> start_ends_;
  mutable std::atomic<bool> index_ready_{false};

  std::mutex settings_mu_;
  std::unordered_map<std::string, std::pair<std::uint64_t, bool>> accepts_unknown_;  // topic -> (generation, value)

  std::mutex ids_mu_;
  std::condition_variable ids_cv_;
  std::unordered_set<std::string> in_flight_;
  std::unordered_map<std::string, std::pair<std::string, placed>> recent_;  // raw id -> (topic, placement)
  std::deque<std::string> recent_order_;
};

}  // namespace nf::producing
