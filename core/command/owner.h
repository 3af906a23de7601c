// The single writer of a decision actor's output partitions. A decision actor (an actor whose
// handler decides a command from state: a mission id's idempotency, a tenant's reservations)
// must see every earlier decision for the aggregate, so each output partition has one writer
// at a time: the instance whose consumer owns the matching input partition. Ownership moves on
// rebalances, and a deposed owner may still be handling what it polled before, so writes are
// fenced by log order (core/bus/fence.h): the new owner appends a claim, and its state (a
// projection of the output topic, which refuses records of older claims) is caught up past
// that claim before it decides.
//
// Command and output topics must have the same partition count, so a key's command and its
// outcome share a partition number and one owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/actor/actor.h"
#include "core/bus/bus.h"
#include "core/projection/projection.h"

namespace nf::command {

inline constexpr const char* kClaimType = "platform.owner_claimed";

struct owned_state {
  projection::store& store;
  projection::projection& proj;     // reads the output topic
  projection::feed& feed;           // keeps proj applied
};

class single_writer {
 public:
  // `owner` names the writer in claims (the actor's name).
  single_writer(bus::event_bus& bus, std::string owner, std::string region, owned_state st, std::chrono::milliseconds catch_up);

  // Checks that the command and output topics have the same partition count.
  result<void> check(const topic_name& commands, const topic_name& output);

  // Before deciding on a message read from input partition `in`, whose outcome goes to the same
  // partition of `output`: claims that partition when this instance holds no current claim on it
  // and owns `in`, then waits until the state has applied every record of it. Returns the epoch
  // to append under. errc::conflict: this instance does not own `in` (the owner decides);
  // errc::timeout: the state did not catch up in time (retry). An owner that keeps state of its
  // own rebuilds it from the output partition whenever the returned epoch changes.
  //
  // With `knows_own_outcomes` (an owner that remembers what it decided until the state shows it,
  // as prompt_owner does), a claim confirmed less than a second ago is trusted without waiting for
  // the state to apply this instance's own latest outcomes, while this instance owns `in`. A
  // claim by another instance meanwhile is still safe: the state refuses this instance's later
  // writes (core/bus/fence.h).
  result<std::int64_t> prepare(actor::context& ctx, const topic_partition& in, const topic_name& output, bool knows_own_outcomes = false);

  // For work without an input (a periodic head): the epoch when this instance's claim on `out` is
  // still the latest and the state has applied everything, else nullopt (never claims).
  result<std::optional<std::int64_t>> current(const topic_partition& out);

  // Appends an outcome under `epoch`, to the output partition prepare() named.
  result<bus::append_result> append(const topic_partition& out, std::int64_t epoch, const events::Envelope& env);

  // Like append(), without waiting for the write: the bus keeps a partition's appends in order,
  // so the owner can decide the next command while this one is written with others in one group
  // commit. `done` gets the outcome's position, or the failure, on the bus's writing thread (it
  // must be quick and must not append). A failure also drops this instance's claim (the next
  // prepare() checks it again, caught up) and is reported by the next flush().
  void append_async(const topic_partition& out, std::int64_t epoch, const events::Envelope& env,
                    std::function<void(const result<bus::append_result>&)> done);
  // Waits until every append_async() so far is written.
  void settle();
  // settle(), then the first append_async() failure since the last flush(), if any. The owning
  // actor returns it from actor::flush().
  result<void> flush();

  // Whether the state has applied the event at (out, off).
  bool applied(const topic_partition& out, offset off) const;

 private:
  result<void> caught_up(const topic_partition& out);

  bus::event_bus& bus_;
  std::string owner_;
  std::string region_;
  owned_state st_;
  std::chrono::milliseconds catch_up_;
  std::mutex mu_;
  std::condition_variable settled_;
  struct held_claim {
    std::int64_t offset;                              // of this instance's claim
    std::chrono::steady_clock::time_point checked;    // when the state last confirmed it, caught up
  };
  std::map<topic_partition, held_claim> mine_;             // output partition -> this instance's claim
  std::size_t in_flight_ = 0;                         // append_async() calls not yet written
  std::optional<error> failed_;                       // the first failure since the last flush()
};

}  // namespace nf::command
