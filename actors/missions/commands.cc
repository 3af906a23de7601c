// The missions feature's subcommands: `nexus-forge mission create` and `nexus-forge query
// missions`, through a running server's /missions routes.
#include "actors/missions/commands.h"

#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/http/client.h"

namespace nf::missions {

namespace {
namespace client = http::client;
using json = nlohmann::json;
}  // namespace

int mission_create(const mission_create_args& a) {
  json body{{"objective", a.objective}, {"priority", a.priority}, {"originatingSpec", a.spec}};
  if (!a.id.empty()) body["id"] = a.id;
  if (!a.created_at.empty()) body["createdAt"] = a.created_at;
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/missions", body.dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 202) return client::api_error(*r);
  client::remember_position(r->position);
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) std::cout << r->body << "\n";
  else
    std::cout << "accepted mission " << j.value("id", "") << " at " << j.value("topic", "") << "/" << j.value("partition", 0) << "@"
              << j.value("offset", 0) << "\n";
  return 0;
}

int query_missions(const query_args& a) {
  std::string err;
  if (!a.id.empty()) {
    auto r = client::read_after_write(a.server, "/missions/" + http::url_encode(a.id), err, client::key_or_env(a.key));
    if (!r) return client::fail(err);
    if (r->status != 200) return client::api_error(*r);
    std::cout << (a.json ? r->body : json::parse(r->body).dump(2)) << "\n";
    return 0;
  }
  std::string target = "/missions?limit=" + std::to_string(a.limit);
  if (!a.status.empty()) target += "&status=" + http::url_encode(a.status);
  if (!a.priority.empty()) target += "&priority=" + http::url_encode(a.priority);
  if (!a.cursor.empty()) target += "&cursor=" + http::url_encode(a.cursor);
  auto r = client::read_after_write(a.server, target, err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 200) return client::api_error(*r);
  if (a.json) {
    std::cout << r->body << "\n";
    return 0;
  }
  auto j = json::parse(r->body);
  for (const auto& m : j["items"])
    std::cout << m.value("id", "") << "  " << m.value("priority", "") << "  " << m.value("status", "") << "  "
              << m.value("objective", "").substr(0, 60) << "\n";
  if (j["nextCursor"].is_string()) std::cout << "# more: --cursor " << j["nextCursor"].get<std::string>() << "\n";
  return 0;
}

void add_commands(CLI::App& app, command_args& args, std::vector<feature::feature::command>& out) {
  auto& mc = args.create;
  auto* mission = app.add_subcommand("mission", "work with missions through a running server");
  mission->require_subcommand(1);
  auto* mcreate = mission->add_subcommand("create", "POST a MissionPrompt to /missions");
  mcreate->add_option("--server", mc.server, "server URL")->capture_default_str();
  mcreate->add_option("--key", mc.key, "API key (default: $NF_API_KEY)");
  mcreate->add_option("--objective", mc.objective, "what the mission must achieve")->required();
  mcreate->add_option("--priority", mc.priority, "P0, P1 or P2")->required();
  mcreate->add_option("--spec", mc.spec, "originating specification URI")->required();
  mcreate->add_option("--id", mc.id, "mission UUID (default: generated); re-sending the same id is idempotent");
  mcreate->add_option("--created-at", mc.created_at, "RFC 3339 time (default: now)");
  mcreate->add_flag("--json", mc.json, "machine-readable JSON output");
  out.push_back({mcreate, [&mc] { return mission_create(mc); }});

  auto& qa = args.query;
  auto* query = app.add_subcommand("query", "query read models through a running server");
  query->require_subcommand(1);
  auto* qmissions = query->add_subcommand("missions", "list missions, newest first (or one with --id)");
  qmissions->add_option("--server", qa.server, "server URL")->capture_default_str();
  qmissions->add_option("--key", qa.key, "API key (default: $NF_API_KEY)");
  qmissions->add_option("--status", qa.status, "prompted, accepted, in_progress, validated or failed");
  qmissions->add_option("--priority", qa.priority, "P0, P1 or P2");
  qmissions->add_option("--limit", qa.limit, "page size (1..500)")->capture_default_str();
  qmissions->add_option("--cursor", qa.cursor, "continue after a previous page");
  qmissions->add_option("--id", qa.id, "show one mission");
  qmissions->add_flag("--json", qa.json, "machine-readable JSON output");
  out.push_back({qmissions, [&qa] { return query_missions(qa); }});
}

}  // namespace nf::missions
