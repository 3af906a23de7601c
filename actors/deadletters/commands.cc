#include "actors/deadletters/commands.h"

#include <chrono>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/http/client.h"

namespace nf::deadletters {

namespace {

namespace client = http::client;
using json = nlohmann::json;

void print_line(const json& d) {
  std::cout << d.value("id", "") << "\t" << d.value("status", "") << "\t" << d.value("actor", "") << "\t"
            << d.value("type", "") << "\t" << d["source"].value("topic", "") << "@" << d["source"].value("partition", 0) << ":"
            << d["source"].value("offset", std::int64_t{0}) << "\t" << d.value("error", "") << "\n";
}

std::optional<json> get_json(const cli_args& a, const std::string& target, int& rc) {
  std::string err;
  auto r = client::read_after_write(a.server, target, err, client::key_or_env(a.key));
  if (!r) {
    rc = client::fail(err);
    return std::nullopt;
  }
  if (r->status != 200) {
    rc = client::api_error(*r);
    return std::nullopt;
  }
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) {
    rc = client::fail("the server's answer to " + target + " is not JSON");
    return std::nullopt;
  }
  return j;
}

int list(const cli_args& a) {
  std::string target = "/deadletters?limit=" + std::to_string(a.limit);
  if (!a.actor.empty()) target += "&actor=" + http::url_encode(a.actor);
  if (!a.status.empty()) target += "&status=" + http::url_encode(a.status);
  int rc = 0;
  auto j = get_json(a, target, rc);
  if (!j) return rc;
  if (a.json) {
    std::cout << (*j)["deadLetters"].dump() << "\n";
    return 0;
  }
  for (const auto& d : (*j)["deadLetters"]) print_line(d);
  return 0;
}

int show(const cli_args& a) {
  int rc = 0;
  auto j = get_json(a, "/deadletters/" + http::url_encode(a.id), rc);
  if (!j) return rc;
  std::cout << (a.json ? j->dump() : j->dump(2)) << "\n";
  return 0;
}

// POST the action on one dead letter; for a replay, waits (bounded) for the actor's outcome.
int act_one(const cli_args& a, const std::string& id, bool replay, json& report) {
  std::string err;
  const std::string body = replay ? std::string() : json{{"reason", a.reason}}.dump();
  auto r = client::call(a.server, http::verb::post, "/deadletters/" + http::url_encode(id) + (replay ? "/replay" : "/discard"), body, err,
                        client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 200 && r->status != 202) return client::api_error(*r);
  if (!r->position.empty()) client::remember_position(r->position);
  report = json::parse(r->body, nullptr, false);
  if (!replay || a.no_wait) return 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.timeout_ms);
  for (;;) {
    int rc = 0;
    auto d = get_json(a, "/deadletters/" + http::url_encode(id), rc);
    if (!d) return rc;
    report = std::move(*d);
    const auto st = report.value("status", "");
    if (st == "replayed") return 0;
    if (st == "replay_failed") {
      std::cerr << "error: the replay of " << id << " failed again: " << report.value("error", "") << "\n";
      return 1;
    }
    if (std::chrono::steady_clock::now() >= until) {
      std::cerr << "error: dead letter " << id << " was not replayed within " << a.timeout_ms
                << " ms; its request stands and will be handled (see `deadletter show " << id << "`)\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int act(const cli_args& a, bool replay) {
  if (!client::parse_server(a.server)) return client::fail("--server must look like http://HOST:PORT, got '" + a.server + "'");
  std::vector<std::string> ids;
  if (a.all) {
    if (!a.id.empty()) return client::fail("give a dead letter id or --all, not both");
    // Every parked one (of --actor, when given); those whose replay failed are left to one by one.
    std::string target = "/deadletters?status=parked&limit=1000";
    if (!a.actor.empty()) target += "&actor=" + http::url_encode(a.actor);
    int rc = 0;
    auto j = get_json(a, target, rc);
    if (!j) return rc;
    for (const auto& d : (*j)["deadLetters"]) ids.push_back(d.value("id", ""));
  } else {
    if (a.id.empty()) return client::fail(replay ? "give a dead letter id, or --all" : "give a dead letter id");
    ids.push_back(a.id);
  }
  json reports = json::array();
  int failed = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    json report;
    if (act_one(a, ids[i], replay, report) != 0) ++failed;
    if (ids.size() > 1 && !a.json) std::cerr << "\r" << (i + 1) << "/" << ids.size() << " " << (replay ? "replayed" : "discarded") << std::flush;
    if (report.is_object()) reports.push_back(report);
  }
  if (ids.size() > 1 && !a.json) std::cerr << "\n";
  if (a.json) std::cout << (a.all ? reports.dump() : (reports.empty() ? json::object() : reports[0]).dump()) << "\n";
  else
    for (const auto& d : reports) print_line(d);
  if (a.all && !a.json) std::cout << ids.size() - static_cast<std::size_t>(failed) << " of " << ids.size() << " dead letters " << (replay ? "replayed" : "discarded") << "\n";
  return failed ? 1 : 0;
}

}  // namespace

void add_commands(CLI::App& app, cli_args& args, std::vector<feature::feature::command>& out) {
  auto* dl = app.add_subcommand("deadletter", "events actors parked after failing on them: list, show, replay, discard (through a running server)");
  dl->require_subcommand(1);
  auto common = [&args](CLI::App* s) {
    s->add_option("--server", args.server, "the server, http://HOST:PORT")->required();
    s->add_option("--key", args.key, "API key (default: $NF_API_KEY)");
    s->add_flag("--json", args.json, "JSON output");
  };
  auto* l = dl->add_subcommand("list", "dead letters, newest first: id, status, actor, event type, source position, error");
  common(l);
  l->add_option("--actor", args.actor, "only those this actor parked");
  l->add_option("--status", args.status, "only those in this state (parked, replay_requested, replayed, replay_failed, discarded)");
  l->add_option("--limit", args.limit, "at most this many (1..1000)")->capture_default_str();
  out.push_back({l, [&args] {
                   if (!client::parse_server(args.server)) return client::fail("--server must look like http://HOST:PORT");
                   return list(args);
                 }});
  auto* s = dl->add_subcommand("show", "one dead letter, with its history and the parked event");
  common(s);
  s->add_option("id", args.id, "the dead letter's id")->required();
  out.push_back({s, [&args] {
                   if (!client::parse_server(args.server)) return client::fail("--server must look like http://HOST:PORT");
                   return show(args);
                 }});
  auto* r = dl->add_subcommand("replay", "hand a parked event back to the actor that parked it, once its cause is fixed; waits for the outcome");
  common(r);
  r->add_option("id", args.id, "the dead letter's id");
  r->add_flag("--all", args.all, "every parked dead letter (of --actor, when given), with progress");
  r->add_option("--actor", args.actor, "with --all: only those this actor parked");
  r->add_flag("--no-wait", args.no_wait, "return once the replay is requested");
  r->add_option("--timeout-ms", args.timeout_ms, "how long to wait for each outcome")->capture_default_str();
  out.push_back({r, [&args] { return act(args, true); }});
  auto* d = dl->add_subcommand("discard", "give up on a parked event (recorded as an event; nothing is deleted)");
  common(d);
  d->add_option("id", args.id, "the dead letter's id")->required();
  d->add_option("--reason", args.reason, "why (kept with the dead letter)");
  out.push_back({d, [&args] { return act(args, false); }});
}

}  // namespace nf::deadletters
