#include "actors/marketplace/routes.h"

#include "core/base/number.h"

#include <algorithm>

#include "actors/marketplace/catalog.h"
#include "actors/marketplace/events.h"
#include "actors/marketplace/manifest.h"
#include "actors/marketplace/resolver.h"
#include "actors/marketplace/schemas.h"
#include "core/event/codec.h"
#include "core/http/message.h"
#include "core/log/log.h"
#include "marketplace.pb.h"

namespace nf::marketplace {
namespace {

using json = nlohmann::json;
using http::status;

http::response_doc error_doc(const char* why) { return {why, http::schema::ref("Error")}; }

std::string plain(const std::string& v) { return v.substr(0, v.find('+')); }

viewer viewer_of(const http::caller& who) { return viewer{who.tenant, who.platform_admin}; }

// A refusal's code as an HTTP answer.
http::response refused(const events::MarketplaceRefused& r, const http::request& req) {
  status st = status::conflict;
  if (r.code() == "not_found") st = status::not_found;
  else if (r.code() == "not_installed") st = status::forbidden;
  else if (r.code() == "files_missing") st = status::service_unavailable;
  else if (r.code() == "quota_exceeded") st = status::too_many_requests;
  return http::error_response(st, r.code(), r.message(), req);
}

events::AgentManifest to_proto(const manifest& m) {
  events::AgentManifest p;
  p.set_name(m.name);
  p.set_version(m.ver.to_string_with_build());
  p.set_description(m.description);
  p.set_category(m.category);
  for (const auto& c : m.capabilities) p.add_capabilities(c);
  for (const auto& c : m.protocols) p.add_protocols(c);
  for (const auto& [k, v] : m.dependencies) (*p.mutable_dependencies())[k] = v;
  p.set_entrypoint(m.entrypoint);
  if (m.selftest) p.set_selftest(*m.selftest);
  p.set_visibility(m.visibility);
  return p;
}

}  // namespace

routes::routes(projection::store& store, marketplace_projection& proj, projection::feed& feed, command::gateway& gateway, store::vault& vault,
               const search_index& index, const nf::clock& clk, route_options opts)
    : feed_(feed), gateway_(gateway), vault_(vault), index_(index), view_(store, proj), clk_(clk), opts_(std::move(opts)) {}

void routes::add_to(http::route_table& t) {
  const http::param_doc name{"name", "the agent name", json{{"type", "string"}, {"pattern", "^[a-z0-9][a-z0-9-]{0,63}$"}}, true, "path"};
  const http::param_doc version{"version", "a SemVer 2.0.0 version", json{{"type", "string"}, {"minLength", 5}, {"maxLength", 256}}, true, "path"};
  // Base64 makes the body a third larger than the files.
  const std::size_t max_body = static_cast<std::size_t>(opts_.limits.max_package_bytes) / 3 * 4 + (1u << 20);
  t.add({.method = http::verb::post, .path = "/marketplace/agents", .perm = perm::publish,
         .summary = "Publish a version of an agent (agent.json and its files); the pipeline runs after the answer", .tag = "marketplace",
         .body = schemas::publish_body(),
         .responses = {{202, {"submitted; follow GET /marketplace/agents/{name}/{version}", schemas::publish_accepted()}},
                       {400, error_doc("an invalid manifest or file, naming its field")},
                       {409, error_doc("the version exists (duplicate_version) or the name is another publisher's (name_taken)")},
                       {503, error_doc("no decision in time; retry")}},
         .handler = [this](const http::route_context& c) { return publish(c); },
         .max_body = max_body});
  t.add({.method = http::verb::get, .path = "/marketplace/agents", .perm = perm::read,
         .summary = "Search agents: BM25 relevance over name, capabilities and description, with rating and usage", .tag = "marketplace",
         .params = {{"q", "words to find (every word must match; at most 32)", json{{"type", "string"}, {"maxLength", 512}}},
                    {"category", "only this category", http::schema::string()},
                    {"min_rating", "only agents rated at least this (0-5)", json{{"type", "number"}, {"minimum", 0}, {"maximum", 5}}},
                    {"protocol", "only agents speaking this protocol", http::schema::string()},
                    {"capability", "only agents with this capability", http::schema::string()},
                    {"page", "page number, from 1", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}}},
                    {"per_page", "results per page (1-100, default 20)", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 100}}},
                    {"explain", "true: each score's parts", json{{"type", "string"}, {"enum", {"true", "false"}}}},
                    {"facets", "true: counts of each category, protocol and capability over every match", json{{"type", "string"}, {"enum", {"true", "false"}}}}},
         .responses = {{200, {"a page of agents, best first", schemas::search_page()}}, {400, error_doc("a parameter out of range")}},
         .handler = [this](const http::route_context& c) { return search(c); }});
  t.add({.method = http::verb::get, .path = "/marketplace/agents/{name}", .perm = perm::read, .summary = "An agent and its versions",
         .tag = "marketplace", .params = {name},
         .responses = {{200, {"the agent", schemas::agent_doc()}}, {404, error_doc("no such agent (for this caller)")}},
         .handler = [this](const http::route_context& c) { return get_agent(c); }});
  t.add({.method = http::verb::get, .path = "/marketplace/agents/{name}/{version}", .perm = perm::read,
         .summary = "A version: status, findings, benchmark, review, ledger leaf", .tag = "marketplace", .params = {name, version},
         .responses = {{200, {"the version", schemas::version_doc()}}, {404, error_doc("no such version (for this caller)")}},
         .handler = [this](const http::route_context& c) { return get_version(c); }});
  t.add({.method = http::verb::get, .path = "/marketplace/agents/{name}/{version}/files", .perm = perm::read,
         .summary = "One file of a version, its bytes (X-Content-SHA256 names their digest)", .tag = "marketplace",
         .params = {name, version, {"path", "the file's path in the package", json{{"type", "string"}, {"minLength", 1}}, true}},
         .responses = {{200, {"the file's bytes", json{{"type", "string"}}}}, {404, error_doc("no such version or file")}},
         .handler = [this](const http::route_context& c) { return get_file(c); }});
  t.add({.method = http::verb::get, .path = "/marketplace/reviews", .perm = perm::review,
         .summary = "The review queue: versions pending review that the caller may review, oldest first", .tag = "marketplace",
         .params = {{"limit", "at most this many (1-500, default 100)", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 500}}}},
         .responses = {{200, {"{items: [{name, version, description, category, tenantId, visibility, submittedAt, findings, benchmark}]}",
                              json{{"type", "object"}, {"required", {"items"}}}}}},
         .handler = [this](const http::route_context& c) { return review_queue(c); }});
  t.add({.method = http::verb::post, .path = "/marketplace/agents/{name}/{version}/review", .perm = perm::review,
         .summary = "Approve or reject a version pending review", .tag = "marketplace", .params = {name, version},
         .body = schemas::review_body(),
         .responses = {{200, {"the reviewed version", schemas::version_doc()}},
                       {403, error_doc("a public version is reviewed by the platform admin")},
                       {404, error_doc("no such version")},
                       {409, error_doc("the version is not pending review")}},
         .handler = [this](const http::route_context& c) { return review(c); }});
  t.add({.method = http::verb::post, .path = "/marketplace/agents/{name}/{version}/yank", .perm = perm::publish,
         .summary = "Yank a version: hidden from resolution, still installable by exact version", .tag = "marketplace",
         .params = {name, version}, .body = schemas::yank_body(),
         .responses = {{200, {"the yanked version", schemas::version_doc()}},
                       {404, error_doc("no such version")},
                       {409, error_doc("not approved, or already yanked")}},
         .handler = [this](const http::route_context& c) { return yank(c); }});
  t.add({.method = http::verb::post, .path = "/marketplace/agents/{name}/{version}/installs", .perm = perm::install,
         .summary = "Record that the caller's tenant installed this version (nexus-forge install does)", .tag = "marketplace",
         .params = {name, version},
         .responses = {{200, {"recorded", schemas::installed()}},
                       {404, error_doc("no such version")},
                       {409, error_doc("not approved")},
                       {429, error_doc("a new agent beyond the tenant's installedAgents quota")}},
         .handler = [this](const http::route_context& c) { return installs(c); }});
  t.add({.method = http::verb::post, .path = "/marketplace/agents/{name}/ratings", .perm = perm::install,
         .summary = "Rate an agent the caller's tenant installed (1-5 stars; the latest rating of a tenant counts)", .tag = "marketplace",
         .params = {name}, .body = schemas::rating_body(),
         .responses = {{200, {"the agent", schemas::agent_doc()}},
                       {403, error_doc("the tenant has not installed the agent")},
                       {404, error_doc("no such agent")}},
         .handler = [this](const http::route_context& c) { return rate(c); }});
  t.add({.method = http::verb::get, .path = "/marketplace/resolve", .perm = perm::read,
         .summary = "Resolve an agent and its dependencies: highest approved, non-yanked versions in install order", .tag = "marketplace",
         .params = {{"name", "the agent", json{{"type", "string"}, {"pattern", "^[a-z0-9][a-z0-9-]{0,63}$"}}, true},
                    {"range", "an npm range (default *)", http::schema::string()}},
         .responses = {{200, {"the resolution", schemas::resolution()}},
                       {400, error_doc("an invalid name or range")},
                       {409, error_doc("unsatisfiable (with the chain of requirements) or a dependency cycle")}},
         .handler = [this](const http::route_context& c) { return resolve_route(c); }});
}

std::variant<command::decided, http::response> routes::decide(const http::route_context& c, const char* type, const std::string& name,
                                                              const google::protobuf::Message& payload, bool keep_refusal) {
  event::new_event cmd;
  cmd.type = type;
  cmd.key = name;
  cmd.tenant = c.who.tenant;
  cmd.message = &payload;
  cmd.region = opts_.region;
  cmd.occurred_at = clk_.now_ms();
  auto d = gateway_.submit(topic_name{kCommands}, cmd, opts_.decision_timeout);
  if (!d && d.error().code == errc::timeout) {
    auto res = http::error_response(status::service_unavailable, "not_decided",
                                    "the owner of agent '" + name + "' has not decided within " + std::to_string(opts_.decision_timeout.count()) +
                                        " ms; the request is kept and will be decided",
                                    c.req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!d) return http::append_error(d.error(), c.req);
  if (d->outcome_event.type() == kRefused && !keep_refusal) {
    events::MarketplaceRefused why;
    (void)d->outcome_event.payload().UnpackTo(&why);
    return refused(why, c.req);
  }
  const topic_partition tp{d->outcome.topic, d->outcome.partition};
  c.wrote(tp, d->outcome.off);
  if (!feed_.wait_applied(tp, d->outcome.off, opts_.read_your_writes_timeout))
    nf::log::get("marketplace")->warn("the marketplace read model did not reach {}@{} within {} ms", to_string(tp), d->outcome.off.get(),
                                      opts_.read_your_writes_timeout.count());
  return std::move(*d);
}

std::variant<json, http::response> routes::visible_version(const http::route_context& c, const std::string& name, const std::string& version) {
  auto doc = view_.version(name, plain(version));
  if (!doc) return http::failure(doc.error(), c.req);
  if (!*doc || !may_see(**doc, viewer_of(c.who)))
    return http::error_response(status::not_found, "not_found", "no version " + name + "@" + plain(version), c.req);
  return std::move(**doc);
}

http::response routes::publish(const http::route_context& c) {
  const auto& req = c.req;
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  if (!body->is_object()) return http::invalid_field("body", "must be an object with manifest and files", req);
  for (const auto& [k, _] : body->items())
    if (k != "manifest" && k != "files") return http::invalid_field(k, "unknown field", req);
  if (!body->contains("manifest")) return http::invalid_field("manifest", "is required (the package's agent.json)", req);
  if (!body->contains("files")) return http::invalid_field("files", "is required (relative path -> base64 content)", req);
  auto parsed = parse_manifest((*body)["manifest"]);
  if (auto* e = std::get_if<manifest_error>(&parsed)) return http::invalid_field("manifest." + e->field, e->message, req);
  const auto& man = std::get<manifest>(parsed);
  auto files = parse_files((*body)["files"], opts_.limits);
  if (auto* e = std::get_if<manifest_error>(&files)) return http::invalid_field(e->field, e->message, req);
  const auto& fs = std::get<std::vector<package_file>>(files);
  const bool has_entry = std::any_of(fs.begin(), fs.end(), [&](const package_file& f) { return f.path == man.entrypoint && !f.symlink; });
  if (!has_entry) return http::invalid_field("manifest.entrypoint", "'" + man.entrypoint + "' is not one of the package's files", req);
  if (auto q = c.quota()) return *q;

  // The files and the provenance document go to the vault first; the command names their digests.
  events::AgentSubmitted s;
  *s.mutable_manifest() = to_proto(man);
  std::vector<json> entries;
  for (const auto& f : fs) {
    std::string sha;
    if (!f.symlink) {
      auto put = vault_.put(f.bytes);
      if (!put) return http::failure(put.error(), req);
      sha = *put;
    }
    auto* pf = s.add_files();
    pf->set_path(f.path);
    pf->set_sha256(sha);
    pf->set_size(f.bytes.size());
    pf->set_executable(f.executable);
    if (f.symlink) pf->set_symlink(*f.symlink);
    entries.push_back(file_entry(f.path, sha, f.bytes.size(), f.executable, f.symlink));
  }
  auto digest = vault_.put(provenance_document(man, std::move(entries)));
  if (!digest) return http::failure(digest.error(), req);
  s.set_digest(*digest);
  s.set_publisher(c.who.principal);
  // A retry of a publish whose answer was lost (the same tenant, the same bytes) answers as the
  // first did, from the read model, or from the owner when this instance has not seen it yet.
  auto repeat = [&]() -> std::optional<http::response> {
    auto doc = view_.version(man.name, man.ver.to_string());
    if (!doc || !*doc || (**doc).value("digest", "") != *digest || (**doc).value("tenantId", "") != c.who.tenant) return std::nullopt;
    return http::json_response(status::accepted,
                               json{{"name", man.name}, {"version", man.ver.to_string()}, {"status", (**doc).value("status", "")}, {"digest", *digest}},
                               req);
  };
  if (auto r = repeat()) return *r;
  auto d = decide(c, kPublishRequested, man.name, s, /*keep_refusal=*/true);
  if (auto* r = std::get_if<http::response>(&d)) return std::move(*r);
  if (std::get<command::decided>(d).outcome_event.type() == kRefused) {
    events::MarketplaceRefused why;
    (void)std::get<command::decided>(d).outcome_event.payload().UnpackTo(&why);
    if (why.code() == "same_package")
      if (auto again = repeat()) return *again;
    return refused(why, req);
  }
  return http::json_response(status::accepted,
                             json{{"name", man.name}, {"version", man.ver.to_string()}, {"status", "submitted"}, {"digest", *digest}}, req);
}

http::response routes::get_agent(const http::route_context& c) {
  const std::string& name = c.path_param("name");
  auto agent = view_.agent(name);
  if (!agent) return http::failure(agent.error(), c.req);
  auto docs = view_.versions(name);
  if (!docs) return http::failure(docs.error(), c.req);
  const auto v = viewer_of(c.who);
  json versions = json::array();
  for (const auto& d : *docs)
    if (may_see(d, v)) versions.push_back({{"version", d.value("version", "")}, {"status", d.value("status", "")}, {"yanked", d.value("yanked", false)}});
  if (!*agent || versions.empty()) return http::error_response(status::not_found, "not_found", "no agent " + name, c.req);
  std::sort(versions.begin(), versions.end(), [](const json& a, const json& b) {
    auto va = parse_version(a["version"].get<std::string>()), vb = parse_version(b["version"].get<std::string>());
    return va && vb ? compare(*vb, *va) < 0 : a["version"] > b["version"];
  });
  const auto& a = **agent;
  const auto latest = latest_version(a, v);
  return http::json_response(status::ok,
                             json{{"name", name},
                                  {"latest", latest ? json(*latest) : json(nullptr)},
                                  {"versions", versions},
                                  {"ratingAverage", a.value("ratingAverage", 0.0)},
                                  {"ratingCount", a.value("ratingCount", 0)},
                                  {"installs", a.value("installs", 0)}},
                             c.req);
}

http::response routes::get_version(const http::route_context& c) {
  auto doc = visible_version(c, c.path_param("name"), c.path_param("version"));
  if (auto* r = std::get_if<http::response>(&doc)) return std::move(*r);
  auto& d = std::get<json>(doc);
  d.erase("commandId");
  return http::json_response(status::ok, d, c.req);
}

http::response routes::get_file(const http::route_context& c) {
  auto doc = visible_version(c, c.path_param("name"), c.path_param("version"));
  if (auto* r = std::get_if<http::response>(&doc)) return std::move(*r);
  const auto& d = std::get<json>(doc);
  auto it = c.t.query.find("path");
  if (it == c.t.query.end()) return http::invalid_field("path", "is required", c.req);
  for (const auto& f : d.value("files", json::array())) {
    if (f.value("path", "") != it->second) continue;
    if (f.contains("symlink")) return http::error_response(status::not_found, "not_found", "'" + it->second + "' is a symbolic link", c.req);
    auto bytes = vault_.get(f.value("sha256", ""));
    if (!bytes) return http::failure(bytes.error(), c.req);
    http::response res{status::ok, c.req.version()};
    res.set(http::field::content_type, "application/octet-stream");
    res.set(http::field::server, "nexus-forge");
    res.set("X-Content-SHA256", f.value("sha256", ""));
    res.keep_alive(c.req.keep_alive());
    res.body() = std::move(*bytes);
    res.prepare_payload();
    return res;
  }
  return http::error_response(status::not_found, "not_found", "no file '" + it->second + "' in " + d.value("name", "") + "@" + d.value("version", ""),
                              c.req);
}

http::response routes::review(const http::route_context& c) {
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "must be an object", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "decision" && k != "feedback") return http::invalid_field(k, "unknown field", c.req);
  const auto decision = body->value("decision", json());
  if (!decision.is_string() || (decision != "approve" && decision != "reject"))
    return http::invalid_field("decision", "must be \"approve\" or \"reject\"", c.req);
  if (body->contains("feedback") && (!(*body)["feedback"].is_string() || (*body)["feedback"].get<std::string>().size() > 4000))
    return http::invalid_field("feedback", "must be text of at most 4000 characters", c.req);
  const std::string name = c.path_param("name"), version = plain(c.path_param("version"));
  auto doc = visible_version(c, name, version);
  if (auto* r = std::get_if<http::response>(&doc)) return std::move(*r);
  const auto& d = std::get<json>(doc);
  if (!c.who.platform_admin && (d["manifest"].value("visibility", "public") != "tenant" || d.value("tenantId", "") != c.who.tenant))
    return http::error_response(status::forbidden, "forbidden",
                                "a public version is reviewed by the platform admin; a tenant reviews only its own tenant-only agents", c.req);
  events::AgentReviewed r;
  r.set_name(name);
  r.set_version(version);
  r.set_decision(decision.get<std::string>());
  r.set_feedback(body->value("feedback", ""));
  r.set_reviewer(c.who.principal);
  auto out = decide(c, kReviewRequested, name, r);
  if (auto* res = std::get_if<http::response>(&out)) return std::move(*res);
  return get_version(c);
}

// Versions pending review the caller may decide: every public one for the platform admin, a
// tenant's own tenant-only ones for that tenant (the rule review() applies).
http::response routes::review_queue(const http::route_context& c) {
  std::size_t limit = 100;
  if (auto l = c.t.param("limit")) {
    auto n = parse_number<std::size_t>(*l, "limit", 1, 500);
    if (!n) return http::invalid_field("limit", n.error().message, c.req);
    limit = *n;
  }
  std::vector<json> pending;
  std::optional<error> failed;
  auto scanned = view_.each_agent([&](const json& agent) {
    if (!agent.contains("versions") || !agent["versions"].is_object()) return true;
    for (const auto& [v, brief] : agent["versions"].items()) {
      if (!brief.is_object() || brief.value("status", "") != "pending_review") continue;
      auto doc = view_.version(agent.value("name", ""), v);
      if (!doc) {
        failed = doc.error();
        return false;
      }
      if (!*doc) continue;
      const json& d = **doc;
      const bool tenant_only = d["manifest"].value("visibility", "public") == "tenant";
      if (!(c.who.platform_admin || (tenant_only && d.value("tenantId", "") == c.who.tenant))) continue;
      pending.push_back({{"name", d.value("name", "")},
                         {"version", d.value("version", "")},
                         {"description", d["manifest"].value("description", "")},
                         {"category", d["manifest"].value("category", "")},
                         {"visibility", tenant_only ? "tenant" : "public"},
                         {"tenantId", d.value("tenantId", "")},
                         {"submittedAt", d.value("submittedAt", json(nullptr))},
                         {"findings", d.value("findings", json::array())},
                         {"benchmark", d.value("benchmark", json(nullptr))}});
    }
    return true;
  });
  if (!scanned) return http::failure(scanned.error(), c.req);
  if (failed) return http::failure(*failed, c.req);
  std::stable_sort(pending.begin(), pending.end(), [](const json& a, const json& b) {
    return a["submittedAt"].is_number() && b["submittedAt"].is_number() && a["submittedAt"].get<std::int64_t>() < b["submittedAt"].get<std::int64_t>();
  });
  if (pending.size() > limit) pending.resize(limit);
  return http::json_response(status::ok, json{{"items", pending}}, c.req);
}

http::response routes::yank(const http::route_context& c) {
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "must be an object", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "reason") return http::invalid_field(k, "unknown field", c.req);
  const auto reason = body->value("reason", json());
  if (!reason.is_string() || reason.get<std::string>().empty() || reason.get<std::string>().size() > 2000)
    return http::invalid_field("reason", "must be text of 1 to 2000 characters", c.req);
  const std::string name = c.path_param("name"), version = plain(c.path_param("version"));
  auto doc = visible_version(c, name, version);
  if (auto* r = std::get_if<http::response>(&doc)) return std::move(*r);
  if (!c.who.platform_admin && std::get<json>(doc).value("tenantId", "") != c.who.tenant)
    return http::error_response(status::forbidden, "forbidden", "only the publisher or the platform admin yanks a version", c.req);
  events::AgentYanked y;
  y.set_name(name);
  y.set_version(version);
  y.set_reason(reason.get<std::string>());
  y.set_by(c.who.principal);
  auto out = decide(c, kYankRequested, name, y);
  if (auto* res = std::get_if<http::response>(&out)) return std::move(*res);
  return get_version(c);
}

http::response routes::installs(const http::route_context& c) {
  const std::string name = c.path_param("name"), version = plain(c.path_param("version"));
  auto doc = visible_version(c, name, version);
  if (auto* r = std::get_if<http::response>(&doc)) return std::move(*r);
  if (auto q = c.quota()) return *q;
  events::AgentInstalled i;
  i.set_name(name);
  i.set_version(version);
  const auto limit = c.who.limits.find("installedAgents");
  i.set_installed_agents_limit(limit == c.who.limits.end() || c.who.platform_admin ? -1 : limit->second);
  auto out = decide(c, kInstallRequested, name, i);
  if (auto* res = std::get_if<http::response>(&out)) return std::move(*res);
  return http::json_response(status::ok, json{{"name", name}, {"version", version}, {"installed", true}}, c.req);
}

http::response routes::rate(const http::route_context& c) {
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->is_object()) return http::invalid_field("body", "must be an object", c.req);
  for (const auto& [k, _] : body->items())
    if (k != "stars" && k != "text") return http::invalid_field(k, "unknown field", c.req);
  const auto stars = body->value("stars", json());
  if (!stars.is_number_integer() || stars.get<std::int64_t>() < 1 || stars.get<std::int64_t>() > 5)
    return http::invalid_field("stars", "must be an integer from 1 to 5", c.req);
  if (body->contains("text") && (!(*body)["text"].is_string() || (*body)["text"].get<std::string>().size() > 4000))
    return http::invalid_field("text", "must be text of at most 4000 characters", c.req);
  const std::string name = c.path_param("name");
  events::AgentRated r;
  r.set_name(name);
  r.set_stars(static_cast<std::uint32_t>(stars.get<std::int64_t>()));
  r.set_text(body->value("text", ""));
  auto out = decide(c, kRatingRequested, name, r);
  if (auto* res = std::get_if<http::response>(&out)) return std::move(*res);
  return get_agent(c);
}

http::response routes::resolve_route(const http::route_context& c) {
  auto name = c.t.query.find("name");
  if (name == c.t.query.end() || !valid_package_name(name->second))
    return http::invalid_field("name", "must be an agent name ([a-z0-9][a-z0-9-]{0,63})", c.req);
  auto rit = c.t.query.find("range");
  const std::string text = rit == c.t.query.end() || rit->second.empty() ? std::string("*") : rit->second;
  if (auto r = range::parse(text); !r) return http::invalid_field("range", r.error().message, c.req);
  std::optional<error> failure;
  // An exact version may be a yanked one: it stays installable by its exact version.
  std::optional<std::pair<std::string, std::string>> pinned;
  if (auto exact = parse_version(text)) pinned = std::make_pair(name->second, exact->to_string());
  const auto source = source_for(view_, viewer_of(c.who), &failure, pinned);
  auto res = resolve(name->second, text, source);
  if (failure) return http::failure(*failure, c.req);
  if (auto* f = std::get_if<resolve_failure>(&res)) {
    if (f->what == resolve_failure::kind::invalid) return http::invalid_field("range", f->message, c.req);
    json err{{"code", to_string(f->what)}, {"message", f->message}};
    if (f->what == resolve_failure::kind::unsatisfiable) err["explanation"] = f->explanation;
    if (f->what == resolve_failure::kind::cycle) err["cycle"] = f->cycle;
    const json body{{"error", std::move(err)}};
    return http::json_response(f->what == resolve_failure::kind::too_complex ? status::unprocessable_entity : status::conflict, body, c.req);
  }
  const auto& r = std::get<resolution>(res);
  json resolved = json::array();
  for (const auto& p : r.packages) resolved.push_back({{"name", p.name}, {"version", p.ver.to_string()}, {"sha256", p.digest}});
  return http::json_response(status::ok, json{{"resolved", resolved}, {"order", r.order}}, c.req);
}

http::response routes::search(const http::route_context& c) {
  search_query q;
  q.who = viewer_of(c.who);
  const auto& query = c.t.query;
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = query.find(k);
    if (it == query.end()) return std::nullopt;
    return it->second;
  };
  auto integer = [&](const char* k, std::size_t lo, std::size_t hi, std::size_t& out) -> std::optional<http::response> {
    auto v = get(k);
    if (!v) return std::nullopt;
    if (v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos || std::stoul(*v) < lo || std::stoul(*v) > hi)
      return http::invalid_field(k, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi), c.req);
    out = std::stoul(*v);
    return std::nullopt;
  };
  if (auto v = get("q")) {
    if (v->size() > 512) return http::invalid_field("q", "at most 512 characters", c.req);
    if (tokenize(*v).size() > 32) return http::invalid_field("q", "at most 32 words", c.req);
    q.q = *v;
  }
  if (auto v = get("category"); v && !v->empty()) q.category = *v;
  if (auto v = get("protocol"); v && !v->empty()) q.protocol = *v;
  if (auto v = get("capability"); v && !v->empty()) q.capability = *v;
  if (auto v = get("min_rating")) {
    char* end = nullptr;
    const double r = std::strtod(v->c_str(), &end);
    if (v->empty() || end != v->c_str() + v->size() || !(r >= 0 && r <= 5)) return http::invalid_field("min_rating", "must be a number from 0 to 5", c.req);
    q.min_rating = r;
  }
  if (auto bad = integer("page", 1, 10000, q.page)) return *bad;
  if (auto bad = integer("per_page", 1, 100, q.per_page)) return *bad;
  if (auto v = get("explain")) {
    if (*v != "true" && *v != "false") return http::invalid_field("explain", "must be true or false", c.req);
    q.explain = *v == "true";
  }
  if (auto v = get("facets")) {
    if (*v != "true" && *v != "false") return http::invalid_field("facets", "must be true or false", c.req);
    q.facets = *v == "true";
  }
  const auto page = index_.search(q);
  json items = json::array();
  for (const auto& h : page.items) {
    json j{{"name", h.name},           {"version", h.version},         {"description", h.description}, {"category", h.category},
           {"capabilities", h.capabilities}, {"protocols", h.protocols}, {"rating", h.rating},           {"ratingCount", h.rating_count},
           {"installs", h.installs},   {"score", h.score}};
    if (q.explain)
      j["explain"] = {{"relevance", h.relevance}, {"rating", h.rating_part}, {"usage", h.usage_part},
                      {"weights", {{"relevance", 0.4}, {"rating", 0.3}, {"usage", 0.3}}}};
    items.push_back(std::move(j));
  }
  json out{{"items", items}, {"total", page.total}, {"page", q.page}, {"perPage", q.per_page}};
  if (q.facets) {
    auto counts = [](const facet_counts& f) {
      json a = json::array();
      for (const auto& [value, n] : f) a.push_back({{"value", value}, {"count", n}});
      return a;
    };
    out["facets"] = {{"category", counts(page.categories)}, {"protocol", counts(page.protocols)}, {"capability", counts(page.capabilities)}};
  }
  return http::json_response(status::ok, out, c.req);
}

}  // namespace nf::marketplace
