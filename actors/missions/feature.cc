// The missions feature: read model, mission control actor and routes.
#include "actors/missions/feature.h"

#include "actors/missions/commands.h"
#include "actors/missions/events.h"

#include <optional>

#include "actors/missions/mission_control.h"
#include "actors/missions/prompt_owner.h"
#include "core/command/gateway.h"
#include "core/command/owner.h"
#include "actors/missions/routes.h"
#include "projections/missions/missions.h"

namespace nf::missions {

namespace {

class missions_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "missions"; }
  void register_events(event::type_registry& reg) const override { ::nf::missions::register_events(reg); }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context&) override {
    std::vector<command> out;
    ::nf::missions::add_commands(app, cli_, out);
    return out;
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{topic_name{kPrompts}},
            {topic_name{kLifecycle}},
            {topic_name{kArtifacts}},
            {topic_name{kValidations}},
            {.name = topic_name{kCommands}, .partitions_like = topic_name{kPrompts}}};
  }
  result<void> start(::nf::feature::host& h) override {
    feed_.emplace(h.store, proj_, h.bus);
    NF_TRY(feed_->start());
    h.feeds.push_back(&*feed_);
    if (h.cfg.actor("mission_control").enabled)
      h.actors.add(std::make_shared<mission_control::actor>(), h.cfg.actor("mission_control"));
    // New mission ids are decided by the owner of their partition (prompt_owner).
    writer_.emplace(h.bus, "prompt_owner", h.cfg.region, ::nf::command::owned_state{h.store, proj_, *feed_}, std::chrono::milliseconds(10'000));
    NF_TRY(writer_->check(topic_name{kCommands}, topic_name{kPrompts}));
    if (h.cfg.actor("prompt_owner").enabled)
      h.actors.add(std::make_shared<prompt_owner>(*writer_, missions_view(h.store, proj_)), h.cfg.actor("prompt_owner"));
    gateway_.emplace(h.bus);
    NF_TRY(gateway_->start({topic_name{kPrompts}}));
    route_options ro;
    ro.region = h.cfg.region;
    routes_.emplace(h.bus, h.store, proj_, *feed_, *gateway_, h.clock, ro);
    routes_->add_to(h.routes);
    return ok();
  }
  bool ready(nlohmann::json& details) const override {
    if (!feed_) return false;
    details["projectionLag"] = feed_->lag();
    return feed_->caught_up();
  }
  std::vector<projection::projection*> projections() override { return {&proj_}; }
  void stop() override {
    if (gateway_) gateway_->stop();
    if (feed_) feed_->stop();
  }

 private:
  command_args cli_;
  missions_projection proj_;
  std::optional<projection::feed> feed_;
  std::optional<::nf::command::single_writer> writer_;
  std::optional<::nf::command::gateway> gateway_;
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<missions_feature>(); }

}  // namespace nf::missions
