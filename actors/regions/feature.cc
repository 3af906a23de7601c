#include "actors/regions/feature.h"

#include "actors/regions/commands.h"
#include "actors/regions/settings.h"

namespace nf::regions {

namespace {

class regions_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "regions"; }
  void register_events(event::type_registry&) const override {}
  std::vector<::nf::feature::topic_spec> topics() const override { return {}; }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context& ctx) override {
    std::vector<command> out;
    ::nf::regions::add_commands(app, cli_, ctx, out);
    return out;
  }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override { return {{"regions", check_regions_section}}; }
  // The section is checked at load; serve reads it again so a bad one stops the start-up.
  result<void> start(::nf::feature::host& h) override {
    NF_TRY(regions_settings_of(h.cfg));
    return ok();
  }
  void stop() override {}

 private:
  cli_args cli_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<regions_feature>(); }

}  // namespace nf::regions
