// Actor runtime. Each actor:
//  - consumes its subscriptions through the consumer group "actor.<name>";
//  - runs on an Asio strand, one message at a time, fed by a bounded mailbox; when the mailbox is
//    full its subscription is paused, so memory stays bounded;
//  - emits events through its context; an output's id is derive_id(input id, actor, n), so a
//    restart or replay emits the same ids;
//  - is supervised: a handler that throws or returns an error restarts the actor from its last
//    committed position after an exponential backoff; after max_failures failures on the same
//    event, that event goes to platform.deadletter with the error text and the actor moves on.
// Time and timers are injected, so tests step backoffs by hand.
#pragma once

#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/config/config.h"
#include "core/event/codec.h"
#include "core/event/types.h"

namespace boost::asio {
class io_context;
}

namespace nf::actor {

inline constexpr const char* kDeadLetterTopic = "platform.deadletter";

// Declares the core's own event types (platform.dead_lettered and the actions on dead letters)
// in the registry.
void register_events(event::type_registry& reg);
inline constexpr const char* kDeadLetterType = "platform.dead_lettered";
// Dead letters handed back: every actor's group also reads kReplayTopic and handles the parked
// event of each kReplayRequested that names it, once, then appends kReplayed (or kReplayFailed,
// with the error) to kDeadLetterTopic. kDiscarded marks a dead letter an operator gave up on.
inline constexpr const char* kReplayTopic = "platform.deadletter.replays";
inline constexpr const char* kReplayRequested = "platform.deadletter_replay_requested";
inline constexpr const char* kReplayed = "platform.deadletter_replayed";
inline constexpr const char* kReplayFailed = "platform.deadletter_replay_failed";
inline constexpr const char* kDiscarded = "platform.deadletter_discarded";

class context {
 public:
  virtual ~context() = default;
  // Appends an event caused by the message being handled; fills id, causation, correlation,
  // region and occurred_at. Returns the id.
  virtual result<event::event_id> emit(const topic_name& topic, event::new_event ev) = 0;
  // The envelope emit() would append, without appending it (for actors that append themselves,
  // such as a fenced single writer): the same derived id, causation and defaults.
  virtual result<events::Envelope> caused(event::new_event ev) = 0;
  // Whether this actor's consumer currently owns the partition (its group assigned it here).
  virtual bool owns(const topic_partition& tp) = 0;
  virtual const nf::clock& clock() const = 0;
};

class actor {
 public:
  virtual ~actor() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> subscriptions() const = 0;
  // Throwing or returning an error is a failure (see supervision above).
  virtual result<void> handle(const bus::message& m, context& ctx) = 0;
  // Called before the actor resumes after a failure: drop private state derived from messages
  // after the last committed position.
  virtual void on_restart() {}
  // Actors whose private state is a fold of their inputs return true: at start the runtime
  // feeds them, through recover(), every input below the group's committed positions.
  virtual bool wants_recovery() const { return false; }
  virtual void recover(const bus::message&) {}
  // Actors whose state is a fold of their own outputs name those topics here instead: the
  // runtime then feeds recover() every event of them, from the beginning to the current end.
  virtual std::vector<std::string> recovery_topics() const { return {}; }
  // Messages waiting in the mailbox are handled highest priority first (FIFO among equals).
  // Positions are committed only up to the first unhandled offset of each partition.
  virtual int priority(const bus::message&) const { return 0; }
  // Actors with time-driven work (a periodic checkpoint, say) return a period: the runtime then
  // calls tick() on the actor's strand, between messages, once per period, and once more after
  // the final drain at stop. Events emitted from tick() take the id set in new_event::id (derive
  // it from the actor's state so a restart emits the same one), or a fresh UUIDv7. A failed
  // tick is logged and tried again at the next period.
  virtual std::chrono::milliseconds tick_period() const { return std::chrono::milliseconds{0}; }
  virtual result<void> tick(context&) { return ok(); }
  // Actors that append without waiting (command::single_writer::append_async) make those appends
  // durable here and report the first that failed since the last call. The runtime calls it
  // before it commits positions: on an error it commits nothing and handles every message after
  // the committed positions again (handlers are idempotent), so no output of a handled message
  // is lost.
  virtual result<void> flush() { return ok(); }
};

struct runtime_options {
  std::string region = "local";
  const nf::clock* clock = nullptr;            // null: the system clock
  timer_service* timers = nullptr;             // null: Asio timers on the runtime's io_context
  boost::asio::io_context* io = nullptr;       // null: the runtime owns one with `threads` threads
  int threads = 2;
  std::size_t commit_every = 256;              // commit after this many handled messages, or when idle
  std::chrono::milliseconds poll_timeout{200};
};

struct actor_stats {
  std::uint64_t handled = 0;
  std::uint64_t failures = 0;
  std::uint64_t restarts = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t emitted = 0;
  std::uint64_t recovered = 0;                 // inputs replayed into the actor at start
  std::uint64_t ticks = 0;
  std::size_t mailbox_depth = 0;
  std::size_t mailbox_high_water = 0;          // largest depth seen
  bool paused = false;
};

class runtime {
 public:
  runtime(bus::event_bus& bus, runtime_options opts);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  void add(std::shared_ptr<actor> a, const config::actor_settings& settings);
  // Joins every actor's group and starts intake. Creates platform.deadletter if missing.
  result<void> start();
  // Stops intake, lets every actor finish the messages already in its mailbox, commits, returns.
  void stop();

  actor_stats stats(const std::string& actor_name) const;
  // For each actor: the partitions its group gave this runtime now.
  std::map<std::string, std::vector<topic_partition>> assignments() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::actor
