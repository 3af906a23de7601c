// The command gateway: how an HTTP handler on any instance gets a decision made by the owner of
// an aggregate. It appends a command (keyed by the aggregate, on a command topic), then waits,
// bounded, for the first event that command caused (its causation id) on the feature's outcome
// topics that counts: one a deposed owner wrote after the new owner's claim is passed over
// (core/bus/fence.h), as every read model refuses it, and the new owner decides again. The
// gateway reads those topics from their ends on every partition, so it sees the outcome
// whichever instance decided. On the embedded bus the same path runs in one process.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/event/codec.h"

namespace nf::command {

struct decided {
  bus::append_result command;       // where the command landed
  bus::message outcome;             // the first event it caused
  events::Envelope outcome_event;
};

class gateway {
 public:
  explicit gateway(bus::event_bus& bus);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Starts reading the outcome topics (every partition, from its current end).
  result<void> start(std::vector<topic_name> outcome_topics);
  void stop();

  // Appends the command and waits up to `timeout` for its outcome. errc::timeout when none came in
  // time: the command stays in the log and will still be decided (a retry with the same
  // aggregate key and body is answered by that decision).
  result<decided> submit(const topic_name& command_topic, const event::new_event& command, std::chrono::milliseconds timeout);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::command
