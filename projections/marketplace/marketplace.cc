// The marketplace projection: version documents, agent documents, ratings, installs and the
// ledger leaves of approved packages.
#include "projections/marketplace/marketplace.h"

#include <cstdio>

#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/projection/rejected.h"
#include "ledger.pb.h"
#include "marketplace.pb.h"

namespace nf::marketplace {
namespace {

using json = nlohmann::json;

result<std::optional<json>> load(::nf::projection::state_writer& w, const std::string& key) {
  NF_TRY_ASSIGN(auto cur, w.get(key));
  if (!cur) return std::optional<json>{};
  auto j = json::parse(*cur, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document '" + key + "' is not JSON"};
  return std::optional<json>{std::move(j)};
}

// A version without its build metadata: versions that differ only there are one version.
std::string plain(const std::string& v) { return v.substr(0, v.find('+')); }

std::string version_key(const std::string& name, const std::string& v) { return "v/" + name + "/" + plain(v); }

result<void> reject(::nf::projection::state_writer& w, const bus::message& m, const std::string& type, const std::string& event_id,
                    const std::string& reason) {
  return ::nf::projection::keep_rejected(w, "marketplace", "x/", m, type, event_id, reason);
}

// Files, findings and the selftest run as the read API shows them (numbers as numbers, empty
// optional fields left out), rather than protobuf's JSON mapping (64-bit integers as strings).
json files_json(const events::AgentSubmitted& s) {
  json out = json::array();
  for (const auto& f : s.files()) {
    json j{{"path", f.path()}, {"sha256", f.sha256()}, {"size", f.size()}, {"executable", f.executable()}};
    if (!f.symlink().empty()) j["symlink"] = f.symlink();
    out.push_back(std::move(j));
  }
  return out;
}
json findings_json(const events::StageCompleted& s) {
  json out = json::array();
  for (const auto& f : s.findings())
    out.push_back({{"file", f.file()}, {"line", f.line()}, {"rule", f.rule()}, {"severity", f.severity()}, {"message", f.message()}});
  return out;
}
json selftest_json(const events::SelftestRun& r) {
  json j{{"ran", r.ran()}};
  if (!r.ran()) return j;
  j["exitStatus"] = r.exit_status();
  if (r.signal()) j["signal"] = r.signal();
  j["wallMs"] = r.wall_ms();
  j["cpuMs"] = r.cpu_ms();
  j["peakRssKb"] = r.peak_rss_kb();
  if (!r.limit_hit().empty()) j["limitHit"] = r.limit_hit();
  j["outputTail"] = r.output_tail();
  return j;
}

const std::map<std::string, std::string>& stage_of() {
  static const std::map<std::string, std::string> m{
      {kValidated, "validated"}, {kScanned, "scanned"}, {kBenchmarked, "benchmarked"}, {kPendingReview, "pending_review"}};
  return m;
}

// The agent document's view of one version changed: its status and whether it is yanked.
result<void> note_version(::nf::projection::state_writer& w, const json& doc, const std::function<void(const std::string&)>& changed) {
  const std::string name = doc.value("name", "");
  const std::string key = "a/" + name;
  NF_TRY_ASSIGN(auto cur, load(w, key));
  json a = cur ? *cur : json{{"name", name}, {"versions", json::object()}, {"ratingSum", 0}, {"ratingCount", 0}, {"installs", 0}};
  if (!a.contains("tenantId")) {
    a["tenantId"] = doc.value("tenantId", "");
    a["firstPublishedAt"] = doc.value("submittedAt", std::int64_t{0});
  }
  a["versions"][doc.value("version", "")] = {{"status", doc.value("status", "")}, {"yanked", doc.value("yanked", false)},
                                             {"at", doc.value("updatedAt", std::int64_t{0})}};
  // What search shows comes from the newest approved version's manifest; the feature decides
  // which is newest, so every approved manifest's listing fields are kept by version.
  if (doc.value("status", "") == "approved") {
    const auto& man = doc["manifest"];
    a["listings"][doc.value("version", "")] = {{"description", man.value("description", "")},
                                               {"category", man.value("category", "")},
                                               {"capabilities", man.value("capabilities", json::array())},
                                               {"protocols", man.value("protocols", json::array())},
                                               {"visibility", man.value("visibility", "public")}};
  }
  a["updatedAt"] = doc.value("updatedAt", std::int64_t{0});
  if (changed) changed(name);
  return w.put(key, a.dump());
}

}  // namespace

result<void> marketplace_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  auto env_r = event::from_message(m);
  if (!env_r) return std::move(env_r).error();
  const auto& env = *env_r;
  const auto id = event::event_id::from_raw(env.id());
  const std::string event_id = id ? id->to_string() : std::string();
  const std::string& type = env.type();

  if (m.topic.get() == kLedgerTopic) {
    if (type != "evidence.leaf_appended") return ok();
    events::LedgerLeaf leaf;
    if (!env.payload().UnpackTo(&leaf)) return ok();  // the ledger's own read model reports those
    if (leaf.event_type() != "evidence.record_submitted") return ok();
    NF_TRY_ASSIGN(auto owner, w.get("pe/" + leaf.event_id()));
    if (!owner) return w.put("pl/" + leaf.event_id(), std::to_string(leaf.index()));
    NF_TRY_ASSIGN(auto doc, load(w, *owner));
    if (!doc || doc->contains("leafIndex")) return ok();
    (*doc)["leafIndex"] = leaf.index();
    return w.put(*owner, doc->dump());
  }

  const std::int64_t at = env.occurred_at();
  if (type == kSubmitted) {
    events::AgentSubmitted s;
    if (!env.payload().UnpackTo(&s) || s.manifest().name().empty() || s.manifest().version().empty() || s.digest().empty())
      return reject(w, m, type, event_id, "the submission has no name, version or digest");
    const std::string key = version_key(s.manifest().name(), s.manifest().version());
    NF_TRY_ASSIGN(auto cur, w.get(key));
    if (cur) return ok();  // a version is immutable: the first submission stands
    NF_TRY_ASSIGN(auto payload, event::payload_json(env));
    if (payload["manifest"].value("selftest", "").empty()) payload["manifest"].erase("selftest");
    const auto cause = event::event_id::from_raw(env.causation_id());
    json doc{{"name", s.manifest().name()},
             {"version", plain(s.manifest().version())},
             {"publishedVersion", s.manifest().version()},
             {"manifest", payload["manifest"]},
             {"files", files_json(s)},
             {"digest", s.digest()},
             {"publisher", s.publisher()},
             {"tenantId", env.tenant_id()},
             {"status", "submitted"},
             {"stages", json::object()},
             {"findings", json::array()},
             {"yanked", false},
             {"submittedAt", at},
             {"updatedAt", at},
             {"commandId", cause ? cause->to_string() : std::string()},
             {"position", {{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()}}}};
    NF_TRY(w.put(key, doc.dump()));
    return note_version(w, doc, changed_);
  }

  if (auto st = stage_of().find(type); st != stage_of().end()) {
    events::StageCompleted s;
    if (!env.payload().UnpackTo(&s) || s.name().empty() || s.version().empty())
      return reject(w, m, type, event_id, "the stage has no name or version");
    const std::string key = version_key(s.name(), s.version());
    NF_TRY_ASSIGN(auto doc, load(w, key));
    if (!doc) return reject(w, m, type, event_id, "no submission of " + s.name() + "@" + s.version() + " precedes it");
    auto& d = *doc;
    if (d["stages"].contains(st->second)) return ok();  // read again after a restart
    json stage{{"passed", s.passed()}, {"at", at}};
    if (!s.reason().empty()) stage["reason"] = s.reason();
    d["stages"][st->second] = stage;
    if (st->second == "scanned") {
      d["findings"] = findings_json(s);
      d["touches"] = std::vector<std::string>(s.touches().begin(), s.touches().end());
      d["gained"] = std::vector<std::string>(s.gained().begin(), s.gained().end());
      if (!s.compared_with().empty()) d["comparedWith"] = s.compared_with();
    }
    if (st->second == "benchmarked") d["benchmark"] = selftest_json(s.selftest());
    if (s.passed()) {
      d["status"] = st->second;
    } else {
      d["status"] = "failed";
      d["failedStage"] = st->second;
      d["reason"] = s.reason();
    }
    d["updatedAt"] = at;
    NF_TRY(w.put(key, d.dump()));
    return note_version(w, d, changed_);
  }

  if (type == kApproved || type == kRejected) {
    events::AgentReviewed r;
    if (!env.payload().UnpackTo(&r) || r.name().empty() || r.version().empty())
      return reject(w, m, type, event_id, "the review has no name or version");
    const std::string key = version_key(r.name(), r.version());
    NF_TRY_ASSIGN(auto doc, load(w, key));
    if (!doc) return reject(w, m, type, event_id, "no submission of " + r.name() + "@" + r.version() + " precedes it");
    auto& d = *doc;
    if (d.contains("review")) return ok();  // the first review stands
    d["status"] = type == kApproved ? "approved" : "rejected";
    d["review"] = {{"decision", r.decision()}, {"feedback", r.feedback()}, {"reviewer", r.reviewer()}, {"at", at}};
    d["updatedAt"] = at;
    if (type == kApproved && !r.provenance_event_id().empty()) {
      d["provenanceEventId"] = r.provenance_event_id();
      NF_TRY(w.put("pe/" + r.provenance_event_id(), key));
      NF_TRY_ASSIGN(auto leaf, w.get("pl/" + r.provenance_event_id()));
      if (leaf) d["leafIndex"] = std::stoull(*leaf);
    }
    NF_TRY(w.put(key, d.dump()));
    return note_version(w, d, changed_);
  }

  if (type == kYanked) {
    events::AgentYanked y;
    if (!env.payload().UnpackTo(&y) || y.name().empty() || y.version().empty())
      return reject(w, m, type, event_id, "the yank has no name or version");
    const std::string key = version_key(y.name(), y.version());
    NF_TRY_ASSIGN(auto doc, load(w, key));
    if (!doc) return reject(w, m, type, event_id, "no submission of " + y.name() + "@" + y.version() + " precedes it");
    if ((*doc).value("yanked", false)) return ok();
    (*doc)["yanked"] = true;
    (*doc)["yank"] = {{"reason", y.reason()}, {"by", y.by()}, {"at", at}};
    (*doc)["updatedAt"] = at;
    NF_TRY(w.put(key, doc->dump()));
    return note_version(w, *doc, changed_);
  }

  if (type == kRated) {
    events::AgentRated r;
    if (!env.payload().UnpackTo(&r) || r.name().empty() || r.stars() < 1 || r.stars() > 5)
      return reject(w, m, type, event_id, "the rating has no name or its stars are not 1 to 5");
    NF_TRY_ASSIGN(auto agent, load(w, "a/" + r.name()));
    if (!agent) return reject(w, m, type, event_id, "no agent " + r.name());
    const std::string rkey = "r/" + r.name() + "/" + env.tenant_id();
    NF_TRY_ASSIGN(auto old, load(w, rkey));
    auto& a = *agent;
    // One rating per tenant per agent: the latest replaces the earlier one in the average.
    std::int64_t sum = a.value("ratingSum", std::int64_t{0}), count = a.value("ratingCount", std::int64_t{0});
    if (old) {
      if (old->value("eventId", "") == event_id) return ok();
      sum -= old->value("stars", 0);
      --count;
    }
    sum += r.stars();
    ++count;
    a["ratingSum"] = sum;
    a["ratingCount"] = count;
    a["ratingAverage"] = count ? static_cast<double>(sum) / static_cast<double>(count) : 0.0;
    NF_TRY(w.put(rkey, json{{"stars", r.stars()}, {"text", r.text()}, {"tenantId", env.tenant_id()}, {"at", at}, {"eventId", event_id}}.dump()));
    if (changed_) changed_(r.name());
    return w.put("a/" + r.name(), a.dump());
  }

  if (type == kInstalled) {
    events::AgentInstalled i;
    if (!env.payload().UnpackTo(&i) || i.name().empty() || i.version().empty())
      return reject(w, m, type, event_id, "the install has no name or version");
    NF_TRY_ASSIGN(auto agent, load(w, "a/" + i.name()));
    if (!agent) return reject(w, m, type, event_id, "no agent " + i.name());
    const std::string ikey = "i/" + i.name() + "/" + env.tenant_id();
    NF_TRY_ASSIGN(auto cur, load(w, ikey));
    json rec = cur ? *cur : json{{"count", 0}, {"versions", json::array()}, {"first", at}};
    if (rec.value("lastEventId", "") == event_id) return ok();
    rec["count"] = rec.value("count", 0) + 1;
    rec["last"] = at;
    rec["lastEventId"] = event_id;
    if (std::find(rec["versions"].begin(), rec["versions"].end(), json(plain(i.version()))) == rec["versions"].end())
      rec["versions"].push_back(plain(i.version()));
    (*agent)["installs"] = agent->value("installs", std::int64_t{0}) + 1;
    if (!cur) {
      (*agent)["installTenants"] = agent->value("installTenants", std::int64_t{0}) + 1;
      // How many distinct agents the tenant installed (its installedAgents quota counts these).
      NF_TRY_ASSIGN(auto n, w.get("ti/" + env.tenant_id()));
      NF_TRY(w.put("ti/" + env.tenant_id(), std::to_string((n ? std::stoll(*n) : 0) + 1)));
    }
    NF_TRY(w.put(ikey, rec.dump()));
    if (changed_) changed_(i.name());
    return w.put("a/" + i.name(), agent->dump());
  }
  return ok();  // refusals and other types are not part of this read model
}

result<std::optional<json>> marketplace_view::version(const std::string& name, const std::string& v) const {
  const std::vector<std::string> keys{version_key(name, v)};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<json>{};
  auto j = json::parse(*got[0], nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document '" + keys[0] + "' is not JSON"};
  return std::optional<json>{std::move(j)};
}

result<std::vector<json>> marketplace_view::versions(const std::string& name) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("v/" + name + "/", [&](std::string_view, std::string_view v) {
    auto j = json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return true;
  }));
  return out;
}

result<std::optional<json>> marketplace_view::agent(const std::string& name) const {
  const std::vector<std::string> keys{"a/" + name};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<json>{};
  auto j = json::parse(*got[0], nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document 'a/" + name + "' is not JSON"};
  return std::optional<json>{std::move(j)};
}

result<void> marketplace_view::each_agent(const std::function<bool(const json&)>& fn) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  return r->scan("a/", [&](std::string_view, std::string_view v) {
    auto j = json::parse(v, nullptr, false);
    return j.is_discarded() ? true : fn(j);
  });
}

result<std::optional<json>> marketplace_view::rating(const std::string& name, const std::string& tenant) const {
  const std::vector<std::string> keys{"r/" + name + "/" + tenant};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<json>{};
  auto j = json::parse(*got[0], nullptr, false);
  if (j.is_discarded()) return std::optional<json>{};
  return std::optional<json>{std::move(j)};
}

result<bool> marketplace_view::installed(const std::string& name, const std::string& tenant) const {
  const std::vector<std::string> keys{"i/" + name + "/" + tenant};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  return got[0].has_value();
}

result<std::int64_t> marketplace_view::installed_agents(const std::string& tenant) const {
  const std::vector<std::string> keys{"ti/" + tenant};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::int64_t{0};
  return static_cast<std::int64_t>(std::stoll(*got[0]));
}

result<std::vector<json>> marketplace_view::rejected(std::size_t limit) const { return ::nf::projection::read_rejected(store_, proj_, "x/", limit); }

}  // namespace nf::marketplace
