// The producing feature: its read model (topic settings, client ids), its routes and its topic.
#include "actors/producing/feature.h"

#include <atomic>
#include <optional>

#include "actors/producing/routes.h"
#include "producing.pb.h"
#include "projections/producing/producing.h"

namespace nf::producing {

namespace {

class producing_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "producing"; }
  void register_events(event::type_registry& reg) const override {
    reg.add(kTopicCreated, events::TopicCreated::descriptor(), "producing");
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{.name = topic_name{kTopicsTopic}, .single_partition = true}};
  }
  result<void> start(::nf::feature::host& h) override {
    // Read by its own routes only (a retry's id lookup, topic settings): it may linger.
    feed_.emplace(h.store, proj_, h.bus, projection::runner_options{.linger = std::chrono::milliseconds(5)});
    // Each folded batch may change a topic's settings: the routes' cache of them starts over.
    feed_->on_applied([this] { folds_.fetch_add(1, std::memory_order_release); });
    NF_TRY(feed_->start());
    // Not among the feeds NF-Wait-For waits on: it reads every topic, and what it holds (topic
    // settings, client ids) is waited for by its own routes.
    h.visibility.restrict("producing.*");
    route_options ro;
    ro.region = h.cfg.region;
    ro.settings_generation = &folds_;
    ro.max_batch_events = static_cast<std::size_t>(h.cfg.http.max_batch_events);
    ro.max_event_bytes = static_cast<std::size_t>(h.cfg.bus.max_event_bytes);
    ro.default_partitions = h.cfg.bus.default_partitions;
    for (const auto& [name, ts] : h.cfg.topics)
      if (ts.accept_unknown_types) ro.accept_unknown_types.insert(name);
    routes_.emplace(h.bus, h.store, proj_, *feed_, h.visibility, h.clock, ro);
    NF_TRY(routes_->mark_start());
    routes_->add_to(h.routes);
    return ok();
  }
  bool ready(nlohmann::json& details) const override {
    if (!feed_) return false;
    details["producingIndexLag"] = feed_->lag();
    // Not feed_->caught_up(): it reads every topic, and one under constant writes is never at
    // its end; what matters is that every id appended before the start is indexed.
    return routes_ && routes_->index_ready();
  }
  std::vector<projection::projection*> projections() override { return {&proj_}; }
  void stop() override {
    if (feed_) feed_->stop();
  }

 private:
  producing_projection proj_;
  std::optional<projection::feed> feed_;
  std::atomic<std::uint64_t> folds_{0};
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<producing_feature>(); }

}  // namespace nf::producing
