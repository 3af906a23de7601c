// The dead letters feature: its read model, its routes and its commands. The replay itself is
// the actor runtime's (core/actor): every actor's group reads platform.deadletter.replays.
#include "actors/deadletters/feature.h"

#include <optional>

#include "actors/deadletters/commands.h"
#include "actors/deadletters/routes.h"
#include "projections/deadletters/deadletters.h"

namespace nf::deadletters {

namespace {

class deadletters_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "deadletters"; }
  // Its event types are the actor runtime's (core/actor: actor::register_events).
  void register_events(event::type_registry&) const override {}
  // platform.deadletter and platform.deadletter.replays are the node's (every actor uses them).
  std::vector<::nf::feature::topic_spec> topics() const override { return {}; }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context&) override {
    std::vector<command> out;
    ::nf::deadletters::add_commands(app, cli_, out);
    return out;
  }
  result<void> start(::nf::feature::host& h) override {
    feed_.emplace(h.store, proj_, h.bus);
    NF_TRY(feed_->start());
    h.feeds.push_back(&*feed_);
    routes_.emplace(h.bus, h.store, proj_, *feed_, h.clock, h.cfg.region);
    routes_->add_to(h.routes);
    return ok();
  }
  bool ready(nlohmann::json& details) const override {
    if (!feed_) return false;
    details["deadlettersLag"] = feed_->lag();
    return true;
  }
  std::vector<projection::projection*> projections() override { return {&proj_}; }
  void stop() override {
    if (feed_) feed_->stop();
  }

 private:
  cli_args cli_;
  deadletters_projection proj_;
  std::optional<projection::feed> feed_;
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<deadletters_feature>(); }

}  // namespace nf::deadletters
