// The tenancy feature's subcommands: `nexus-forge tenant create|list|show|keys create|keys revoke|
// usage|audit`, through a running server's /tenants routes (API key: --key or NF_API_KEY).
#include "actors/tenancy/commands.h"

#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/base/number.h"
#include "core/http/client.h"

namespace nf::tenancy {

namespace {

namespace client = http::client;
using json = nlohmann::json;

std::string key_of(const tenant_args& a) { return client::key_or_env(a.key); }

void print_tenant(const json& t) {
  std::cout << t.value("id", "") << "  " << t.value("name", "") << "  plan " << t.value("plan", "") << "  " << t.value("status", "") << "\n";
  if (t.contains("domains") && !t["domains"].empty()) std::cout << "  domains: " << t["domains"].dump() << "\n";
  if (t.contains("limits"))
    for (const auto& [k, v] : t["limits"].items()) std::cout << "  " << k << ": " << (v.get<std::int64_t>() < 0 ? std::string("unlimited") : v.dump()) << "\n";
  if (t.contains("keys"))
    for (const auto& [id, k] : t["keys"].items())
      std::cout << "  key " << id << "  role " << k.value("role", "") << (k.contains("revokedAt") ? "  (revoked)" : "") << "  " << k.value("name", "") << "\n";
  if (t.contains("roles"))
    for (const auto& [name, perms] : t["roles"].items()) std::cout << "  role " << name << ": " << perms.dump() << "\n";
  if (t.contains("usage"))
    for (const auto& [k, v] : t["usage"].items()) std::cout << "  usage " << k << ": " << v.dump() << "\n";
  if (t.contains("alerts"))
    for (const auto& a : t["alerts"])
      std::cout << "  alert " << a.value("quota", "") << " " << a["threshold"].dump() << "% in " << a.value("period", "") << " ("
                << a["used"].dump() << " of " << a["limit"].dump() << ")\n";
}

}  // namespace

int tenant(const tenant_args& a) {
  const auto key = key_of(a);
  if (key.empty()) return client::fail("an API key is needed: --key nfk_... or NF_API_KEY");
  std::string err;
  std::optional<client::reply> r;
  int want = 200;
  if (a.action == "create") {
    json body{{"name", a.name}, {"plan", a.plan}};
    if (!a.id.empty()) body["id"] = a.id;
    if (!a.domains.empty()) body["domains"] = a.domains;
    if (!a.quotas.empty()) {
      json q = json::object();
      for (const auto& kv : a.quotas) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) return client::fail("--quota takes NAME=LIMIT, e.g. eventsPerDay=5000; got '" + kv + "'");
        auto limit = parse_number<std::int64_t>(std::string_view(kv).substr(eq + 1), "the limit", -1);
        if (!limit) return client::fail("--quota " + kv + ": the limit must be an integer (-1 for unlimited)");
        q[kv.substr(0, eq)] = *limit;
      }
      body["quotas"] = q;
    }
    r = client::call(a.server, http::verb::post, "/tenants", body.dump(), err, key);
    want = 201;
  } else if (a.action == "list") {
    r = client::call(a.server, http::verb::get, "/tenants", "", err, key);
  } else if (a.action == "show") {
    r = client::call(a.server, http::verb::get, "/tenants/" + http::url_encode(a.id), "", err, key);
  } else if (a.action == "keys-create") {
    json body{{"role", a.role}};
    if (!a.name.empty()) body["name"] = a.name;
    r = client::call(a.server, http::verb::post, "/tenants/" + http::url_encode(a.id) + "/keys", body.dump(), err, key);
    want = 201;
  } else if (a.action == "keys-revoke") {
    r = client::call(a.server, http::verb::delete_, "/tenants/" + http::url_encode(a.id) + "/keys/" + http::url_encode(a.key_id), "", err, key);
  } else if (a.action == "usage") {
    std::string target = "/tenants/" + http::url_encode(a.id) + "/usage?format=" + (a.csv ? "csv" : "json");
    if (!a.period.empty()) target += "&period=" + http::url_encode(a.period);
    r = client::call(a.server, http::verb::get, target, "", err, key);
  } else if (a.action == "audit") {
    std::string target = "/tenants/" + http::url_encode(a.id) + "/audit?limit=" + std::to_string(a.limit);
    if (!a.from.empty()) target += "&from=" + http::url_encode(a.from);
    if (!a.to.empty()) target += "&to=" + http::url_encode(a.to);
    r = client::call(a.server, http::verb::get, target, "", err, key);
  } else {
    return client::fail("unknown tenant action '" + a.action + "'");
  }
  if (!r) return client::fail(err);
  if (r->status != want) return client::api_error(*r);
  if (a.action == "usage" && a.csv) {
    std::cout << r->body;
    return 0;
  }
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) {
    std::cout << r->body << "\n";
  } else if (a.action == "usage") {
    std::cout << "usage of " << j.value("tenantId", "") << " in " << j.value("period", "") << "\n";
    for (const auto& row : j["rows"])
      std::cout << "  " << row.value("date", "") << "  " << row.value("metric", "") << "  " << row["quantity"].dump() << "\n";
  } else if (a.action == "audit") {
    for (const auto& rec : j["items"]) {
      std::cout << rec["at"].dump() << "  ";
      if (rec.value("kind", "") == "request")
        std::cout << rec.value("principal", "") << "  " << rec.value("method", "") << " " << rec.value("target", "") << "  -> "
                  << rec["status"].dump() << "\n";
      else
        std::cout << "change " << rec.value("type", "") << "\n";
    }
  } else if (a.action == "list") {
    for (const auto& t : j["items"]) std::cout << t.value("id", "") << "  " << t.value("name", "") << "  " << t.value("plan", "") << "  " << t.value("status", "") << "\n";
  } else if (a.action == "keys-create") {
    std::cout << "key " << j.value("keyId", "") << " (role " << j.value("role", "") << "); the secret is shown once:\n" << j.value("key", "") << "\n";
  } else if (a.action == "keys-revoke") {
    std::cout << "revoked " << a.key_id << "\n";
  } else {
    print_tenant(j);
  }
  return 0;
}



void add_commands(CLI::App& app, tenant_args& ta, std::vector<feature::feature::command>& out) {
  auto* tenant_cmd = app.add_subcommand("tenant", "administer tenants through a running server (API key: --key or NF_API_KEY)");
  tenant_cmd->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--server", ta.server, "server URL")->capture_default_str();
    c->add_option("--key", ta.key, "API key (default: $NF_API_KEY)");
    c->add_flag("--json", ta.json, "the server's JSON answer");
  };
  auto action = [&](CLI::App* sub, const char* name) {
    out.push_back(feature::feature::command{sub, [&ta, name] {
                                              ta.action = name;
                                              return tenant(ta);
                                            }});
  };
  auto* create = tenant_cmd->add_subcommand("create", "create a tenant (platform admin key)");
  common(create);
  create->add_option("--name", ta.name, "display name")->required();
  create->add_option("--plan", ta.plan, "basic, pro or enterprise")->capture_default_str();
  create->add_option("--id", ta.id, "tenant id (a DNS label); default: generated");
  create->add_option("--domain", ta.domains, "custom domain (repeatable)");
  create->add_option("--quota", ta.quotas, "quota override NAME=LIMIT, e.g. eventsPerDay=5000 (repeatable; -1 unlimited)");
  action(create, "create");
  auto* list = tenant_cmd->add_subcommand("list", "list tenants (platform admin key)");
  common(list);
  action(list, "list");
  auto* show = tenant_cmd->add_subcommand("show", "a tenant's plan, limits, keys and roles");
  common(show);
  show->add_option("id", ta.id, "tenant id")->required();
  action(show, "show");
  auto* keys = tenant_cmd->add_subcommand("keys", "API keys of a tenant");
  keys->require_subcommand(1);
  auto* kcreate = keys->add_subcommand("create", "create an API key (the secret is printed once)");
  common(kcreate);
  kcreate->add_option("id", ta.id, "tenant id")->required();
  kcreate->add_option("--role", ta.role, "viewer, auditor, developer, admin, owner or a custom role")->required();
  kcreate->add_option("--name", ta.name, "what the key is for");
  action(kcreate, "keys-create");
  auto* krevoke = keys->add_subcommand("revoke", "revoke an API key (effective on its next request)");
  common(krevoke);
  krevoke->add_option("id", ta.id, "tenant id")->required();
  krevoke->add_option("key-id", ta.key_id, "key id (k_...)")->required();
  action(krevoke, "keys-revoke");
  auto* usage = tenant_cmd->add_subcommand("usage", "a tenant's metered usage for a month, one row per metric per day");
  common(usage);
  usage->add_option("id", ta.id, "tenant id")->required();
  usage->add_option("--period", ta.period, "YYYY-MM (default: this month, UTC)");
  usage->add_flag("--csv", ta.csv, "CSV for a billing system's metered-usage import");
  action(usage, "usage");
  auto* audit = tenant_cmd->add_subcommand("audit", "a tenant's audit log: requests and changes, oldest first");
  common(audit);
  audit->add_option("id", ta.id, "tenant id")->required();
  audit->add_option("--from", ta.from, "RFC 3339 time or unix ms (default: the beginning)");
  audit->add_option("--to", ta.to, "RFC 3339 time or unix ms (default: now)");
  audit->add_option("--limit", ta.limit, "at most this many records (1..10000)")->capture_default_str();
  action(audit, "audit");
}

}  // namespace nf::tenancy
