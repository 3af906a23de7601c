#include "actors/regions/feature.h"

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/regions/commands.h"
#include "actors/regions/heartbeat.h"
#include "actors/regions/links.h"
#include "actors/regions/routes.h"
#include "actors/regions/settings.h"
#include "core/bus/embedded.h"
#include "core/bus/factory.h"
#include "core/log/log.h"
#include "core/http/message.h"
#include "projections/regions/regions.h"
#include "regions.pb.h"

namespace nf::regions {

namespace {

class regions_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "regions"; }
  void register_events(event::type_registry& reg) const override {
    reg.add(kHeartbeat, events::RegionHeartbeat::descriptor(), "regions");
    reg.add(kReplicationLag, events::ReplicationLag::descriptor(), "regions");
    reg.add(kPromoted, events::RegionPromoted::descriptor(), "regions");
    reg.add(kRecovered, events::RegionRecovered::descriptor(), "regions");
    reg.add(kDiverged, events::DivergedRecord::descriptor(), "regions");
  }
  // Heartbeats keyed by region and lags keyed by link: the latest of each is all that matters.
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{.name = topic_name{kHeartbeatsTopic}, .compact = true},
            {.name = topic_name{kLagTopic}, .compact = true},
            {.name = topic_name{kControlTopic}, .single_partition = true}};
  }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context& ctx) override {
    std::vector<command> out;
    ::nf::regions::add_commands(app, cli_, ctx, out);
    return out;
  }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override {
    return {{"regions", check_regions_section}, {"mirror", check_mirror_section}};
  }
  result<void> start(::nf::feature::host& h) override {
    cfg_ = &h.cfg;
    local_ = &h.bus;
    NF_TRY_ASSIGN(auto rs, regions_settings_of(h.cfg));
    NF_TRY_ASSIGN(mirror_, mirror_settings_of(h.cfg));
    view_.emplace(h.store, proj_);
    // A lone region (no other region configured, no link) runs nothing of this feature but its
    // routes: no read model feed, no heartbeat, no write guard. Regions cost nothing until used.
    const bool multi = !rs.names.empty() || !mirror_.links.empty() || mirror_.topics_set;
    if (multi) {
      proj_.set_topics(mirror_.topics);
      feed_.emplace(h.store, proj_, h.bus);
      // The primary as the read model knows it, refreshed after every batch it applies.
      feed_->on_applied([this] { refresh_primary(); });
      // The feed is not among h.feeds: other features' reads must not wait on this read model (it
      // reads their topics only to map copied records); GET /regions/translate waits on it itself.
      NF_TRY(feed_->start());
      // Epoch fencing: once another region was promoted, this one takes no writes (but its
      // /regions routes, so it can be promoted again).
      h.routes.add_write_guard([this](const http::request& req, const std::string& path) -> std::optional<http::response> {
        if (path.rfind("/regions", 0) == 0) return std::nullopt;
        std::lock_guard lk(primary_mu_);
        if (!primary_ || primary_->region == cfg_->region) return std::nullopt;
        auto res = http::error_response(http::status::conflict, "region_demoted",
                                        "region " + primary_->region + " is the primary since epoch " + std::to_string(primary_->epoch) + " (it replaced " +
                                            primary_->replaced + "); region " + cfg_->region + " takes no writes: send them to " + primary_->region,
                                        req);
        res.set("NF-Primary-Region", primary_->region);
        return res;
      });
      for (const auto& l : mirror_.links) {
        // The target is this region's bus or a Kafka cluster (checked by mirror_settings_of):
        // opening it does not depend on a peer being up. The source is opened by the link itself.
        NF_TRY_ASSIGN(auto* target, bus_of(l.to));
        auto& guard = guards_[l.to];
        if (!guard) guard = std::make_unique<target_guard>(*target);
        links_.push_back(std::make_unique<link_runner>(l, [this, from = l.from] { return bus_of(from); }, *guard,
                                                       std::chrono::milliseconds(mirror_.lag_refresh_ms), h.clock));
      }
      for (auto& l : links_) l->start();
      heartbeat_.emplace(h.bus, h.cfg.region, h.cfg.instance_id, h.version, std::chrono::milliseconds(mirror_.heartbeat_ms), links_, h.clock, true);
      heartbeat_->start();
    }
    // A lone region still has its read model in the store (empty, never fed), so GET /regions and
    // GET /projections answer from it like from every other.
    // Its own topics only (empty without links), so it shows no lag for the topics it never reads.
    if (!multi) {
      proj_.set_topics({});
      NF_TRY(h.store.attach(proj_));
    }
    routes_.emplace(route_deps{h.cfg, h.bus, mirror_, links_, [this](const std::string& r) { return bus_of(r); }, h.clock}, h.store, proj_,
                    feed_ ? &*feed_ : nullptr);
    routes_->add_to(h.routes);
    return ok();
  }
  void refresh_primary() {
    auto p = view_->primary();
    if (!p || !*p) return;
    auto j = nlohmann::json::parse(**p, nullptr, false);
    if (!j.is_object()) return;
    std::lock_guard lk(primary_mu_);
    primary_ = primary_state{j.value("region", ""), j.value("replaced", ""), j.value("epoch", std::int64_t{0})};
  }
  bool ready(nlohmann::json& details) const override {
    if (!feed_) return true;  // a lone region: nothing to catch up with
    details["regionsLag"] = feed_->lag();
    return feed_->caught_up();
  }
  // Offline (rebuild, digests) it folds the default mirror topics; serve sets the configured ones.
  std::vector<projection::projection*> projections() override { return {&proj_}; }
  void stop() override {
    if (heartbeat_) heartbeat_->stop();
    for (auto& l : links_) l->stop();
    if (feed_) feed_->stop();
    links_.clear();
    guards_.clear();
    std::lock_guard lk(mu_);
    opened_.clear();
    retired_.clear();
  }

 private:
  // The local bus, or another region's opened once: an embedded one read beside its server.
  result<bus::event_bus*> bus_of(const std::string& region) {
    if (region == cfg_->region) return local_;
    std::lock_guard lk(mu_);
    if (auto it = opened_.find(region); it != opened_.end()) {
      // A reader whose log was replaced (the region rebuilt by `region recover`) reads nothing
      // more: open the new one. The old reader is kept, as a link or a route may still hold it.
      auto* embedded = dynamic_cast<bus::embedded_bus*>(it->second.get());
      if (!embedded || !embedded->replaced()) return it->second.get();
      nf::log::get("regions")->warn("region {}: its log was replaced since it was opened; opening it again", region);
      retired_.push_back(std::move(it->second));
      opened_.erase(it);
    }
    NF_TRY_ASSIGN(auto rc, region_config(*cfg_, region));
    auto b = bus::open_bus(rc, rc.bus.kind == config::bus_kind::embedded ? bus::access::read_only : bus::access::owner);
    if (!b) return error{b.error().code, "region " + region + ": " + b.error().message};
    auto* raw = b->get();
    opened_[region] = std::move(*b);
    return raw;
  }

  cli_args cli_;
  const config::config* cfg_ = nullptr;
  bus::event_bus* local_ = nullptr;
  mirror_settings mirror_;
  regions_projection proj_{kDefaultMirrorTopics};
  std::optional<projection::feed> feed_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<bus::event_bus>> opened_;
  std::vector<std::unique_ptr<bus::event_bus>> retired_;  // replaced readers (see bus_of)
  std::map<std::string, std::unique_ptr<target_guard>> guards_;
  std::vector<std::unique_ptr<link_runner>> links_;
  struct primary_state {
    std::string region, replaced;
    std::int64_t epoch = 0;
  };
  std::optional<regions_view> view_;
  std::mutex primary_mu_;
  std::optional<primary_state> primary_;
  std::optional<heartbeat> heartbeat_;
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<regions_feature>(); }

}  // namespace nf::regions
