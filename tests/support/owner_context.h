// A stand-in for the actor runtime's context when a test or benchmark hands a decision actor its
// commands itself: it owns every input, and derives an outcome's id from its command as the
// runtime does (the same id every time the command is handled). Header-only.
#pragma once

#include <string>

#include "core/actor/actor.h"
#include "core/event/codec.h"

namespace nf::test {

class owner_context final : public actor::context {
 public:
  explicit owner_context(std::string actor) : actor_(std::move(actor)) {}
  const bus::message* input = nullptr;  // the command being handled
  result<event::event_id> emit(const topic_name&, event::new_event) override { return error{errc::unsupported, "not used"}; }
  result<events::Envelope> caused(event::new_event ev) override {
    NF_TRY_ASSIGN(auto cmd, event::from_message(*input));
    NF_TRY_ASSIGN(auto cause, event::event_id::from_raw(cmd.id()));
    ev.id = event::derive_id(cause, actor_, 0);
    ev.causation = cause;
    return event::build(ev);
  }
  bool owns(const topic_partition&) override { return true; }
  const nf::clock& clock() const override { return system_clock::instance(); }

 private:
  std::string actor_;
};

}  // namespace nf::test
