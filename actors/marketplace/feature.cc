// The marketplace feature: read model, registry actor, routes and commands.
#include "actors/marketplace/feature.h"

#include <mutex>
#include <optional>
#include <set>

#include "core/log/log.h"

#include "actors/marketplace/commands.h"
#include "actors/marketplace/events.h"
#include "actors/marketplace/registry.h"
#include "actors/marketplace/routes.h"
#include "actors/marketplace/search.h"
#include "actors/marketplace/settings.h"
#include "core/command/gateway.h"
#include "core/command/owner.h"
#include "core/store/vault.h"
#include "projections/marketplace/marketplace.h"

namespace nf::marketplace {
namespace {

class marketplace_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "marketplace"; }
  void register_events(event::type_registry& reg) const override { ::nf::marketplace::register_events(reg); }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context&) override {
    std::vector<command> out;
    ::nf::marketplace::add_commands(app, cli_, out);
    return out;
  }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override {
    return {{"marketplace", check_marketplace_section}};
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{topic_name{kAgentsTopic}}, {.name = topic_name{kCommands}, .partitions_like = topic_name{kAgentsTopic}}};
  }
  result<void> start(::nf::feature::host& h) override {
    NF_TRY_ASSIGN(settings_, marketplace_settings_of(h.cfg));
    vault_.emplace(store::vault_dir(h.cfg.data_dir, h.cfg.vault_dir));
    // The search index follows the read model: built whole at start (and after a rebuild swaps a
    // new generation in), then each agent the read model changed is read again once committed.
    proj_.on_agent_changed([this](const std::string& name) {
      std::lock_guard lk(dirty_mu_);
      dirty_.insert(name);
    });
    feed_.emplace(h.store, proj_, h.bus);
    feed_->on_applied([this, &store = h.store] { refresh_index(store); });
    NF_TRY(feed_->start());
    h.feeds.push_back(&*feed_);
    writer_.emplace(h.bus, "marketplace_registry", h.cfg.region, ::nf::command::owned_state{h.store, proj_, *feed_},
                    std::chrono::milliseconds(10'000));
    NF_TRY(writer_->check(topic_name{kCommands}, topic_name{kAgentsTopic}));
    registry_options ro;
    ro.scan.max_binary_bytes = static_cast<std::uint64_t>(settings_.max_binary_bytes);
    ro.selftest = settings_.selftest;
    ro.limits.wall = std::chrono::milliseconds(settings_.selftest_wall_ms);
    ro.limits.cpu = std::chrono::seconds(settings_.selftest_cpu_seconds);
    ro.limits.memory_bytes = static_cast<std::uint64_t>(settings_.selftest_memory_bytes);
    ro.limits.file_bytes = static_cast<std::uint64_t>(settings_.selftest_file_bytes);
    ro.selftest_dir = settings_.selftest_dir.empty() ? h.cfg.data_dir + "/marketplace/selftest" : settings_.selftest_dir;
    if (h.cfg.actor("marketplace_registry").enabled)
      h.actors.add(std::make_shared<registry>(*writer_, marketplace_view(h.store, proj_), *vault_, h.bus, ro), h.cfg.actor("marketplace_registry"));
    gateway_.emplace(h.bus);
    NF_TRY(gateway_->start({topic_name{kAgentsTopic}}));
    route_options opts;
    opts.region = h.cfg.region;
    opts.limits.max_files = static_cast<std::size_t>(settings_.max_files);
    opts.limits.max_file_bytes = static_cast<std::uint64_t>(settings_.max_file_bytes);
    opts.limits.max_package_bytes = static_cast<std::uint64_t>(settings_.max_package_bytes);
    routes_.emplace(h.store, proj_, *feed_, *gateway_, *vault_, index_, h.clock, opts);
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
  void refresh_index(projection::store& store) {
    const marketplace_view view(store, proj_);
    auto gen = store.generation(proj_);
    std::set<std::string> names;
    {
      std::lock_guard lk(dirty_mu_);
      names.swap(dirty_);
    }
    if (!gen) return;
    if (!generation_ || *generation_ != *gen) {
      index_.clear();
      auto r = view.each_agent([this](const nlohmann::json& a) {
        index_.upsert(a);
        return true;
      });
      if (!r) {
        nf::log::get("marketplace")->error("the search index cannot be built: {}", r.error().message);
        return;
      }
      generation_ = *gen;
      return;
    }
    for (const auto& n : names) {
      auto a = view.agent(n);
      if (a && *a) index_.upsert(**a);
    }
  }

  cli_args cli_;
  marketplace_settings settings_;
  marketplace_projection proj_;
  std::optional<store::vault> vault_;
  std::optional<projection::feed> feed_;
  std::optional<::nf::command::single_writer> writer_;
  std::optional<::nf::command::gateway> gateway_;
  std::optional<routes> routes_;
  search_index index_;
  std::mutex dirty_mu_;
  std::set<std::string> dirty_;             // agents changed since the index last read them
  std::optional<std::uint64_t> generation_;  // of the read model the index was built from
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<marketplace_feature>(); }

}  // namespace nf::marketplace
