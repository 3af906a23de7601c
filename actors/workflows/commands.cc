#include "actors/workflows/commands.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/workflows/definition.h"
#include "core/http/client.h"

namespace nf::workflows {
namespace {

namespace client = http::client;
using json = nlohmann::json;

result<json> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{errc::not_found, "cannot read " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  const bool yaml = path.size() > 5 && (path.ends_with(".yaml") || path.ends_with(".yml"));
  auto doc = parse_document(ss.str(), yaml ? "application/yaml" : "application/json");
  if (!doc) return error{errc::invalid_argument, path + ": " + doc.error().message};
  return doc;
}

// k=v: v as JSON when it parses (numbers, bools, objects), else as a string.
result<json> inputs_of(const std::vector<std::string>& kvs) {
  json out = json::object();
  for (const auto& kv : kvs) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return error{errc::invalid_argument, "--input takes NAME=VALUE, not '" + kv + "'"};
    auto v = json::parse(kv.substr(eq + 1), nullptr, false);
    out[kv.substr(0, eq)] = v.is_discarded() ? json(kv.substr(eq + 1)) : v;
  }
  return out;
}

int print(const cli_args& a, const client::reply& r, int ok_status, const std::function<void(const json&)>& human) {
  if (r.status != ok_status && !(ok_status == 201 && r.status == 200)) return client::api_error(r);
  if (!r.position.empty()) client::remember_position(r.position);
  if (a.json) {
    std::cout << r.body << "\n";
    return 0;
  }
  human(json::parse(r.body, nullptr, false));
  return 0;
}

int apply(const cli_args& a, bool validate_only) {
  auto doc = read_file(a.file);
  if (!doc) return client::fail(doc.error().message);
  std::string err;
  auto r = client::call(a.server, http::verb::post, validate_only ? "/workflows/validate" : "/workflows", doc->dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (validate_only) {
    if (r->status != 200) return client::api_error(*r);
    auto j = json::parse(r->body, nullptr, false);
    if (a.json) std::cout << r->body << "\n";
    else if (j.value("valid", false)) std::cout << a.file << ": valid (" << j["order"].size() << " nodes)\n";
    else
      for (const auto& p : j["problems"])
        std::cout << a.file << ": " << (p.contains("node") ? "node '" + p["node"].get<std::string>() + "': " : std::string()) << p.value("field", "")
                  << (p.contains("field") ? ": " : "") << p.value("message", "") << "\n";
    return j.value("valid", false) ? 0 : 1;
  }
  if (r->status == 400) {
    auto j = json::parse(r->body, nullptr, false);
    if (!j.is_discarded() && j.contains("problems")) {
      if (a.json) std::cout << r->body << "\n";
      else
        for (const auto& p : j["problems"])
          std::cerr << "error: " << (p.contains("node") ? "node '" + p["node"].get<std::string>() + "': " : std::string()) << p.value("field", "")
                    << (p.contains("field") ? ": " : "") << p.value("message", "") << "\n";
      return 1;
    }
  }
  return print(a, *r, 201, [](const json& j) { std::cout << "defined " << j.value("workflowId", "") << " version " << j.value("version", 0) << "\n"; });
}

int status(const cli_args& a, const std::string& run) {
  std::string err;
  auto r = client::read_after_write(a.server, "/runs/" + http::url_encode(run), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  return print(a, *r, 200, [](const json& j) {
    std::cout << "run " << j.value("runId", "") << "  " << j.value("workflowId", "") << " v" << j.value("version", 0) << "  " << j.value("status", "") << "\n";
    if (j.contains("paused")) std::cout << "  paused before " << j["paused"].get<std::string>() << "\n";
    for (const auto& [id, n] : j["nodes"].items())
      std::cout << "  " << id << "  " << n.value("status", "") << (n.value("attempts", 0) > 1 ? "  attempts " + std::to_string(n.value("attempts", 0)) : std::string())
                << (n.contains("error") ? "  " + n["error"].value("code", "") + ": " + n["error"].value("message", "") : std::string()) << "\n";
    if (j.contains("outputs")) std::cout << "  outputs " << j["outputs"].dump() << "\n";
    if (j.contains("error")) std::cout << "  error " << j["error"].dump() << "\n";
  });
}

int run(const cli_args& a) {
  auto inputs = inputs_of(a.inputs);
  if (!inputs) return client::fail(inputs.error().message);
  json body{{"inputs", *inputs}};
  if (a.version) body["version"] = a.version;
  if (!a.idempotency_key.empty()) body["idempotencyKey"] = a.idempotency_key;
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/workflows/" + http::url_encode(a.id) + "/runs", body.dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 201 && r->status != 200) return client::api_error(*r);
  client::remember_position(r->position);
  const auto j = json::parse(r->body, nullptr, false);
  const auto run_id = j.value("runId", "");
  if (!a.wait) {
    if (a.json) std::cout << r->body << "\n";
    else std::cout << "started run " << run_id << "\n";
    return 0;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.timeout_ms);
  for (;;) {
    auto s = client::read_after_write(a.server, "/runs/" + http::url_encode(run_id), err, client::key_or_env(a.key));
    if (!s) return client::fail(err);
    if (s->status != 200) return client::api_error(*s);
    auto d = json::parse(s->body, nullptr, false);
    const auto st = d.value("status", "");
    if (st == "completed" || st == "failed" || st == "cancelled") {
      cli_args b = a;
      const int rc = status(b, run_id);
      return rc ? rc : (st == "completed" ? 0 : 1);
    }
    if (std::chrono::steady_clock::now() > deadline) return client::fail("run " + run_id + " is still " + st + " after " + std::to_string(a.timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int history(const cli_args& a) {
  std::string err;
  std::int64_t after = 0;
  json all = json::array();
  for (;;) {
    auto r = client::read_after_write(a.server, "/runs/" + http::url_encode(a.run) + "/history?limit=1000&after=" + std::to_string(after), err, client::key_or_env(a.key));
    if (!r) return client::fail(err);
    if (r->status != 200) return client::api_error(*r);
    auto j = json::parse(r->body, nullptr, false);
    for (auto& e : j["events"]) {
      if (a.json) all.push_back(e);
      else
        std::cout << e.value("seq", 0) << "  " << e.value("type", "") << (e.contains("node") ? "  " + e["node"].get<std::string>() : std::string())
                  << (e.contains("errorCode") ? "  " + e["errorCode"].get<std::string>() : std::string()) << "\n";
    }
    if (!j.contains("next")) break;
    after = j["next"].get<std::int64_t>();
  }
  if (a.json) std::cout << json{{"runId", a.run}, {"events", all}}.dump() << "\n";
  return 0;
}

int reset(const cli_args& a) {
  auto inputs = inputs_of(a.inputs);
  if (!inputs) return client::fail(inputs.error().message);
  json body{{"node", a.node}};
  if (!inputs->empty()) body["inputs"] = *inputs;
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/runs/" + http::url_encode(a.run) + "/reset", body.dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  return print(a, *r, 201, [](const json& j) {
    std::cout << "started run " << j.value("runId", "") << " from node " << j.value("node", "") << " of " << j.value("resetOf", "") << " (" << j.value("reused", 0)
              << " outputs reused)\n";
  });
}

int export_doc(const cli_args& a) {
  if (a.format != "yaml" && a.format != "json") return client::fail("--format is yaml or json");
  std::string err;
  const std::string target = "/workflows/" + http::url_encode(a.id) + (a.version ? "/versions/" + std::to_string(a.version) : std::string()) + "?format=" + a.format;
  auto r = client::read_after_write(a.server, target, err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 200) return client::api_error(*r);
  if (a.format == "yaml") std::cout << r->body;
  else std::cout << json::parse(r->body)["document"].dump(2) << "\n";
  return 0;
}

int schedule(const cli_args& a) {
  auto inputs = inputs_of(a.inputs);
  if (!inputs) return client::fail(inputs.error().message);
  json body{{"cron", a.cron}, {"inputs", *inputs}, {"overlap", a.overlap}, {"catchup", a.catchup}};
  if (a.version) body["version"] = a.version;
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/workflows/" + http::url_encode(a.id) + "/schedules", body.dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  return print(a, *r, 201, [](const json& j) {
    std::cout << "schedule " << j.value("scheduleId", "") << " (" << j.value("cron", "") << ", UTC) fires next at";
    for (const auto& t : j.value("next", json::array())) std::cout << " " << t.get<std::int64_t>();
    std::cout << " (unix ms)\n";
  });
}

int templates(const cli_args& a) {
  std::string err;
  auto r = client::call(a.server, http::verb::get, "/workflows/templates", "", err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  return print(a, *r, 200, [](const json& j) {
    for (const auto& t : j["templates"])
      std::cout << t.value("template", "") << " v" << t.value("version", 0) << "  (" << t.value("category", "") << ")  " << t.value("title", "")
                << (t.value("shipped", false) ? "" : "  [yours]") << "\n";
  });
}

int nodes(const cli_args& a) {
  std::string err;
  auto r = client::call(a.server, http::verb::get, "/workflows/nodes", "", err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  return print(a, *r, 200, [](const json& j) {
    for (const auto& n : j) std::cout << n.value("type", "") << "  (" << n.value("category", "") << ")  " << n.value("summary", "") << "\n";
  });
}

}  // namespace

void add_commands(CLI::App& app, cli_args& a, std::vector<feature::feature::command>& out) {
  auto* wf = app.add_subcommand("workflow", "define and run workflows through a running server");
  wf->require_subcommand(1);
  auto common = [&a](CLI::App* c) {
    c->add_option("--server", a.server, "server URL")->capture_default_str();
    c->add_option("--key", a.key, "API key (default: $NF_API_KEY)");
    c->add_flag("--json", a.json, "machine-readable JSON output");
  };
  auto* ap = wf->add_subcommand("apply", "define a new version from a JSON or YAML file (.yaml/.yml)");
  ap->add_option("FILE", a.file, "the definition")->required();
  common(ap);
  out.push_back({ap, [&a] { return apply(a, false); }});
  auto* va = wf->add_subcommand("validate", "compile a definition file and list every problem; stores nothing");
  va->add_option("FILE", a.file, "the definition")->required();
  common(va);
  out.push_back({va, [&a] { return apply(a, true); }});
  auto* rn = wf->add_subcommand("run", "start a run");
  rn->add_option("ID", a.id, "the workflow id")->required();
  rn->add_option("--input", a.inputs, "NAME=VALUE (VALUE as JSON when it parses, else text); repeatable");
  rn->add_option("--version", a.version, "the definition version (default: the latest)");
  rn->add_option("--idempotency-key", a.idempotency_key, "the same key and inputs start one run");
  rn->add_flag("--wait", a.wait, "wait for the run to end and print it");
  rn->add_option("--timeout-ms", a.timeout_ms, "how long --wait waits")->capture_default_str();
  common(rn);
  out.push_back({rn, [&a] { return run(a); }});
  auto* st = wf->add_subcommand("status", "a run's status, nodes and outputs");
  st->add_option("RUN", a.run, "the run id")->required();
  common(st);
  out.push_back({st, [&a] { return status(a, a.run); }});
  auto* hi = wf->add_subcommand("history", "a run's events");
  hi->add_option("RUN", a.run, "the run id")->required();
  common(hi);
  out.push_back({hi, [&a] { return history(a); }});
  auto* rs = wf->add_subcommand("reset", "start a new run from a node, reusing the outputs before it");
  rs->add_option("RUN", a.run, "the run id")->required();
  rs->add_option("--node", a.node, "the node to run again from")->required();
  rs->add_option("--input", a.inputs, "NAME=VALUE: an input to change; repeatable");
  common(rs);
  out.push_back({rs, [&a] { return reset(a); }});
  auto* ex = wf->add_subcommand("export", "print a definition");
  ex->add_option("ID", a.id, "the workflow id")->required();
  ex->add_option("--version", a.version, "the version (default: the latest)");
  ex->add_option("--format", a.format, "yaml or json")->capture_default_str();
  common(ex);
  out.push_back({ex, [&a] { return export_doc(a); }});
  auto* sc = wf->add_subcommand("schedule", "schedule runs of a workflow by a cron (5 fields, UTC)");
  sc->add_option("ID", a.id, "the workflow id")->required();
  sc->add_option("--cron", a.cron, "minute hour day-of-month month day-of-week")->required();
  sc->add_option("--input", a.inputs, "NAME=VALUE for every run; repeatable");
  sc->add_option("--overlap", a.overlap, "skip, buffer_one, allow_all or cancel_other")->capture_default_str();
  sc->add_option("--catchup", a.catchup, "none, latest or all")->capture_default_str();
  sc->add_option("--version", a.version, "pin a version (default: the latest when it fires)");
  common(sc);
  out.push_back({sc, [&a] { return schedule(a); }});
  auto* tp = wf->add_subcommand("templates", "the workflow templates (shipped and your tenant's)");
  common(tp);
  out.push_back({tp, [&a] { return templates(a); }});
  auto* no = wf->add_subcommand("nodes", "the node library");
  common(no);
  out.push_back({no, [&a] { return nodes(a); }});
}

}  // namespace nf::workflows
