// The workflows feature: read model, engine actor, routes and commands.
#include "actors/workflows/feature.h"

#include <optional>

#include "actors/workflows/commands.h"
#include "actors/workflows/engine.h"
#include "actors/workflows/events.h"
#include "actors/workflows/routes.h"
#include "actors/workflows/settings.h"
#include "actors/workflows/triggers.h"
#include "core/command/gateway.h"
#include "core/command/owner.h"
#include "projections/workflows/workflows.h"

namespace nf::workflows {
namespace {

class workflows_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "workflows"; }
  void register_events(event::type_registry& reg) const override { ::nf::workflows::register_events(reg); }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context&) override {
    std::vector<command> out;
    ::nf::workflows::add_commands(app, cli_, out);
    return out;
  }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override {
    return {{"workflows", check_workflows_section}};
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{.name = topic_name{kDefinitionsTopic}, .key_versions = true},
            {topic_name{kRunsTopic}},
            {.name = topic_name{kCommands}, .partitions_like = topic_name{kRunsTopic}},
            {topic_name{kAgentTasksTopic}},
            {topic_name{kAgentResultsTopic}}};
  }
  result<void> start(::nf::feature::host& h) override {
    NF_TRY_ASSIGN(settings_, workflows_settings_of(h.cfg));
    feed_.emplace(h.store, proj_, h.bus);
    NF_TRY(feed_->start());
    h.feeds.push_back(&*feed_);
    defs_.emplace(workflows_view(h.store, proj_));
    writer_.emplace(h.bus, "workflow_engine", h.cfg.region, ::nf::command::owned_state{h.store, proj_, *feed_}, std::chrono::milliseconds(10'000));
    NF_TRY(writer_->check(topic_name{kCommands}, topic_name{kRunsTopic}));
    engine_options eo;
    eo.emit_topics = settings_.emit_topics;
    eo.http_allow = settings_.http_allow;
    eo.timer_period = std::chrono::milliseconds(settings_.timer_period_ms);
    if (h.cfg.actor("workflow_engine").enabled)
      h.actors.add(std::make_shared<engine>(*writer_, workflows_view(h.store, proj_), *defs_, h.bus, eo), h.cfg.actor("workflow_engine"));
    if (h.cfg.actor("workflow_triggers").enabled)
      h.actors.add(std::make_shared<event_watch>(workflows_view(h.store, proj_), settings_.trigger_topics), h.cfg.actor("workflow_triggers"));
    gateway_.emplace(h.bus);
    NF_TRY(gateway_->start({topic_name{kRunsTopic}}));
    route_options opts;
    opts.region = h.cfg.region;
    routes_.emplace(h.bus, h.store, proj_, *feed_, *gateway_, *defs_, h.clock, opts);
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
  cli_args cli_;
  workflows_settings settings_;
  workflows_projection proj_;
  std::optional<projection::feed> feed_;
  std::optional<definition_cache> defs_;
  std::optional<::nf::command::single_writer> writer_;
  std::optional<::nf::command::gateway> gateway_;
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<workflows_feature>(); }

}  // namespace nf::workflows
