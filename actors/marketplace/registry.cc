#include "actors/marketplace/registry.h"

#include <algorithm>

#include "actors/marketplace/catalog.h"
#include "actors/marketplace/events.h"
#include "actors/marketplace/manifest.h"
#include "actors/marketplace/resolver.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "ledger.pb.h"
#include "marketplace.pb.h"

namespace nf::marketplace {
namespace {

using json = nlohmann::json;

std::string plain(const std::string& v) { return v.substr(0, v.find('+')); }

const std::vector<std::pair<std::string, const char*>>& stages() {
  static const std::vector<std::pair<std::string, const char*>> s{
      {"validated", kValidated}, {"scanned", kScanned}, {"benchmarked", kBenchmarked}, {"pending_review", kPendingReview}};
  return s;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// The manifest as the validated struct again (the route validated it; a command is outside input
// all the same).
std::variant<manifest, manifest_error> manifest_of(const events::AgentManifest& m) {
  json j{{"name", m.name()},
         {"version", m.version()},
         {"description", m.description()},
         {"category", m.category()},
         {"capabilities", std::vector<std::string>(m.capabilities().begin(), m.capabilities().end())},
         {"protocols", std::vector<std::string>(m.protocols().begin(), m.protocols().end())},
         {"dependencies", std::map<std::string, std::string>(m.dependencies().begin(), m.dependencies().end())},
         {"entrypoint", m.entrypoint()},
         {"visibility", m.visibility().empty() ? std::string("public") : m.visibility()}};
  if (!m.selftest().empty()) j["selftest"] = m.selftest();
  return parse_manifest(j);
}

void count_stage(const std::string& stage, bool passed) {
  metrics::registry::global()
      .get_counter("nf_marketplace_stages_total", "Pipeline stages completed, by stage and outcome",
                   {{"stage", stage}, {"outcome", passed ? "passed" : "failed"}})
      .inc();
}

}  // namespace

struct registry::decision {
  ::nf::actor::context& ctx;
  std::int64_t epoch;
  topic_partition out;
  std::string tenant;
  std::string command_type;

  result<bus::append_result> emit(command::single_writer& w, const char* type, const std::string& key, const google::protobuf::Message& msg) {
    event::new_event ev;
    ev.type = type;
    ev.key = key;
    ev.tenant = tenant;
    ev.message = &msg;
    NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
    return w.append(out, epoch, env);
  }
  result<void> refuse(command::single_writer& w, const std::string& name, const std::string& version, const char* code, const std::string& why) {
    events::MarketplaceRefused r;
    r.set_name(name);
    r.set_version(version);
    r.set_code(code);
    r.set_message(why);
    r.set_command_type(command_type);
    metrics::registry::global()
        .get_counter("nf_marketplace_refused_total", "Marketplace commands refused, by reason", {{"code", code}})
        .inc();
    NF_TRY(emit(w, kRefused, name, r));
    return ok();
  }
};

std::vector<std::string> registry::subscriptions() const { return {kCommands}; }

result<void> registry::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto cmd, event::from_message(m));
  const std::string& type = cmd.type();
  if (type != kPublishRequested && type != kReviewRequested && type != kYankRequested && type != kRatingRequested &&
      type != kInstallRequested)
    return ok();  // not a marketplace command
  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{kAgentsTopic});
  if (!epoch && epoch.error().code == errc::conflict) {
    nf::log::get("marketplace")->info("marketplace_registry: {}; leaving {}@{} to its owner", epoch.error().message,
                                      to_string(topic_partition{m.topic, m.partition}), m.off.get());
    return ok();
  }
  NF_TRY(epoch);
  decision d{ctx, *epoch, {topic_name{kAgentsTopic}, m.partition}, cmd.tenant_id(), type};
  if (type == kPublishRequested) return publish(d, cmd);
  if (type == kReviewRequested) return review(d, cmd);
  if (type == kYankRequested) return yank(d, cmd);
  if (type == kRatingRequested) return rate(d, cmd);
  return install(d, cmd);
}

result<void> registry::publish(decision& d, const events::Envelope& cmd) {
  events::AgentSubmitted s;
  if (!cmd.payload().UnpackTo(&s) || s.manifest().name().empty() || s.manifest().version().empty() || s.digest().empty())
    return error{errc::invalid_argument, "marketplace.publish_requested does not carry an AgentSubmitted with a name, version and digest"};
  const std::string name = s.manifest().name(), version = plain(s.manifest().version());
  const auto cmd_id = event::event_id::from_raw(cmd.id());
  NF_TRY_ASSIGN(auto existing, view_.version(name, version));
  if (existing) {
    // This command's own submission, read back after a crash: carry on where it stopped.
    if (cmd_id && existing->value("commandId", "") == cmd_id->to_string()) return pipeline(d, s, existing->value("status", ""));
    // The same bytes from the same tenant again (a retry after a lost answer): not a new version.
    if (existing->value("digest", "") == s.digest() && existing->value("tenantId", "") == d.tenant)
      return d.refuse(writer_, name, version, "same_package", name + "@" + version + " is already published with this content");
    return d.refuse(writer_, name, version, "duplicate_version",
                    name + "@" + version + " is already published; versions are immutable, publish a new version");
  }
  NF_TRY_ASSIGN(auto agent, view_.agent(name));
  if (agent && agent->value("tenantId", "") != d.tenant)
    return d.refuse(writer_, name, version, "name_taken", "the agent name '" + name + "' belongs to another publisher");
  for (const auto& f : s.files())
    if (f.symlink().empty() && !vault_.contains(f.sha256()))
      return d.refuse(writer_, name, version, "files_missing", "file '" + f.path() + "' (" + f.sha256() + ") is not in this instance's vault");
  if (!vault_.contains(s.digest()))
    return d.refuse(writer_, name, version, "files_missing", "the provenance document " + s.digest() + " is not in this instance's vault");
  NF_TRY(d.emit(writer_, kSubmitted, name, s));
  return pipeline(d, s, "submitted");
}

result<void> registry::pipeline(decision& d, const events::AgentSubmitted& s, const std::string& from) {
  std::size_t next = 0;
  if (from != "submitted") {
    while (next < stages().size() && stages()[next].first != from) ++next;
    if (next == stages().size()) return ok();  // reviewed, failed or waiting for review: nothing to run
    ++next;
  }
  const std::string name = s.manifest().name(), version = plain(s.manifest().version());
  for (; next < stages().size(); ++next) {
    const auto& [stage, type] = stages()[next];
    events::StageCompleted out;
    out.set_name(name);
    out.set_version(version);
    out.set_passed(true);
    if (stage == "validated") {
      auto parsed = manifest_of(s.manifest());
      if (auto* e = std::get_if<manifest_error>(&parsed)) {
        out.set_passed(false);
        out.set_reason("manifest field '" + e->field + "': " + e->message);
      } else {
        const auto& man = std::get<manifest>(parsed);
        const viewer v{d.tenant, false};
        std::optional<error> failure;
        const auto base = source_for(view_, v, &failure);
        // Each dependency exists and has an approved version in its range...
        for (const auto& [dep, text] : man.dependencies) {
          const auto r = range::parse(text);
          const auto cands = base(dep);
          if (failure) return *failure;
          if (!cands) {
            out.set_passed(false);
            out.set_reason("dependency '" + dep + "' is not in the marketplace");
            break;
          }
          if (std::none_of(cands->begin(), cands->end(), [&](const candidate& c) { return r && r->satisfied_by(c.ver); })) {
            std::vector<std::string> have;
            for (const auto& c : *cands) have.push_back(c.ver.to_string());
            out.set_passed(false);
            out.set_reason("no approved version of '" + dep + "' satisfies " + text +
                           (have.empty() ? std::string(" (it has none approved)") : " (approved: " + join(have, ", ") + ")"));
            break;
          }
        }
        // ...and the whole closure resolves with this version in it.
        if (out.passed()) {
          candidate self{man.ver, {}, s.digest()};
          for (const auto& [dep, text] : man.dependencies) self.dependencies.push_back({dep, text});
          const package_source src = [&](std::string_view n) -> std::optional<std::vector<candidate>> {
            if (n == name) return std::vector<candidate>{self};
            return base(n);
          };
          auto res = resolve(name, version, src);
          if (failure) return *failure;
          if (auto* f = std::get_if<resolve_failure>(&res)) {
            out.set_passed(false);
            out.set_reason(std::string("the dependencies cannot be resolved (") + to_string(f->what) + "): " + f->message);
          }
        }
      }
    } else if (stage == "scanned") {
      std::vector<std::string> held;  // the files' bytes, which scan_file views
      held.reserve(static_cast<std::size_t>(s.files_size()));
      std::vector<scan_file> files;
      for (const auto& f : s.files()) {
        if (!f.symlink().empty()) {
          files.push_back(scan_file{f.path(), {}, f.symlink()});
          continue;
        }
        auto bytes = vault_.get(f.sha256());
        if (!bytes) {
          out.set_passed(false);
          out.set_reason("file '" + f.path() + "' cannot be read from the vault: " + bytes.error().message);
          break;
        }
        held.push_back(std::move(*bytes));
        files.push_back(scan_file{f.path(), held.back(), std::nullopt});
      }
      if (out.passed()) {
        auto report = scan(files, opts_.scan);
        // The previous approved version: the highest below this one, else the lowest above it.
        NF_TRY_ASSIGN(auto all, view_.versions(name));
        const auto self = parse_version(version);
        std::optional<::nf::marketplace::version> below, above;
        const json* below_doc = nullptr;
        const json* above_doc = nullptr;
        for (const auto& doc : all) {
          if (doc.value("status", "") != "approved") continue;
          auto v = parse_version(doc.value("version", ""));
          if (!v || !self) continue;
          const int c = compare(*v, *self);
          if (c < 0 && (!below || compare(*below, *v) < 0)) {
            below = *v;
            below_doc = &doc;
          } else if (c > 0 && (!above || compare(*v, *above) < 0)) {
            above = *v;
            above_doc = &doc;
          }
        }
        const json* previous = below_doc ? below_doc : above_doc;
        if (previous) {
          std::set<std::string> before;
          for (const auto& t : previous->value("touches", json::array())) before.insert(t.get<std::string>());
          const std::string prev = previous->value("version", "");
          for (const auto& g : flag_gained(report, before, prev)) out.add_gained(g);
          out.set_compared_with(prev);
        }
        for (const auto& t : report.touches) out.add_touches(t);
        std::vector<std::string> blocking;
        for (const auto& f : report.findings) {
          auto* pf = out.add_findings();
          pf->set_file(f.file);
          pf->set_line(f.line);
          pf->set_rule(f.rule);
          pf->set_severity(f.severity);
          pf->set_message(f.message);
          if (f.severity == "critical" || f.severity == "high")
            blocking.push_back(f.rule + " in " + f.file + (f.line ? ":" + std::to_string(f.line) : std::string()));
        }
        if (!report.passed()) {
          out.set_passed(false);
          out.set_reason(std::to_string(blocking.size()) + " finding(s) of high or critical severity: " + join(blocking, ", "));
        }
      }
    } else if (stage == "benchmarked") {
      auto* run = out.mutable_selftest();
      const std::string& command = s.manifest().selftest();
      if (command.empty()) {
        run->set_ran(false);
        out.set_reason("the package has no selftest");
      } else if (!opts_.selftest) {
        run->set_ran(false);
        out.set_reason("selftests are turned off on this server (marketplace.selftest)");
      } else {
        std::vector<std::string> held;
        held.reserve(static_cast<std::size_t>(s.files_size()));
        std::vector<selftest_file> files;
        for (const auto& f : s.files()) {
          if (!f.symlink().empty()) continue;
          auto bytes = vault_.get(f.sha256());
          if (!bytes) return bytes.error();
          held.push_back(std::move(*bytes));
          files.push_back(selftest_file{f.path(), held.back(), f.executable()});
        }
        auto r = run_selftest(command, files, opts_.limits, opts_.selftest_dir);
        if (!r) {
          out.set_passed(false);
          out.set_reason("the selftest could not be run: " + r.error().message);
        } else {
          run->set_ran(true);
          run->set_exit_status(r->exit_status);
          run->set_signal(r->signal);
          run->set_wall_ms(r->wall_ms);
          run->set_cpu_ms(r->cpu_ms);
          run->set_peak_rss_kb(r->peak_rss_kb);
          run->set_limit_hit(r->limit_hit);
          run->set_output_tail(r->output_tail);
          if (!r->passed()) {
            out.set_passed(false);
            out.set_reason(!r->limit_hit.empty() ? "the selftest went over its " + r->limit_hit + " limit"
                           : r->signal         ? "the selftest was killed by signal " + std::to_string(r->signal)
                                               : "the selftest exited with status " + std::to_string(r->exit_status));
          }
        }
      }
    }
    count_stage(stage, out.passed());
    NF_TRY(d.emit(writer_, type, name, out));
    if (!out.passed()) return ok();
  }
  return ok();
}

result<void> registry::review(decision& d, const events::Envelope& cmd) {
  events::AgentReviewed r;
  if (!cmd.payload().UnpackTo(&r) || r.name().empty() || r.version().empty() || (r.decision() != "approve" && r.decision() != "reject"))
    return error{errc::invalid_argument, "marketplace.review_requested does not carry an AgentReviewed with a name, version and decision"};
  const std::string name = r.name(), version = plain(r.version());
  NF_TRY_ASSIGN(auto doc, view_.version(name, version));
  if (!doc) return d.refuse(writer_, name, version, "not_found", "no version " + name + "@" + version);
  const std::string status = doc->value("status", "");
  if (status != "pending_review")
    return d.refuse(writer_, name, version, "wrong_status", name + "@" + version + " is " + status + "; only a version pending review can be reviewed");
  r.set_version(version);
  if (r.decision() == "reject") {
    NF_TRY(d.emit(writer_, kRejected, name, r));
    return ok();
  }
  // The provenance document becomes a leaf of the evidence ledger: a vault record of it, whose id
  // (derived from this command) the approval names. Written first, so a crash between the two
  // writes the same record again (the ledger keeps one leaf per event id) and then the approval.
  const std::string digest = doc->value("digest", "");
  NF_TRY_ASSIGN(auto doc_bytes, vault_.get(digest));
  events::EvidenceRecord rec;
  rec.set_kind("marketplace.package");
  rec.set_sha256(digest);
  rec.set_size(doc_bytes.size());
  rec.set_content_type("application/json");
  event::new_event ev;
  ev.type = "evidence.record_submitted";
  ev.key = name + "@" + version;
  ev.tenant = doc->value("tenantId", "");
  ev.message = &rec;
  // A public package's provenance is for everyone to check (the ledger lets every tenant read it).
  if ((*doc)["manifest"].value("visibility", "public") == "public") ev.headers["nf-public"] = "true";
  NF_TRY_ASSIGN(auto env, d.ctx.caused(std::move(ev)));
  const auto record = event::to_record(env);
  NF_TRY(bus_.append(topic_name{"evidence.records"}, std::span<const bus::record>(&record, 1)));
  const auto rec_id = event::event_id::from_raw(env.id());
  r.set_provenance_event_id(rec_id ? rec_id->to_string() : std::string());
  NF_TRY(d.emit(writer_, kApproved, name, r));
  return ok();
}

result<void> registry::yank(decision& d, const events::Envelope& cmd) {
  events::AgentYanked y;
  if (!cmd.payload().UnpackTo(&y) || y.name().empty() || y.version().empty())
    return error{errc::invalid_argument, "marketplace.yank_requested does not carry an AgentYanked with a name and version"};
  const std::string name = y.name(), version = plain(y.version());
  NF_TRY_ASSIGN(auto doc, view_.version(name, version));
  if (!doc) return d.refuse(writer_, name, version, "not_found", "no version " + name + "@" + version);
  if (doc->value("status", "") != "approved")
    return d.refuse(writer_, name, version, "wrong_status", name + "@" + version + " is " + doc->value("status", "") + "; only an approved version can be yanked");
  if (doc->value("yanked", false)) return d.refuse(writer_, name, version, "already_yanked", name + "@" + version + " is already yanked");
  y.set_version(version);
  NF_TRY(d.emit(writer_, kYanked, name, y));
  return ok();
}

result<void> registry::rate(decision& d, const events::Envelope& cmd) {
  events::AgentRated r;
  if (!cmd.payload().UnpackTo(&r) || r.name().empty() || r.stars() < 1 || r.stars() > 5)
    return error{errc::invalid_argument, "marketplace.rating_requested does not carry an AgentRated with a name and 1 to 5 stars"};
  NF_TRY_ASSIGN(auto agent, view_.agent(r.name()));
  if (!agent) return d.refuse(writer_, r.name(), "", "not_found", "no agent " + r.name());
  NF_TRY_ASSIGN(const bool installed, view_.installed(r.name(), d.tenant));
  if (!installed)
    return d.refuse(writer_, r.name(), "", "not_installed", "only a tenant that installed " + r.name() + " may rate it (verified usage)");
  NF_TRY(d.emit(writer_, kRated, r.name(), r));
  return ok();
}

result<void> registry::install(decision& d, const events::Envelope& cmd) {
  events::AgentInstalled i;
  if (!cmd.payload().UnpackTo(&i) || i.name().empty() || i.version().empty())
    return error{errc::invalid_argument, "marketplace.install_requested does not carry an AgentInstalled with a name and version"};
  const std::string name = i.name(), version = plain(i.version());
  NF_TRY_ASSIGN(auto doc, view_.version(name, version));
  if (!doc || !may_see(*doc, viewer{d.tenant, false})) return d.refuse(writer_, name, version, "not_found", "no version " + name + "@" + version);
  // A yanked version stays installable by its exact version; what is not approved is not.
  if (doc->value("status", "") != "approved")
    return d.refuse(writer_, name, version, "wrong_status", name + "@" + version + " is " + doc->value("status", "") + ", not approved");
  // The tenant's installedAgents quota counts distinct agents: a new one beyond it is refused.
  NF_TRY_ASSIGN(const bool again, view_.installed(name, d.tenant));
  if (!again && i.installed_agents_limit() >= 0) {
    NF_TRY_ASSIGN(const auto count, view_.installed_agents(d.tenant));
    if (count >= i.installed_agents_limit())
      return d.refuse(writer_, name, version, "quota_exceeded",
                      "installedAgents quota exceeded: the tenant has installed " + std::to_string(count) + " agents of its limit of " +
                          std::to_string(i.installed_agents_limit()));
  }
  i.set_version(version);
  i.set_installed_agents_limit(0);  // the command's, not the fact's
  NF_TRY(d.emit(writer_, kInstalled, name, i));
  return ok();
}

}  // namespace nf::marketplace
