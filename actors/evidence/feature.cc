// The evidence feature: ledger read model, evidence actor, vault and routes.
#include "actors/evidence/feature.h"

#include "actors/evidence/events.h"

#include <optional>

#include "actors/evidence/commands.h"
#include "actors/evidence/evidence.h"
#include "actors/evidence/keys.h"
#include "actors/evidence/routes.h"
#include "actors/evidence/settings.h"
#include "projections/ledger/ledger.h"

namespace nf::evidence {

namespace {

class evidence_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "evidence"; }
  void register_events(event::type_registry& reg) const override { ::nf::evidence::register_events(reg); }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override {
    return {{"ledger", check_ledger_section}};
  }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context& ctx) override {
    std::vector<command> out;
    ::nf::evidence::add_commands(app, cli_, ctx, out);
    return out;
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    // One partition: the ledger's order is the tree's order.
    // commands.evidence too: one owner at a time appends to the ledger.
    return {{topic_name{kRecordsTopic}},
            {.name = topic_name{kLedgerTopic}, .single_partition = true},
            {.name = topic_name{kCommandsTopic}, .single_partition = true}};
  }
  result<void> start(::nf::feature::host& h) override {
    h.visibility.restrict("evidence.*");
    NF_TRY_ASSIGN(const auto settings, ledger_settings_of(h.cfg));
    NF_TRY_ASSIGN(auto signer, load_signer(h.cfg));
    feed_.emplace(h.store, proj_, h.bus);
    NF_TRY(feed_->start());
    h.feeds.push_back(&*feed_);
    writer_.emplace(h.bus, "evidence", h.cfg.region, ::nf::command::owned_state{h.store, proj_, *feed_}, std::chrono::milliseconds(10'000));
    if (h.cfg.actor("evidence_intake").enabled)
      h.actors.add(std::make_shared<intake>(settings.topics), h.cfg.actor("evidence_intake"));
    if (h.cfg.actor("evidence").enabled) {
      options eo;
      eo.signer = signer;
      eo.head_every_leaves = static_cast<std::uint64_t>(settings.head_every_leaves);
      eo.head_every = std::chrono::milliseconds(settings.head_every_ms);
      eo.extra_topics = settings.topics;
      eo.region = h.cfg.region;
      eo.writer = &*writer_;
      eo.bus = &h.bus;
      eo.in_ledger = [store = &h.store, proj = &proj_](const std::string& id) -> result<bool> {
        NF_TRY_ASSIGN(auto index, ledger::ledger_view(*store, *proj).index_of_event(id));
        return index.has_value();
      };
      h.actors.add(std::make_shared<actor>(eo), h.cfg.actor("evidence"));
    }
    route_options ro;
    ro.proj = &proj_;
    ro.public_key_pem = signer->public_key_pem();
    ro.blob_dir = blob_dir(h.cfg);
    ro.max_record_bytes = static_cast<std::size_t>(settings.max_record_bytes);
    ro.region = h.cfg.region;
    routes_.emplace(h.bus, h.store, ro, h.clock);
    routes_->add_to(h.routes);
    return ok();
  }
  bool ready(nlohmann::json& details) const override {
    if (!feed_) return false;
    details["ledgerLag"] = feed_->lag();
    return feed_->caught_up();
  }
  std::vector<projection::projection*> projections() override { return {&proj_}; }
  void stop() override {
    if (feed_) feed_->stop();
  }

 private:
  ledger::ledger_projection proj_;
  std::optional<projection::feed> feed_;
  std::optional<::nf::command::single_writer> writer_;
  std::optional<routes> routes_;
  ledger_verify_args cli_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<evidence_feature>(); }

}  // namespace nf::evidence
