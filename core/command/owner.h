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
#include <map>
#include <mutex>
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
  result<std::int64_t> prepare(actor::context& ctx, const topic_partition& in, const topic_name& output);

  // For work without an input (a periodic head): the epoch when this instance's claim on `out` is
  // still the latest and the state has applied everything, else nullopt (never claims).
  result<std::optional<std::int64_t>> current(const topic_partition& out);

  // Appends an outcome under `epoch`, to the output partition prepare() named.
  result<bus::append_result> append(const topic_partition& out, std::int64_t epoch, const events::Envelope& env);

 private:
  result<void> caught_up(const topic_partition& out);

  bus::event_bus& bus_;
  std::string owner_;
  std::string region_;
  owned_state st_;
  std::chrono::milliseconds catch_up_;
  std::mutex mu_;
  std::map<topic_partition, std::int64_t> mine_;   // output partition -> the offset of this instance's claim
};

}  // namespace nf::command
