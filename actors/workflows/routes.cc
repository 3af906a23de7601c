#include "actors/workflows/routes.h"

#include <set>

#include "actors/workflows/cron.h"
#include "actors/workflows/nodes.h"
#include "actors/workflows/templates.h"
#include "core/base/sha256.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "workflows.pb.h"

namespace nf::workflows {

using json = nlohmann::json;
using http::status;

namespace {

http::response_doc error_doc(const char* why) { return {why, http::schema::ref("Error")}; }
const json kObject{{"type", "object"}};

http::response problems_response(const std::vector<problem>& ps, const http::request& req) {
  json list = json::array();
  for (const auto& p : ps) list.push_back(to_json(p));
  const auto& first = ps.at(0);
  json e{{"code", "invalid_definition"}, {"message", to_string(first) + (ps.size() > 1 ? " (and " + std::to_string(ps.size() - 1) + " more)" : std::string())}};
  e["field"] = first.node.empty() ? first.field : "nodes." + first.node + (first.field.empty() ? std::string() : "." + first.field);
  return http::json_response(status::bad_request, json{{"error", e}, {"problems", list}}, req);
}

http::response yaml_response(const json& doc, const http::request& req) {
  http::response res{status::ok, req.version()};
  res.set(http::field::content_type, "application/yaml");
  res.set(http::field::server, "nexus-forge");
  res.keep_alive(req.keep_alive());
  res.body() = to_yaml(doc);
  res.prepare_payload();
  return res;
}

std::string content_type(const http::request& req) {
  auto it = req.find(http::field::content_type);
  return it == req.end() ? std::string("application/json") : std::string(it->value());
}

// The caller's concurrentRuns quota, nullopt when unlimited.
std::optional<std::int64_t> concurrent_runs(const http::caller& who) {
  auto lim = who.limits.find("concurrentRuns");
  if (lim == who.limits.end() || lim->second < 0) return std::nullopt;
  return lim->second;
}

// A definition or template body that did not parse: code malformed_yaml for a YAML body (the
// message names line and column), else what every JSON route answers.
http::response bad_document(const error& e, const http::request& req) {
  if (e.code == errc::invalid_argument && is_yaml_type(content_type(req)))
    return http::error_response(status::bad_request, "malformed_yaml", e.message, req, "body");
  return http::bad_body(e, req);
}

// A run id from an idempotency key: the same tenant, workflow and key name the same run.
std::string keyed_run_id(const std::string& tenant, const std::string& workflow, const std::string& key) {
  const auto h = sha256_hex(tenant + '\0' + workflow + '\0' + key);
  return event::derive_id(event::event_id{}, h, 0).to_string();
}

json run_refusal_body(const events::RunRefused& r) { return json{{"error", {{"code", r.code()}, {"message", r.message()}}}}; }

status refusal_status(const std::string& code) {
  if (code == "not_found") return status::not_found;
  return status::conflict;
}

}  // namespace

routes::routes(bus::event_bus& bus, projection::store& store, workflows_projection& proj, projection::feed& feed, command::gateway& gateway,
               definition_cache& defs, const nf::clock& clk, route_options opts)
    : bus_(bus), view_(store, proj), feed_(feed), gateway_(gateway), defs_(defs), clk_(clk), opts_(std::move(opts)) {}

void routes::add_to(http::route_table& t) {
  const http::param_doc id{"id", "the workflow id", http::schema::string(), true, "path"};
  const http::param_doc run{"id", "the run id", http::schema::string(), true, "path"};
  const http::param_doc format{"format", "json (default) or yaml", http::schema::enumeration({"json", "yaml"})};
  t.add({.method = http::verb::get, .path = "/workflows/nodes", .perm = perm::read, .summary = "The node library: every node type, its config schema and ports",
         .tag = "workflows", .responses = {{200, {"the node types", http::schema::array(kObject)}}},
         .handler = [](const http::route_context& c) { return http::json_response(status::ok, node_registry::builtin().describe(), c.req); }});
  const http::param_doc tname{"name", "the template's name", http::schema::string(), true, "path"};
  t.add({.method = http::verb::get, .path = "/workflows/templates", .perm = perm::read, .summary = "Workflow templates: the shipped ones and the tenant's own",
         .tag = "workflows", .responses = {{200, {"{templates}", kObject}}}, .handler = [this](const http::route_context& c) { return list_templates(c); }});
  t.add({.method = http::verb::post, .path = "/workflows/templates", .perm = perm::write, .summary = "Add a version of a tenant's own template (JSON or YAML)",
         .tag = "workflows", .body = kObject,
         .responses = {{201, {"{template, version}", kObject}}, {400, error_doc("an invalid template, naming the field")}, {409, error_doc("the version exists")}},
         .handler = [this](const http::route_context& c) { return add_template(c); }});
  t.add({.method = http::verb::post, .path = "/workflows/templates/{name}/preview", .perm = perm::read,
         .summary = "The definition a template gives with these params, compiled; nothing is stored", .tag = "workflows", .params = {tname}, .body = kObject,
         .responses = {{200, {"{definition, valid, problems}", kObject}}, {400, error_doc("bad params, naming params.<name>")}, {404, error_doc("no such template")}},
         .handler = [this](const http::route_context& c) { return use_template(c, false); }});
  t.add({.method = http::verb::post, .path = "/workflows/templates/{name}/instantiate", .perm = perm::write,
         .summary = "Define a workflow from a template", .tag = "workflows", .params = {tname}, .body = kObject,
         .responses = {{201, {"{workflowId, version, digest, template, templateVersion}", kObject}},
                       {400, error_doc("bad params, or a definition that does not compile")},
                       {404, error_doc("no such template")},
                       {409, error_doc("that workflow version exists")}},
         .handler = [this](const http::route_context& c) { return use_template(c, true); }});
  t.add({.method = http::verb::post, .path = "/workflows/validate", .perm = perm::read, .summary = "Compile a definition without storing it",
         .tag = "workflows", .body = kObject,
         .responses = {{200, {"{valid, problems}", kObject}}, {400, error_doc("a body that is not JSON or YAML")}},
         .handler = [this](const http::route_context& c) { return validate(c); }});
  t.add({.method = http::verb::post, .path = "/workflows", .perm = perm::write, .summary = "Define a new version of a workflow (JSON, or YAML with Content-Type application/yaml)",
         .tag = "workflows", .body = kObject,
         .responses = {{201, {"{workflowId, version, digest}", kObject}},
                       {400, error_doc("the definition does not compile: every problem, with its node")},
                       {409, error_doc("the version exists (versions are immutable)")}},
         .handler = [this](const http::route_context& c) { return define(c); }});
  t.add({.method = http::verb::get, .path = "/workflows", .perm = perm::read, .summary = "The tenant's workflows and their latest versions", .tag = "workflows",
         .responses = {{200, {"{workflows}", kObject}}}, .handler = [this](const http::route_context& c) { return list(c); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}", .perm = perm::read, .summary = "A workflow's latest version", .tag = "workflows",
         .params = {id, format}, .responses = {{200, {"the version", kObject}}, {404, error_doc("no such workflow")}},
         .handler = [this](const http::route_context& c) { return get_version(c, true); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}/versions/{v}", .perm = perm::read, .summary = "One version of a workflow", .tag = "workflows",
         .params = {id, {"v", "the version", http::schema::integer(), true, "path"}, format},
         .responses = {{200, {"the version", kObject}}, {400, error_doc("a version that is not a number")}, {404, error_doc("no such version")}},
         .handler = [this](const http::route_context& c) { return get_version(c, false); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}/metrics", .perm = perm::read, .summary = "Per node: executions, failures, p50 and p95 duration",
         .tag = "workflows", .params = {id}, .responses = {{200, {"{nodes}", kObject}}},
         .handler = [this](const http::route_context& c) { return metrics(c); }});
  t.add({.method = http::verb::post, .path = "/workflows/{id}/runs", .perm = perm::write, .summary = "Start a run (pinned to a version, the latest by default)",
         .tag = "workflows", .params = {id}, .body = kObject,
         .responses = {{201, {"{runId, status}", kObject}},
                       {200, {"the run this idempotencyKey started before, with the same inputs", kObject}},
                       {400, error_doc("inputs of the wrong type, unknown breakpoints, naming the field")},
                       {404, error_doc("no such workflow or version")},
                       {409, error_doc("the idempotencyKey started a run with other inputs")}},
         .handler = [this](const http::route_context& c) { return start(c); }});
  t.add({.method = http::verb::get, .path = "/runs", .perm = perm::read, .summary = "Search runs (newest first)", .tag = "workflows",
         .params = {{"workflow", "a workflow id"}, {"status", "running, paused, completed, failed or cancelled"}, {"started_after", "unix ms", http::schema::integer()},
                    {"after", "the page token of the previous page"}, {"limit", "at most 1000", http::schema::integer()}},
         .responses = {{200, {"{runs, next}", kObject}}, {400, error_doc("a bad parameter")}},
         .handler = [this](const http::route_context& c) { return list_runs(c); }});
  t.add({.method = http::verb::get, .path = "/runs/{id}", .perm = perm::read, .summary = "A run: status, every node's status, attempts, inputs, outputs and timings",
         .tag = "workflows", .params = {run}, .responses = {{200, {"the run", kObject}}, {404, error_doc("no such run")}},
         .handler = [this](const http::route_context& c) { return get_run(c); }});
  t.add({.method = http::verb::get, .path = "/runs/{id}/history", .perm = perm::read, .summary = "A run's events, paged", .tag = "workflows",
         .params = {run, {"after", "the last seq of the previous page", http::schema::integer()}, {"limit", "at most 1000", http::schema::integer()}},
         .responses = {{200, {"{events, next}", kObject}}, {404, error_doc("no such run")}},
         .handler = [this](const http::route_context& c) { return history(c); }});
  struct cmd {
    const char* path;
    const char* type;
    http::permission p;
    const char* summary;
  };
  for (const auto& k : {cmd{"/runs/{id}/cancel", kCancelRequested, perm::write, "Cancel a run"},
                        cmd{"/runs/{id}/step", kStepRequested, perm::write, "Debugging: run the paused node, then pause again"},
                        cmd{"/runs/{id}/continue", kContinueRequested, perm::write, "Debugging: run on (to the next breakpoint)"},
                        cmd{"/runs/{id}/approve", kApprovalGiven, perm::approve, "Approve the approval node the run waits at"},
                        cmd{"/runs/{id}/reject", kApprovalGiven, perm::approve, "Reject the approval node the run waits at"}}) {
    const bool rejects = std::string(k.path).find("reject") != std::string::npos;
    t.add({.method = http::verb::post, .path = k.path, .perm = k.p, .summary = k.summary, .tag = "workflows", .params = {run}, .body = kObject,
           .responses = {{200, {"the run", kObject}}, {404, error_doc("no such run")}, {409, error_doc("the run's state does not allow it")}},
           .handler = [this, type = k.type, rejects](const http::route_context& c) { return run_command(c, rejects ? "reject" : type); }});
  }
  const http::param_doc sid{"sid", "the schedule id", http::schema::string(), true, "path"};
  t.add({.method = http::verb::post, .path = "/workflows/{id}/schedules", .perm = perm::write,
         .summary = "Schedule runs by a 5-field cron (UTC), with an overlap and a catch-up policy", .tag = "workflows", .params = {id}, .body = kObject,
         .responses = {{201, {"the schedule with its next fire times", kObject}}, {400, error_doc("a bad cron, inputs or policy, naming the field")},
                       {404, error_doc("no such workflow")}},
         .handler = [this](const http::route_context& c) { return create_schedule(c); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}/schedules", .perm = perm::read, .summary = "A workflow's schedules", .tag = "workflows",
         .params = {id}, .responses = {{200, {"{schedules}", kObject}}}, .handler = [this](const http::route_context& c) { return get_schedules(c, false); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}/schedules/{sid}", .perm = perm::read,
         .summary = "A schedule: the next 5 fire times, the last fire and how many were missed", .tag = "workflows", .params = {id, sid},
         .responses = {{200, {"the schedule", kObject}}, {404, error_doc("no such schedule")}},
         .handler = [this](const http::route_context& c) { return get_schedules(c, true); }});
  t.add({.method = http::verb::delete_, .path = "/workflows/{id}/schedules/{sid}", .perm = perm::write, .summary = "Delete a schedule", .tag = "workflows",
         .params = {id, sid}, .responses = {{200, {"deleted", kObject}}, {404, error_doc("no such schedule")}},
         .handler = [this](const http::route_context& c) { return delete_schedule(c); }});
  t.add({.method = http::verb::post, .path = "/workflows/{id}/triggers", .perm = perm::write,
         .summary = "Start a run for every matching event (exactly once per event)", .tag = "workflows", .params = {id}, .body = kObject,
         .responses = {{201, {"the trigger", kObject}}, {400, error_doc("a bad topic, filter or input binding, naming the field")},
                       {404, error_doc("no such workflow")}},
         .handler = [this](const http::route_context& c) { return create_trigger(c); }});
  t.add({.method = http::verb::get, .path = "/workflows/{id}/triggers", .perm = perm::read, .summary = "A workflow's triggers", .tag = "workflows",
         .params = {id}, .responses = {{200, {"{triggers}", kObject}}}, .handler = [this](const http::route_context& c) { return list_triggers(c); }});
  t.add({.method = http::verb::delete_, .path = "/workflows/{id}/triggers/{tid}", .perm = perm::write, .summary = "Delete a trigger", .tag = "workflows",
         .params = {id, {"tid", "the trigger id", http::schema::string(), true, "path"}},
         .responses = {{200, {"deleted", kObject}}, {404, error_doc("no such trigger")}},
         .handler = [this](const http::route_context& c) { return delete_trigger(c); }});
  t.add({.method = http::verb::post, .path = "/runs/{id}/reset", .perm = perm::write,
         .summary = "Start a new run from a node, reusing the original's outputs before it (the original is untouched)", .tag = "workflows",
         .params = {run}, .body = kObject,
         .responses = {{201, {"{runId, resetOf}", kObject}}, {400, error_doc("an unknown node or bad inputs")}, {404, error_doc("no such run")}},
         .handler = [this](const http::route_context& c) { return reset(c); }});
}

std::variant<command::decided, http::response> routes::decide(const http::route_context& c, const char* type, const std::string& run_id,
                                                              const google::protobuf::Message& payload) {
  event::new_event cmd;
  cmd.type = type;
  cmd.key = run_id;
  cmd.tenant = c.who.tenant;
  cmd.message = &payload;
  cmd.region = opts_.region;
  cmd.occurred_at = clk_.now_ms();
  auto d = gateway_.submit(topic_name{kCommands}, cmd, opts_.decision_timeout);
  if (!d && d.error().code == errc::timeout) {
    auto res = http::error_response(status::service_unavailable, "not_decided",
                                    "the owner of run " + run_id + " has not decided within " + std::to_string(opts_.decision_timeout.count()) +
                                        " ms; the request is kept and will be decided",
                                    c.req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!d) return http::append_error(d.error(), c.req);
  const topic_partition tp{d->outcome.topic, d->outcome.partition};
  c.wrote(tp, d->outcome.off);
  if (!feed_.wait_applied(tp, d->outcome.off, opts_.read_your_writes_timeout))
    nf::log::get("workflows")->warn("the workflows read model did not reach {}@{} within {} ms", to_string(tp), d->outcome.off.get(),
                                    opts_.read_your_writes_timeout.count());
  return std::move(*d);
}

std::variant<std::shared_ptr<const definition>, http::response> routes::pinned_definition(const http::route_context& c, const std::string& id,
                                                                                     std::int64_t version) {
  std::int64_t v = version;
  if (!v) {
    auto latest = view_.latest_version(c.who.tenant, id);
    if (!latest) return http::failure(latest.error(), c.req);
    if (!*latest) return http::error_response(status::not_found, "not_found", "no workflow " + id, c.req);
    v = **latest;
  }
  auto def = defs_.get(c.who.tenant, id, v);
  if (!def && def.error().code == errc::not_found) return http::error_response(status::not_found, "not_found", def.error().message, c.req);
  if (!def) return http::failure(def.error(), c.req);
  return std::move(*def);
}

std::variant<json, http::response> routes::visible_run(const http::route_context& c, const std::string& run_id) {
  auto doc = view_.run(run_id);
  if (!doc) return http::failure(doc.error(), c.req);
  if (!*doc || !c.who.sees((**doc).value("tenantId", ""))) return http::error_response(status::not_found, "not_found", "no run " + run_id, c.req);
  return std::move(**doc);
}

// Appends a document event (a definition, trigger or template) to workflow.definitions under the
// tenant's key, reports where it went, and waits for this instance's read model to show it.
// `expected`: the stream's version the append expects (a bus that does not check versions, Kafka,
// takes it without; the read model keeps a version's first record).
std::optional<http::response> routes::append_document(const http::route_context& c, const char* type, const std::string& key,
                                                      const google::protobuf::Message& msg, std::optional<std::int64_t> expected) {
  event::new_event ev;
  ev.type = type;
  ev.key = key;
  ev.tenant = c.who.tenant;
  ev.region = opts_.region;
  ev.occurred_at = clk_.now_ms();
  auto env = event::build(ev, msg);
  if (!env) return http::failure(env.error(), c.req);
  auto rec = event::to_record(*env);
  rec.expected_version = expected;
  auto a = bus_.append(topic_name{kDefinitionsTopic}, std::span<const bus::record>(&rec, 1));
  if (!a && a.error().code == errc::unsupported && rec.expected_version) {
    rec.expected_version.reset();
    a = bus_.append(topic_name{kDefinitionsTopic}, std::span<const bus::record>(&rec, 1));
  }
  if (!a && a.error().code == errc::wrong_expected_version)
    return http::error_response(status::conflict, "concurrent_definition", "another version of " + key + " was written at the same time; send it again", c.req);
  if (!a) return http::append_error(a.error(), c.req);
  const topic_partition tp{topic_name{kDefinitionsTopic}, a->at(0).partition};
  c.wrote(tp, a->at(0).off);
  feed_.wait_applied(tp, a->at(0).off, opts_.read_your_writes_timeout);
  return std::nullopt;
}

// The answer to a command the run's (or schedule's) owner refused, if it did.
static std::optional<http::response> refusal(const events::Envelope& out, const http::request& req) {
  if (out.type() != kRefused) return std::nullopt;
  events::RunRefused why;
  (void)out.payload().UnpackTo(&why);
  return http::json_response(refusal_status(why.code()), run_refusal_body(why), req);
}

http::response routes::validate(const http::route_context& c) {
  auto doc = parse_document(c.req.body(), content_type(c.req));
  if (!doc) return bad_document(doc.error(), c.req);
  auto compiled = compile(*doc, defs_.env_for(c.who.tenant));
  json problems = json::array();
  for (const auto& p : compiled.problems) problems.push_back(to_json(p));
  json out{{"valid", compiled.problems.empty()}, {"problems", problems}};
  if (compiled.def) out["order"] = [&] {
    json o = json::array();
    for (const auto& n : compiled.def->nodes) o.push_back(n.id);
    return o;
  }();
  return http::json_response(status::ok, out, c.req);
}

http::response routes::define(const http::route_context& c) {
  if (c.who.tenant.empty()) return http::invalid_field("tenant", "a workflow belongs to a tenant: call with a tenant's credentials", c.req);
  auto doc = parse_document(c.req.body(), content_type(c.req));
  if (!doc) return bad_document(doc.error(), c.req);
  return store_definition(c, *doc, json::object());
}

http::response routes::store_definition(const http::route_context& c, const json& doc, const json& extra) {
  auto compiled = compile(doc, defs_.env_for(c.who.tenant));
  if (!compiled.def) return problems_response(compiled.problems, c.req);
  const auto& def = *compiled.def;
  auto existing = view_.definition(c.who.tenant, def.id, def.version);
  if (!existing) return http::failure(existing.error(), c.req);
  if (*existing) {
    if ((**existing).value("document", json()) == def.document) {  // the same document again: answered as the first time
      json again{{"workflowId", def.id}, {"version", def.version}, {"digest", (**existing).value("digest", "")}};
      again.update(extra);
      return http::json_response(status::ok, again, c.req);
    }
    return http::error_response(status::conflict, "version_exists", "version " + std::to_string(def.version) + " of " + def.id + " exists; versions are immutable", c.req,
                                "version");
  }
  if (auto q = c.quota()) return *q;
  auto stream = view_.definition_stream_version(c.who.tenant, def.id);
  if (!stream) return http::failure(stream.error(), c.req);
  events::WorkflowDefined w;
  w.set_workflow_id(def.id);
  w.set_version(def.version);
  w.set_document_json(def.document.dump());
  w.set_digest(sha256_hex(w.document_json()));
  w.set_defined_by(c.who.principal);
  if (auto r = append_document(c, kDefined, c.who.tenant + "/" + def.id, w, *stream)) return std::move(*r);
  json created{{"workflowId", def.id}, {"version", def.version}, {"digest", w.digest()}};
  created.update(extra);
  return http::json_response(status::created, created, c.req);
}

http::response routes::list(const http::route_context& c) {
  auto l = view_.definitions(c.who.tenant);
  if (!l) return http::failure(l.error(), c.req);
  return http::json_response(status::ok, json{{"workflows", *l}}, c.req);
}

http::response routes::get_version(const http::route_context& c, bool latest) {
  const auto& id = c.path_param("id");
  std::int64_t v = 0;
  if (latest) {
    auto l = view_.latest_version(c.who.tenant, id);
    if (!l) return http::failure(l.error(), c.req);
    if (!*l) return http::error_response(status::not_found, "not_found", "no workflow " + id, c.req);
    v = **l;
  } else {
    const auto& vs = c.path_param("v");
    if (vs.empty() || vs.size() > 12 || vs.find_first_not_of("0123456789") != std::string::npos) return http::invalid_field("v", "is a version number", c.req);
    v = std::stoll(vs);
  }
  auto d = view_.definition(c.who.tenant, id, v);
  if (!d) return http::failure(d.error(), c.req);
  if (!*d) return http::error_response(status::not_found, "not_found", "no version " + std::to_string(v) + " of workflow " + id, c.req);
  const auto fmt = c.t.param("format").value_or("json");
  if (fmt == "yaml") return yaml_response((**d)["document"], c.req);
  if (fmt != "json") return http::invalid_field("format", "is json or yaml", c.req);
  return http::json_response(status::ok, **d, c.req);
}

http::response routes::metrics(const http::route_context& c) {
  auto m = view_.metrics(c.who.tenant, c.path_param("id"));
  if (!m) return http::failure(m.error(), c.req);
  return http::json_response(status::ok, json{{"workflowId", c.path_param("id")}, {"nodes", *m}}, c.req);
}

http::response routes::start(const http::route_context& c) {
  const auto& id = c.path_param("id");
  if (c.who.tenant.empty()) return http::invalid_field("tenant", "a run belongs to a tenant: call with a tenant's credentials", c.req);
  auto body = c.req.body().empty() ? result<json>(json::object()) : http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "is an object {version?, inputs, idempotencyKey?, debug?, breakpoints?, searchAttributes?}", c.req);
  static const std::set<std::string> known{"version", "inputs", "idempotencyKey", "debug", "breakpoints", "searchAttributes"};
  for (const auto& [k, _] : body->items())
    if (!known.count(k)) return http::invalid_field(k, "unknown field", c.req);
  std::int64_t v = 0;
  if (body->contains("version")) {
    if (!(*body)["version"].is_number_integer() || (*body)["version"].get<std::int64_t>() < 1) return http::invalid_field("version", "is a version number", c.req);
    v = (*body)["version"].get<std::int64_t>();
  } else {
    auto l = view_.latest_version(c.who.tenant, id);
    if (!l) return http::failure(l.error(), c.req);
    if (!*l) return http::error_response(status::not_found, "not_found", "no workflow " + id, c.req);
    v = **l;
  }
  auto def = defs_.get(c.who.tenant, id, v);
  if (!def && def.error().code == errc::not_found) return http::error_response(status::not_found, "not_found", def.error().message, c.req);
  if (!def) return http::failure(def.error(), c.req);
  const json inputs = body->value("inputs", json::object());
  if (!inputs.is_object()) return http::invalid_field("inputs", "is an object of the workflow's inputs", c.req);
  for (const auto& [name, t] : (*def)->inputs) {
    if (!inputs.contains(name)) return http::invalid_field("inputs." + name, std::string("is required (") + to_string(t) + ")", c.req);
    if (!has_type(inputs[name], t)) return http::invalid_field("inputs." + name, std::string("is ") + to_string(t) + ", not " + to_string(type_of(inputs[name])), c.req);
  }
  for (const auto& [k, _] : inputs.items())
    if (!std::any_of((*def)->inputs.begin(), (*def)->inputs.end(), [&name = k](const auto& i) { return i.first == name; }))
      return http::invalid_field("inputs." + k, "is not an input of " + id + " version " + std::to_string(v), c.req);
  events::RunStart s;
  s.set_workflow_id(id);
  s.set_version(v);
  s.set_inputs_json(inputs.dump());
  s.set_inputs_sha256(sha256_hex(s.inputs_json() + '\0' + std::to_string(v)));
  s.set_started_by(c.who.principal);
  if (body->contains("debug")) {
    if (!(*body)["debug"].is_boolean()) return http::invalid_field("debug", "is a bool", c.req);
    s.set_debug((*body)["debug"].get<bool>());
  }
  if (body->contains("breakpoints")) {
    const auto& b = (*body)["breakpoints"];
    if (!b.is_array()) return http::invalid_field("breakpoints", "is a list of node ids", c.req);
    for (const auto& n : b) {
      if (!n.is_string() || !(*def)->node(n.get<std::string>())) return http::invalid_field("breakpoints", "'" + (n.is_string() ? n.get<std::string>() : n.dump()) + "' is not a node of " + id, c.req);
      s.add_breakpoints(n.get<std::string>());
    }
    if (!s.breakpoints().empty()) s.set_debug(true);
  }
  if (body->contains("searchAttributes")) {
    const auto& a = (*body)["searchAttributes"];
    if (!a.is_object() || a.size() > 32) return http::invalid_field("searchAttributes", "is an object of at most 32 string values", c.req);
    for (const auto& [k, val] : a.items()) {
      if (!val.is_string() || k.empty() || k.size() > 64 || val.get<std::string>().size() > 256 || k.find_first_of("=/") != std::string::npos)
        return http::invalid_field("searchAttributes." + k, "names are 1-64 characters without '=' or '/', values strings of at most 256", c.req);
      (*s.mutable_search_attributes())[k] = val.get<std::string>();
    }
  }
  std::string run_id;
  if (body->contains("idempotencyKey")) {
    const auto& k = (*body)["idempotencyKey"];
    if (!k.is_string() || k.get<std::string>().empty() || k.get<std::string>().size() > 256) return http::invalid_field("idempotencyKey", "is a string of 1 to 256 characters", c.req);
    s.set_idempotency_key(k.get<std::string>());
    run_id = keyed_run_id(c.who.tenant, id, k.get<std::string>());
  } else {
    run_id = event::new_uuidv7(clk_.now_ms()).to_string();
  }
  s.set_run_id(run_id);
  // The tenant's concurrentRuns: runs beyond it wait queued for a slot.
  add_tenant_slot(s, c.who.tenant, concurrent_runs(c.who));
  if (auto q = c.quota()) return *q;
  auto d = decide(c, kRunRequested, run_id, s);
  if (auto* r = std::get_if<http::response>(&d)) return std::move(*r);
  const auto& out = std::get<command::decided>(d).outcome_event;
  if (out.type() == kRefused) {
    events::RunRefused why;
    (void)out.payload().UnpackTo(&why);
    if (why.code() == "repeat") return http::json_response(status::ok, json{{"runId", run_id}, {"existing", true}}, c.req);
  }
  if (auto r = refusal(out, c.req)) return std::move(*r);
  auto doc = view_.run(run_id);
  json answer{{"runId", run_id}, {"workflowId", id}, {"version", v}};
  if (doc && *doc) answer["status"] = (**doc).value("status", "");
  return http::json_response(status::created, answer, c.req);
}

http::response routes::get_run(const http::route_context& c) {
  auto r = visible_run(c, c.path_param("id"));
  if (auto* res = std::get_if<http::response>(&r)) return std::move(*res);
  return http::json_response(status::ok, std::get<json>(r), c.req);
}

http::response routes::list_runs(const http::route_context& c) {
  run_query q;
  q.tenant = c.who.tenant;
  q.workflow = c.t.param("workflow").value_or("");
  q.status = c.t.param("status").value_or("");
  q.after = c.t.param("after").value_or("");
  if (auto s = c.t.param("started_after")) {
    if (s->size() > 16 || s->find_first_not_of("0123456789") != std::string::npos) return http::invalid_field("started_after", "is unix milliseconds", c.req);
    q.started_after = std::stoll(*s);
  }
  if (auto l = c.t.param("limit")) {
    if (l->size() > 4 || l->find_first_not_of("0123456789") != std::string::npos || std::stoi(*l) < 1 || std::stoi(*l) > 1000)
      return http::invalid_field("limit", "is 1 to 1000", c.req);
    q.limit = static_cast<std::size_t>(std::stoi(*l));
  }
  for (const auto& [k, v] : c.t.query)
    if (k.rfind("attr.", 0) == 0 && k.size() > 5) q.attributes.emplace_back(k.substr(5), v);
  auto r = view_.runs(q);
  if (!r) return http::failure(r.error(), c.req);
  json out{{"runs", r->first}};
  if (!r->second.empty()) out["next"] = r->second;
  return http::json_response(status::ok, out, c.req);
}

http::response routes::history(const http::route_context& c) {
  auto r = visible_run(c, c.path_param("id"));
  if (auto* res = std::get_if<http::response>(&r)) return std::move(*res);
  std::int64_t after = 0;
  std::size_t limit = 100;
  if (auto a = c.t.param("after")) {
    if (a->size() > 12 || a->find_first_not_of("0123456789") != std::string::npos) return http::invalid_field("after", "is a sequence number", c.req);
    after = std::stoll(*a);
  }
  if (auto l = c.t.param("limit")) {
    if (l->size() > 4 || l->find_first_not_of("0123456789") != std::string::npos || std::stoi(*l) < 1 || std::stoi(*l) > 1000)
      return http::invalid_field("limit", "is 1 to 1000", c.req);
    limit = static_cast<std::size_t>(std::stoi(*l));
  }
  auto h = view_.history(c.path_param("id"), after, limit);
  if (!h) return http::failure(h.error(), c.req);
  json out{{"runId", c.path_param("id")}, {"events", *h}};
  if (h->size() == limit) out["next"] = h->back().value("seq", std::int64_t{0});
  return http::json_response(status::ok, out, c.req);
}

http::response routes::run_command(const http::route_context& c, const char* type) {
  const auto& run_id = c.path_param("id");
  auto r = visible_run(c, run_id);
  if (auto* res = std::get_if<http::response>(&r)) return std::move(*res);
  auto body = c.req.body().empty() ? result<json>(json::object()) : http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "is an object", c.req);
  events::RunCommand rc;
  rc.set_run_id(run_id);
  rc.set_by(c.who.principal);
  for (const auto& [k, v] : body->items()) {
    if (k == "node" || k == "comment" || k == "reason") {
      if (!v.is_string() || v.get<std::string>().size() > 1000) return http::invalid_field(k, "is a string of at most 1000 characters", c.req);
    } else {
      return http::invalid_field(k, "unknown field (node, comment, reason)", c.req);
    }
  }
  rc.set_node(body->value("node", ""));
  rc.set_comment(body->value("comment", ""));
  rc.set_reason(body->value("reason", ""));
  const char* t = type;
  if (std::string(type) == "reject") {
    t = kApprovalGiven;
    rc.set_approved(false);
  } else if (std::string(type) == kApprovalGiven) {
    rc.set_approved(true);
  }
  auto d = decide(c, t, run_id, rc);
  if (auto* res = std::get_if<http::response>(&d)) return std::move(*res);
  if (auto refused = refusal(std::get<command::decided>(d).outcome_event, c.req)) return std::move(*refused);
  auto doc = view_.run(run_id);
  if (!doc || !*doc) return http::json_response(status::ok, json{{"runId", run_id}}, c.req);
  return http::json_response(status::ok, **doc, c.req);
}

http::response routes::reset(const http::route_context& c) {
  const auto& run_id = c.path_param("id");
  auto r = visible_run(c, run_id);
  if (auto* res = std::get_if<http::response>(&r)) return std::move(*res);
  const auto& orig = std::get<json>(r);
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object() || !body->contains("node") || !(*body)["node"].is_string()) return http::invalid_field("node", "is required: the node to run again from", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "node" && k != "inputs") return http::invalid_field(k, "unknown field (node, inputs)", c.req);
  const auto node = (*body)["node"].get<std::string>();
  auto def = defs_.get(orig.value("tenantId", ""), orig.value("workflowId", ""), orig.value("version", std::int64_t{0}));
  if (!def) return http::failure(def.error(), c.req);
  if (!(*def)->node(node)) return http::invalid_field("node", "'" + node + "' is not a node of " + orig.value("workflowId", "") + " version " + std::to_string(orig.value("version", 0)), c.req);
  json inputs = orig.value("inputs", json::object());
  if (body->contains("inputs")) {
    const auto& patch = (*body)["inputs"];
    if (!patch.is_object()) return http::invalid_field("inputs", "is an object of inputs to change", c.req);
    for (const auto& [k, v] : patch.items()) {
      auto it = std::find_if((*def)->inputs.begin(), (*def)->inputs.end(), [&name = k](const auto& i) { return i.first == name; });
      if (it == (*def)->inputs.end()) return http::invalid_field("inputs." + k, "is not an input of the workflow", c.req);
      if (!has_type(v, it->second)) return http::invalid_field("inputs." + k, std::string("is ") + to_string(it->second), c.req);
      inputs[k] = v;
    }
  }
  // The node and everything downstream of it run again, and so does every node that reads a
  // changed input (found conservatively: a name in its bindings or config counts); other
  // completed nodes are reused.
  std::set<std::string> again{node};
  std::vector<std::string> changed;
  if (body->contains("inputs"))
    for (const auto& [k, v] : (*body)["inputs"].items())
      if (orig.value("inputs", json::object()).value(k, json()) != v) changed.push_back(k);
  auto reads_changed = [&](const node_spec& spec) {
    if (changed.empty()) return false;
    std::string text = spec.config.dump();
    for (const auto& [port, b] : spec.inputs) text += " " + b.source;
    for (const auto& k : changed)
      for (std::size_t at = text.find(k); at != std::string::npos; at = text.find(k, at + 1)) {
        const bool left = at == 0 || !(std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_');
        const auto end = at + k.size();
        const bool right = end >= text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_');
        if (left && right) return true;
      }
    return false;
  };
  for (const auto& spec : (*def)->nodes) {
    if (reads_changed(spec)) again.insert(spec.id);
    for (const auto& a : spec.after)
      if (again.count(a)) again.insert(spec.id);
    if (!spec.handles.empty() && again.count(spec.handles)) again.insert(spec.id);
  }
  json reused = json::object();
  for (const auto& spec : (*def)->nodes) {
    if (again.count(spec.id)) continue;
    const auto& n = orig["nodes"].contains(spec.id) ? orig["nodes"][spec.id] : json();
    if (!n.is_object() || n.value("status", "") != "completed") continue;
    reused[spec.id] = {{"output", n.value("output", json::object())}};
    if (n.contains("vars")) reused[spec.id]["vars"] = n["vars"];
  }
  events::RunStart s;
  const auto new_id = event::new_uuidv7(clk_.now_ms()).to_string();
  s.set_run_id(new_id);
  s.set_workflow_id(orig.value("workflowId", ""));
  s.set_version(orig.value("version", std::int64_t{0}));
  s.set_inputs_json(inputs.dump());
  s.set_inputs_sha256(sha256_hex(s.inputs_json() + '\0' + std::to_string(s.version())));
  s.set_reset_of(run_id);
  s.set_reset_node(node);
  s.set_reused_json(reused.dump());
  s.set_started_by(c.who.principal);
  const json attributes = orig.value("searchAttributes", json::object());
  for (const auto& [k, v] : attributes.items())
    if (v.is_string()) (*s.mutable_search_attributes())[k] = v.get<std::string>();
  add_tenant_slot(s, c.who.tenant, concurrent_runs(c.who));
  if (auto q = c.quota()) return *q;
  auto d = decide(c, kRunRequested, new_id, s);
  if (auto* res = std::get_if<http::response>(&d)) return std::move(*res);
  if (auto refused = refusal(std::get<command::decided>(d).outcome_event, c.req)) return std::move(*refused);
  return http::json_response(status::created, json{{"runId", new_id}, {"resetOf", run_id}, {"node", node}, {"reused", reused.size()}}, c.req);
}

// ---------------- schedules ----------------

json routes::schedule_view(json doc) const {
  auto cron = parse_cron(doc.value("cron", ""));
  json next = json::array();
  if (cron && !doc.value("deleted", false)) {
    const auto from = std::max(clk_.now_ms(), doc.value("nextDue", std::int64_t{0}) - 1);
    for (auto t : next_fires(*cron, from, 5)) next.push_back(t);
    // A fire time that is due but not yet fired comes first.
    const auto due = doc.value("nextDue", std::int64_t{0});
    if (due > 0 && due <= clk_.now_ms()) next.insert(next.begin(), due);
    while (next.size() > 5) next.erase(next.end() - 1);
  }
  doc["next"] = next;
  doc.erase("partition");
  return doc;
}

http::response routes::create_schedule(const http::route_context& c) {
  const auto& id = c.path_param("id");
  if (c.who.tenant.empty()) return http::invalid_field("tenant", "a schedule belongs to a tenant: call with a tenant's credentials", c.req);
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "is an object {cron, inputs, overlap, catchup, catchupWindowMs?, version?}", c.req);
  static const std::set<std::string> known{"cron", "inputs", "overlap", "catchup", "catchupWindowMs", "version"};
  for (const auto& [k, _] : body->items())
    if (!known.count(k)) return http::invalid_field(k, "unknown field", c.req);
  if (!body->contains("cron") || !(*body)["cron"].is_string()) return http::invalid_field("cron", "is required: 5 fields (minute hour day-of-month month day-of-week), UTC", c.req);
  auto cron = parse_cron((*body)["cron"].get<std::string>());
  if (!cron) return http::invalid_field("cron", cron.error().message, c.req);
  const auto overlap = body->value("overlap", json("skip"));
  if (!overlap.is_string() || (overlap != "skip" && overlap != "buffer_one" && overlap != "allow_all" && overlap != "cancel_other"))
    return http::invalid_field("overlap", "is skip, buffer_one, allow_all or cancel_other", c.req);
  const auto catchup = body->value("catchup", json("latest"));
  if (!catchup.is_string() || (catchup != "none" && catchup != "latest" && catchup != "all")) return http::invalid_field("catchup", "is none, latest or all", c.req);
  std::int64_t window = 0;
  if (body->contains("catchupWindowMs")) {
    if (!(*body)["catchupWindowMs"].is_number_integer() || (*body)["catchupWindowMs"].get<std::int64_t>() < 0) return http::invalid_field("catchupWindowMs", "is an integer of at least 0 (0: no bound)", c.req);
    window = (*body)["catchupWindowMs"].get<std::int64_t>();
  }
  std::int64_t v = 0;
  if (body->contains("version")) {
    if (!(*body)["version"].is_number_integer() || (*body)["version"].get<std::int64_t>() < 1) return http::invalid_field("version", "is a version number", c.req);
    v = (*body)["version"].get<std::int64_t>();
  }
  auto pinned = pinned_definition(c, id, v);
  if (auto* res = std::get_if<http::response>(&pinned)) return std::move(*res);
  const auto def = std::get<std::shared_ptr<const definition>>(pinned);
  const json inputs = body->value("inputs", json::object());
  if (!inputs.is_object()) return http::invalid_field("inputs", "is an object of the workflow's inputs", c.req);
  for (const auto& [name, t] : def->inputs)
    if (!inputs.contains(name) || !has_type(inputs[name], t)) return http::invalid_field("inputs." + name, std::string("is required: ") + to_string(t), c.req);
  events::ScheduleSpec s;
  const auto sid = kSchedulePrefix + event::new_uuidv7(clk_.now_ms()).to_string();
  s.set_schedule_id(sid);
  s.set_workflow_id(id);
  s.set_version(v);
  s.set_cron((*body)["cron"].get<std::string>());
  s.set_inputs_json(inputs.dump());
  s.set_overlap(overlap.get<std::string>());
  s.set_catchup(catchup.get<std::string>());
  s.set_catchup_window_ms(window);
  s.set_created_by(c.who.principal);
  if (auto lim = concurrent_runs(c.who)) s.set_concurrent_runs(*lim);
  if (auto q = c.quota()) return *q;
  auto d = decide(c, kScheduleRequested, sid, s);
  if (auto* r = std::get_if<http::response>(&d)) return std::move(*r);
  if (auto refused = refusal(std::get<command::decided>(d).outcome_event, c.req)) return std::move(*refused);
  auto doc = view_.schedule(sid);
  if (!doc || !*doc) return http::json_response(status::created, json{{"scheduleId", sid}}, c.req);
  return http::json_response(status::created, schedule_view(**doc), c.req);
}

http::response routes::get_schedules(const http::route_context& c, bool one) {
  if (!one) {
    auto l = view_.schedules(c.who.tenant, c.path_param("id"));
    if (!l) return http::failure(l.error(), c.req);
    json out = json::array();
    for (auto& d : *l) out.push_back(schedule_view(std::move(d)));
    return http::json_response(status::ok, json{{"schedules", out}}, c.req);
  }
  auto d = view_.schedule(c.path_param("sid"));
  if (!d) return http::failure(d.error(), c.req);
  if (!*d || !c.who.sees((**d).value("tenantId", "")) || (**d).value("workflowId", "") != c.path_param("id") || (**d).value("deleted", false))
    return http::error_response(status::not_found, "not_found", "no schedule " + c.path_param("sid") + " of workflow " + c.path_param("id"), c.req);
  return http::json_response(status::ok, schedule_view(std::move(**d)), c.req);
}

http::response routes::delete_schedule(const http::route_context& c) {
  const auto& sid = c.path_param("sid");
  auto d = view_.schedule(sid);
  if (!d) return http::failure(d.error(), c.req);
  if (!*d || !c.who.sees((**d).value("tenantId", "")) || (**d).value("workflowId", "") != c.path_param("id") || (**d).value("deleted", false))
    return http::error_response(status::not_found, "not_found", "no schedule " + sid + " of workflow " + c.path_param("id"), c.req);
  events::ScheduleStep st;
  st.set_schedule_id(sid);
  auto r = decide(c, kScheduleDeleteRequested, sid, st);
  if (auto* res = std::get_if<http::response>(&r)) return std::move(*res);
  if (auto refused = refusal(std::get<command::decided>(r).outcome_event, c.req)) return std::move(*refused);
  return http::json_response(status::ok, json{{"scheduleId", sid}, {"deleted", true}}, c.req);
}

// ---------------- triggers ----------------

http::response routes::create_trigger(const http::route_context& c) {
  const auto& id = c.path_param("id");
  if (c.who.tenant.empty()) return http::invalid_field("tenant", "a trigger belongs to a tenant: call with a tenant's credentials", c.req);
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object() || !body->contains("on_event") || !(*body)["on_event"].is_object())
    return http::invalid_field("on_event", "is required: {topic, type?, filter?}", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "on_event" && k != "inputs" && k != "version") return http::invalid_field(k, "unknown field (on_event, inputs, version)", c.req);
  const auto& on = (*body)["on_event"];
  for (const auto& [k, _] : on.items())
    if (k != "topic" && k != "type" && k != "filter") return http::invalid_field("on_event." + k, "unknown field (topic, type, filter)", c.req);
  if (!on.contains("topic") || !on["topic"].is_string() || on["topic"].get<std::string>().empty() || on["topic"].get<std::string>().size() > 249)
    return http::invalid_field("on_event.topic", "is a topic name or a pattern with '*'", c.req);
  const auto topic = on["topic"].get<std::string>();
  if (topic.rfind("workflow.", 0) == 0 || topic.rfind("commands.", 0) == 0 || topic.rfind("tenancy.", 0) == 0 || topic.rfind("platform.", 0) == 0)
    return http::invalid_field("on_event.topic", "'" + topic + "' is one of the platform's own topics", c.req);
  if (on.contains("type") && !on["type"].is_string()) return http::invalid_field("on_event.type", "is an event type", c.req);
  std::string filter;
  if (on.contains("filter")) {
    if (!on["filter"].is_string()) return http::invalid_field("on_event.filter", "is an expression over `event`", c.req);
    filter = on["filter"].get<std::string>();
    auto e = expression::parse(filter);
    if (!e) return http::invalid_field("on_event.filter", e.error().message, c.req);
    for (const auto& r : e->references())
      if (r.path[0] != "event") return http::invalid_field("on_event.filter", "at " + std::to_string(r.at) + ": only `event` can be read here, not '" + r.path[0] + "'", c.req);
  }
  std::int64_t v = body->value("version", json(0)).is_number_integer() ? body->value("version", std::int64_t{0}) : -1;
  if (v < 0) return http::invalid_field("version", "is a version number", c.req);
  auto pinned = pinned_definition(c, id, v);
  if (auto* res = std::get_if<http::response>(&pinned)) return std::move(*res);
  const auto def = std::get<std::shared_ptr<const definition>>(pinned);
  const json inputs = body->value("inputs", json::object());
  if (!inputs.is_object()) return http::invalid_field("inputs", "is an object: input name -> a value or ${...} over `event`", c.req);
  for (const auto& [k, b] : inputs.items()) {
    if (!std::any_of(def->inputs.begin(), def->inputs.end(), [&name = k](const auto& i) { return i.first == name; }))
      return http::invalid_field("inputs." + k, "is not an input of " + id, c.req);
    if (b.is_string() && b.get<std::string>().find("${") != std::string::npos) {
      const auto& text = b.get<std::string>();
      for (std::size_t at = text.find("${"); at != std::string::npos; at = text.find("${", at + 2)) {
        const auto end = text.find('}', at);
        if (end == std::string::npos) return http::invalid_field("inputs." + k, "'${' is not closed", c.req);
        auto e = expression::parse(std::string_view(text).substr(at + 2, end - at - 2));
        if (!e) return http::invalid_field("inputs." + k, e.error().message, c.req);
        for (const auto& r : e->references())
          if (r.path[0] != "event") return http::invalid_field("inputs." + k, "only `event` can be read here, not '" + r.path[0] + "'", c.req);
      }
    }
  }
  for (const auto& [name, t] : def->inputs)
    if (!inputs.contains(name)) return http::invalid_field("inputs." + name, std::string("is required (") + to_string(t) + ")", c.req);
  events::TriggerDefined tr;
  tr.set_trigger_id("trg-" + event::new_uuidv7(clk_.now_ms()).to_string());
  tr.set_workflow_id(id);
  tr.set_topic(topic);
  tr.set_type(on.value("type", ""));
  tr.set_filter(filter);
  tr.set_inputs_json(inputs.dump());
  tr.set_version(v);
  tr.set_defined_by(c.who.principal);
  if (auto lim = concurrent_runs(c.who)) tr.set_concurrent_runs(*lim);
  if (auto r = append_document(c, kTriggerDefined, c.who.tenant + "/" + id, tr, std::nullopt)) return std::move(*r);
  return http::json_response(status::created,
                             json{{"triggerId", tr.trigger_id()}, {"workflowId", id}, {"on_event", {{"topic", topic}, {"type", tr.type()}, {"filter", filter}}}, {"inputs", inputs}},
                             c.req);
}

http::response routes::list_triggers(const http::route_context& c) {
  auto all = view_.triggers();
  if (!all) return http::failure(all.error(), c.req);
  json out = json::array();
  for (const auto& t : *all)
    if (t.value("tenantId", "") == c.who.tenant && t.value("workflowId", "") == c.path_param("id")) out.push_back(t);
  return http::json_response(status::ok, json{{"triggers", out}}, c.req);
}

http::response routes::delete_trigger(const http::route_context& c) {
  auto all = view_.triggers();
  if (!all) return http::failure(all.error(), c.req);
  for (const auto& t : *all) {
    if (t.value("tenantId", "") != c.who.tenant || t.value("workflowId", "") != c.path_param("id") || t.value("triggerId", "") != c.path_param("tid")) continue;
    events::TriggerDefined tr;
    tr.set_trigger_id(t.value("triggerId", ""));
    tr.set_workflow_id(t.value("workflowId", ""));
    tr.set_deleted(true);
    if (auto r = append_document(c, kTriggerDeleted, c.who.tenant + "/" + tr.workflow_id(), tr, std::nullopt)) return std::move(*r);
    return http::json_response(status::ok, json{{"triggerId", tr.trigger_id()}, {"deleted", true}}, c.req);
  }
  return http::error_response(status::not_found, "not_found", "no trigger " + c.path_param("tid") + " of workflow " + c.path_param("id"), c.req);
}

// ---------------- templates ----------------

http::response routes::list_templates(const http::route_context& c) {
  json out = json::array();
  auto brief = [](const json& t, bool shipped) {
    json b{{"template", t["template"]}, {"version", t["version"]}, {"shipped", shipped}};
    for (const char* f : {"category", "title", "description", "params", "example_inputs"})
      if (t.contains(f)) b[f] = t[f];
    return b;
  };
  for (const auto& t : shipped_templates()) out.push_back(brief(t, true));
  if (!c.who.tenant.empty()) {
    auto own = view_.tenant_templates(c.who.tenant);
    if (!own) return http::failure(own.error(), c.req);
    for (const auto& t : *own) out.push_back(brief(t, false));
  }
  return http::json_response(status::ok, json{{"templates", out}}, c.req);
}

http::response routes::add_template(const http::route_context& c) {
  if (c.who.tenant.empty()) return http::invalid_field("tenant", "a template belongs to a tenant: call with a tenant's credentials", c.req);
  auto doc = parse_document(c.req.body(), content_type(c.req));
  if (!doc) return bad_document(doc.error(), c.req);
  if (auto ok_t = check_template(*doc); !ok_t) {
    const auto& m = ok_t.error().message;
    const auto colon = m.find(':');
    return http::invalid_field(colon == std::string::npos ? "template" : m.substr(0, colon), colon == std::string::npos ? m : m.substr(colon + 2), c.req);
  }
  const auto name = (*doc)["template"].get<std::string>();
  for (const auto& t : shipped_templates())
    if (t["template"] == name) return http::error_response(status::conflict, "name_taken", "'" + name + "' is a shipped template's name", c.req, "template");
  const auto v = (*doc)["version"].get<std::int64_t>();
  auto existing = view_.tenant_template(c.who.tenant, name, v);
  if (!existing) return http::failure(existing.error(), c.req);
  if (*existing) return http::error_response(status::conflict, "version_exists", "version " + std::to_string(v) + " of template " + name + " exists", c.req, "version");
  if (auto q = c.quota()) return *q;
  events::WorkflowDefined w;
  w.set_workflow_id(name);
  w.set_version(v);
  w.set_document_json(doc->dump());
  w.set_digest(sha256_hex(w.document_json()));
  w.set_defined_by(c.who.principal);
  if (auto r = append_document(c, kTemplateDefined, c.who.tenant + "/template:" + name, w, std::nullopt)) return std::move(*r);
  return http::json_response(status::created, json{{"template", name}, {"version", v}}, c.req);
}

http::response routes::use_template(const http::route_context& c, bool store) {
  const auto& name = c.path_param("name");
  auto body = c.req.body().empty() ? result<json>(json::object()) : http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "is an object {params, version?}", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "params" && k != "version") return http::invalid_field(k, "unknown field (params, version)", c.req);
  std::int64_t v = 0;
  if (body->contains("version")) {
    if (!(*body)["version"].is_number_integer() || (*body)["version"].get<std::int64_t>() < 1) return http::invalid_field("version", "is a version number", c.req);
    v = (*body)["version"].get<std::int64_t>();
  }
  std::optional<json> tpl;
  if (!c.who.tenant.empty()) {
    auto own = view_.tenant_template(c.who.tenant, name, v);
    if (!own) return http::failure(own.error(), c.req);
    tpl = *own;
  }
  if (!tpl)
    for (const auto& t : shipped_templates())
      if (t["template"] == name && (!v || t["version"] == v)) tpl = t;
  if (!tpl) return http::error_response(status::not_found, "not_found", "no template " + name + (v ? " version " + std::to_string(v) : std::string()), c.req);
  auto def = instantiate(*tpl, body->value("params", json::object()));
  if (!def) {
    const auto& m = def.error().message;
    const auto colon = m.find(':');
    return http::invalid_field(colon == std::string::npos ? "params" : m.substr(0, colon), colon == std::string::npos ? m : m.substr(colon + 2), c.req);
  }
  const json extra{{"template", name}, {"templateVersion", (*tpl)["version"]}};
  if (store) {
    if (c.who.tenant.empty()) return http::invalid_field("tenant", "a workflow belongs to a tenant: call with a tenant's credentials", c.req);
    return store_definition(c, *def, extra);
  }
  auto compiled = compile(*def, defs_.env_for(c.who.tenant));
  json problems = json::array();
  for (const auto& p : compiled.problems) problems.push_back(to_json(p));
  json out{{"definition", compiled.def ? compiled.def->document : canonical(*def)}, {"valid", compiled.problems.empty()}, {"problems", problems}};
  out.update(extra);
  return http::json_response(status::ok, out, c.req);
}

}  // namespace nf::workflows
