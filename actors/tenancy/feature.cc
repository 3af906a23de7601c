// The tenancy feature: read models, directory, admission, routes, admin-key bootstrap.
#include "actors/tenancy/feature.h"

#include "actors/tenancy/reservation_owner.h"
#include "core/command/gateway.h"
#include "core/command/owner.h"

#include "actors/tenancy/commands.h"
#include "actors/tenancy/events.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "actors/tenancy/admission.h"
#include "actors/tenancy/directory_sync.h"
#include "actors/tenancy/routes.h"
#include "actors/tenancy/settings.h"
#include "core/log/log.h"
#include "projections/audit/audit.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"

namespace nf::tenancy {

namespace {

// How long the usage and audit feeds wait after a small batch (projection::runner_options).
constexpr std::chrono::milliseconds kLinger{5};

// The platform admin key's digest: from config, or from <data_dir>/tenancy/platform-admin.sha256,
// or a new key whose secret is returned (to print once) and whose digest is stored (0600).
result<std::pair<std::string, std::string>> platform_admin(const config::config& cfg, const auth_settings& auth) {
  if (!auth.platform_admin_key_sha256.empty()) return std::make_pair(auth.platform_admin_key_sha256, std::string());
  const auto dir = cfg.data_dir + "/tenancy";
  const auto path = dir + "/platform-admin.sha256";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::string digest;
    in >> digest;
    if (digest.size() != 64) return error{errc::corruption, "'" + path + "' does not hold a SHA-256 digest"};
    return std::make_pair(digest, std::string());
  }
  const auto key = issue_key();
  {
    std::ofstream out(path);
    out << key.digest << "\n";
    if (!out) return error{errc::io_error, "cannot write '" + path + "'"};
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return error{errc::io_error, "cannot make '" + path + "' private: " + ec.message()};
  return std::make_pair(key.digest, key.secret);
}

result<std::optional<jwks>> load_jwks(const auth_settings& auth) {
  if (auth.jwks_file.empty()) return std::optional<jwks>();
  std::ifstream in(auth.jwks_file);
  if (!in) return error{errc::not_found, "cannot read auth.jwks_file '" + auth.jwks_file + "'"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NF_TRY_ASSIGN(auto parsed, jwks::parse(text));
  return std::optional<jwks>(std::move(parsed));
}

class tenancy_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "tenancy"; }
  void register_events(event::type_registry& reg) const override { ::nf::tenancy::register_events(reg); }
  std::vector<std::pair<std::string, config::section_check>> config_sections() const override { return {{"auth", check_auth_section}}; }
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context&) override {
    std::vector<command> out;
    ::nf::tenancy::add_commands(app, cli_, out);
    return out;
  }
  std::vector<::nf::feature::topic_spec> topics() const override {
    return {{.name = topic_name{tenants::kTenantsTopic}, .key_versions = true},
            {topic_name{audit::kAuditTopic}},
            {topic_name{usage::kUsageTopic}},
            {.name = topic_name{kCommandsTopic}, .partitions_like = topic_name{tenants::kTenantsTopic}}};
  }

  result<void> start(::nf::feature::host& h) override {
    // A tenant reads tenancy.usage (its own alerts and refusals); the rest is the platform's.
    h.visibility.restrict("tenancy.*");
    h.visibility.allow(usage::kUsageTopic);
    NF_TRY_ASSIGN(const auto auth, auth_settings_of(h.cfg));
    NF_TRY_ASSIGN(jwks_, load_jwks(auth));
    dir_.emplace(auth.base_domain, jwks_ ? &*jwks_ : nullptr, jwt_policy{auth.jwt_issuer, auth.jwt_audience, auth.jwt_leeway_s});
    NF_TRY_ASSIGN(auto admin, platform_admin(h.cfg, auth));
    dir_->set_platform_admin(admin.first);
    new_admin_key_ = admin.second;

    sync_.emplace(h.store, tenants_, *dir_);
    tenants_feed_.emplace(h.store, tenants_, h.bus);
    tenants_feed_->on_applied([this] {
      if (auto r = sync_->applied(); !r) nf::log::get("tenancy")->error("cannot load tenants: {}", r.error().message);
    });
    NF_TRY(tenants_feed_->start());
    NF_TRY(sync_->load_all());

    access_options ao;
    ao.dir = &*dir_;
    ao.usage = &usage_;
    ao.region = h.cfg.region;
    access_.emplace(h.bus, h.store, ao, h.clock);
    // Quotas read the usage counts; a few milliseconds late is fine, and lingering makes each
    // store write carry many events instead of one group commit's.
    usage_feed_.emplace(h.store, usage_, h.bus, projection::runner_options{.linger = kLinger});
    // Usage alerts follow the committed counts, whoever appended the events.
    usage_feed_->on_applied([this] {
      auto touched = usage_.drain_touched();
      if (!touched.empty() && access_) access_->usage_applied(touched);
    });
    NF_TRY(usage_feed_->start());
    audit_feed_.emplace(h.store, audit_, h.bus, projection::runner_options{.linger = kLinger});
    NF_TRY(audit_feed_->start());
    h.feeds.insert(h.feeds.end(), {&*tenants_feed_, &*usage_feed_, &*audit_feed_});

    route_options ro;
    ro.tenants = &tenants_;
    ro.feed = &*tenants_feed_;
    ro.usage = &usage_;
    ro.audit = &audit_;
    ro.dir = &*dir_;
    ro.region = h.cfg.region;
    // Reservations are decided by the owner of their tenant's partition (reservation_owner).
    writer_.emplace(h.bus, "reservation_owner", h.cfg.region, ::nf::command::owned_state{h.store, tenants_, *tenants_feed_},
                    std::chrono::milliseconds(10'000));
    NF_TRY(writer_->check(topic_name{kCommandsTopic}, topic_name{tenants::kTenantsTopic}));
    if (h.cfg.actor("reservation_owner").enabled)
      h.actors.add(std::make_shared<reservation_owner>(*writer_, tenants::tenants_view(h.store, tenants_)), h.cfg.actor("reservation_owner"));
    gateway_.emplace(h.bus);
    NF_TRY(gateway_->start({topic_name{tenants::kTenantsTopic}}));
    ro.commands = &*gateway_;
    // A bus that does not count the tenants topic's key versions (Kafka) cannot check If-Match:
    // then every change of a tenant is appended by its owner, which checks it.
    NF_TRY_ASSIGN(const auto tenants_topic, h.bus.describe_topic(topic_name{tenants::kTenantsTopic}));
    ro.owner_appends = !tenants_topic.config.key_versions;
    routes_.emplace(h.bus, h.store, ro, *access_, h.clock);
    routes_->add_to(h.routes);
    return ok();
  }

  bool ready(nlohmann::json& details) const override {
    if (!tenants_feed_) return false;
    details["tenantsLag"] = tenants_feed_->lag();
    return tenants_feed_->caught_up();
  }

  std::vector<note> notes() const override {
    if (new_admin_key_.empty()) return {};
    return {{"platformAdminKey", new_admin_key_, "platform admin key (shown once; only its SHA-256 is kept): " + new_admin_key_}};
  }

  http::admission* admission() override { return access_ ? &*access_ : nullptr; }

  std::vector<projection::projection*> projections() override { return {&tenants_, &usage_, &audit_}; }
  void stop() override {
    // The last audit records and request meters reach the bus before the read models stop.
    if (access_) access_->stop();
    if (audit_feed_) audit_feed_->stop();
    if (usage_feed_) usage_feed_->stop();
    if (gateway_) gateway_->stop();
    if (tenants_feed_) tenants_feed_->stop();
  }

 private:
  tenant_args cli_;
  std::optional<jwks> jwks_;
  std::optional<directory> dir_;
  std::string new_admin_key_;
  tenants::tenants_projection tenants_;
  usage::usage_projection usage_;
  audit::audit_projection audit_;
  std::optional<directory_sync> sync_;
  std::optional<access> access_;
  // After access_: destroyed first, so no callback of theirs outlives it.
  std::optional<projection::feed> tenants_feed_, usage_feed_, audit_feed_;
  std::optional<::nf::command::single_writer> writer_;
  std::optional<::nf::command::gateway> gateway_;
  std::optional<routes> routes_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<tenancy_feature>(); }

}  // namespace nf::tenancy
