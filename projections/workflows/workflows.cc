// The workflows projection: definitions by version, run documents, run history, pending timers,
// the run indexes (by time, workflow and search attribute) and per-node metrics.
#include "projections/workflows/workflows.h"

#include <algorithm>
#include <cstdio>

#include "core/base/number.h"
#include "core/base/text.h"
#include "core/event/codec.h"
#include "core/projection/rejected.h"
#include "marketplace.pb.h"
#include "workflows.pb.h"

namespace nf::workflows {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kMaxTime = 9'999'999'999'999'999LL;
constexpr std::size_t kKeptDurations = 256;

std::string pad(std::int64_t v, int width = 16) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*lld", width, static_cast<long long>(std::max<std::int64_t>(0, v)));
  return b;
}

json parse_or(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

result<std::optional<json>> load(::nf::projection::state_writer& w, const std::string& key) {
  NF_TRY_ASSIGN(auto cur, w.get(key));
  if (!cur) return std::optional<json>{};
  auto j = json::parse(*cur, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document '" + key + "' is not JSON"};
  return std::optional<json>{std::move(j)};
}

std::string timer_key(std::int64_t partition, std::int64_t at, const std::string& run, const std::string& node, int attempt, const std::string& timer) {
  return "t/" + pad(partition, 5) + "/" + pad(at) + "/" + run + "/" + node + "/" + std::to_string(attempt) + "/" + timer;
}

// A history entry: the event (seq, type, `at` when it happened, eventId) with its payload's fields,
// JSON text fields as JSON. A payload's own `at` (a retry's or timer's time) is `fireAt`.
json step_json(const events::Envelope& env, std::int64_t seq) {
  json j{{"seq", seq}, {"type", env.type()}, {"at", env.occurred_at()}};
  auto id = event::event_id::from_raw(env.id());
  if (id) j["eventId"] = id->to_string();
  auto p = event::payload_json(env);
  if (p) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      const auto& k = it.key();
      if (k.size() > 4 && k.compare(k.size() - 4, 4, "Json") == 0 && it.value().is_string())
        j[k.substr(0, k.size() - 4)] = parse_or(it.value().get<std::string>(), it.value());
      else if (k == "at") {
        std::int64_t at = 0;
        const auto& v = it.value();
        if (v.is_number_integer()) at = v.get<std::int64_t>();
        else if (v.is_string())
          if (auto n = parse_number<std::int64_t>(v.get<std::string>())) at = *n;
        if (at != 0) j["fireAt"] = at;
      } else if (k != "runId" && !j.contains(k)) {
        j[k] = it.value();
      }
    }
  }
  return j;
}

}  // namespace

std::string wait_topic(const json& wait) {
  const auto kind = wait.is_object() ? wait.value("kind", "") : std::string();
  if (kind == "event" && wait.contains("topic") && wait["topic"].is_string()) return wait["topic"].get<std::string>();
  if (kind == "mission") return kMissionLifecycleTopic;
  if (kind == "agent") return kAgentResultsTopic;
  return "";
}

bool run_ended(const std::string& s) { return s == "completed" || s == "failed" || s == "cancelled"; }

result<bool> fold_run(json& doc, const events::Envelope& env, std::int64_t partition, std::string* why) {
  auto no = [&](std::string w) {
    if (why) *why = std::move(w);
    return false;
  };
  const std::string& type = env.type();
  const std::int64_t at = env.occurred_at();
  if (type == kRefused) return true;  // changes no document
  if (type == kRunStarted) {
    events::RunStart s;
    if (!env.payload().UnpackTo(&s) || s.run_id().empty() || s.workflow_id().empty()) return no("the start has no run or workflow id");
    if (!doc.is_null()) return no("run " + s.run_id() + " started twice");
    doc = json{{"runId", s.run_id()},
               {"tenantId", env.tenant_id()},
               {"workflowId", s.workflow_id()},
               {"version", s.version()},
               {"status", "running"},
               {"inputs", parse_or(s.inputs_json(), json::object())},
               {"inputsSha256", s.inputs_sha256()},
               {"vars", parse_or(s.variables_json(), json::object())},
               {"nodes", json::object()},
               {"debug", s.debug() ? (s.breakpoints().empty() ? "step" : "breakpoints") : "off"},
               {"breakpoints", std::vector<std::string>(s.breakpoints().begin(), s.breakpoints().end())},
               {"searchAttributes", std::map<std::string, std::string>(s.search_attributes().begin(), s.search_attributes().end())},
               {"startedAt", at},
               {"updatedAt", at},
               {"startedBy", s.started_by()},
               {"partition", partition},
               {"steps", 1}};
    if (!s.idempotency_key().empty()) doc["idempotencyKey"] = s.idempotency_key();
    if (!s.schedule_id().empty()) doc["scheduleId"] = s.schedule_id();
    if (s.slots_size() > 0) {
      doc["slots"] = std::vector<std::string>(s.slots().begin(), s.slots().end());
      doc["waitingSlots"] = doc["slots"];
      doc["slotLimits"] = std::vector<std::int64_t>(s.slot_limits().begin(), s.slot_limits().end());
      doc["status"] = "queued";
    }
    if (!s.trigger_id().empty()) doc["trigger"] = {{"triggerId", s.trigger_id()}, {"eventId", s.cause_event_id()}};
    if (!s.parent_run_id().empty()) doc["parent"] = {{"runId", s.parent_run_id()}, {"node", s.parent_node()}, {"attempt", s.parent_attempt()}};
    if (!s.reset_of().empty()) {
      doc["resetOf"] = {{"runId", s.reset_of()}, {"node", s.reset_node()}};
      const auto reused = parse_or(s.reused_json(), json::object());
      for (auto it = reused.begin(); it != reused.end(); ++it) {
        doc["nodes"][it.key()] = {{"status", "completed"}, {"reused", true}, {"attempts", 0}, {"output", it.value().value("output", json::object())}};
        const auto vars = it.value().value("vars", json::object());
        if (!vars.empty()) doc["nodes"][it.key()]["vars"] = vars;
        for (auto v = vars.begin(); v != vars.end(); ++v) doc["vars"][v.key()] = v.value();
      }
    }
    return true;
  }
  if (doc.is_null()) return no("a " + type + " of a run that has not started");

  if (type == kRunCompleted || type == kRunFailed || type == kRunCancelled) {
    events::RunEnded e;
    if (!env.payload().UnpackTo(&e)) return no("the end carries no RunEnded");
    if (run_ended(doc.value("status", ""))) return no("run " + doc.value("runId", "") + " ended twice");
    doc["endedAt"] = at;
    doc["updatedAt"] = at;
    doc["steps"] = doc.value("steps", 0) + 1;
    doc.erase("paused");
    if (type == kRunCompleted) {
      doc["status"] = "completed";
      doc["outputs"] = parse_or(e.outputs_json(), json::object());
    } else if (type == kRunFailed) {
      doc["status"] = "failed";
      doc["error"] = {{"node", e.node()}, {"code", e.error_code()}, {"message", e.error_message()}};
    } else {
      doc["status"] = "cancelled";
      doc["cancelledBy"] = e.by();
      if (!e.reason().empty()) doc["reason"] = e.reason();
    }
    return true;
  }

  events::NodeStep s;
  if (!env.payload().UnpackTo(&s)) return no("the step carries no NodeStep");
  if (run_ended(doc.value("status", ""))) return no("a " + type + " after run " + doc.value("runId", "") + " ended");
  doc["updatedAt"] = at;
  doc["steps"] = doc.value("steps", 0) + 1;
  if (type == kRunAdmitted) {
    auto& w = doc["waitingSlots"];
    for (auto it = w.begin(); it != w.end(); ++it)
      if (*it == s.node()) {
        w.erase(it);
        break;
      }
    if (w.empty() && doc.value("status", "") == "queued") {
      doc["status"] = "running";
      doc["admittedAt"] = at;
    }
    return true;
  }
  if (type == kRunPaused) {
    doc["status"] = "paused";
    doc["paused"] = s.node();
    return true;
  }
  if (type == kRunResumed) {
    doc["status"] = "running";
    doc.erase("paused");
    if (s.step()) {
      doc["released"] = s.node();
    } else {
      doc["debug"] = doc["breakpoints"].empty() ? "off" : "breakpoints";
      doc["released"] = s.node();
    }
    return true;
  }
  if (s.node().empty()) return no("a " + type + " without a node");
  auto& n = doc["nodes"][s.node()];
  if (n.is_null()) n = json::object();
  if (type == kNodeScheduled) {
    n = {{"status", "scheduled"}, {"attempts", 0}, {"inputs", parse_or(s.inputs_json(), json::object())}, {"scheduledAt", at}};
    if (doc.value("released", "") == s.node()) doc.erase("released");
  } else if (type == kNodeStarted) {
    n["status"] = "running";
    n["attempts"] = s.attempt();
    if (!n.contains("startedAt")) n["startedAt"] = at;
    n["attemptStartedAt"] = at;
  } else if (type == kNodeWaiting) {
    n["status"] = "waiting";
    n["wait"] = parse_or(s.wait_json(), json::object());
  } else if (type == kNodeCompleted) {
    n["status"] = "completed";
    n["output"] = parse_or(s.output_json(), json::object());
    const auto vars = parse_or(s.vars_json(), json::object());
    if (!vars.empty()) n["vars"] = vars;
    for (auto v = vars.begin(); v != vars.end(); ++v) doc["vars"][v.key()] = v.value();
    if (!s.by().empty()) n["by"] = s.by();
    n["endedAt"] = at;
    n["durationMs"] = at - n.value("attemptStartedAt", at);
    n.erase("wait");
    n.erase("timers");
    n.erase("retryAt");
  } else if (type == kNodeFailed) {
    n["error"] = {{"code", s.error_code()}, {"message", s.error_message()}, {"attempt", s.attempt()}};
    n["attempts"] = s.attempt();
    n["status"] = s.will_retry() ? "retrying" : "failed";
    n["durationMs"] = at - n.value("attemptStartedAt", at);
    n.erase("wait");
    n.erase("timers");
    if (!s.will_retry()) n["endedAt"] = at;
  } else if (type == kNodeSkipped) {
    n = {{"status", "skipped"}, {"endedAt", at}};
    if (!s.error_message().empty()) n["reason"] = s.error_message();
  } else if (type == kRetryScheduled) {
    n["status"] = "retrying";
    n["retryAt"] = s.at();
  } else if (type == kTimerSet) {
    n["timers"][s.timer()] = {{"at", s.at()}, {"attempt", s.attempt()}};
    if (s.timer() == "delay") {
      n["status"] = "waiting";
      n["pendingOutput"] = parse_or(s.output_json(), json::object());
    }
  } else if (type == kTimerFired) {
    if (n.contains("timers")) {
      n["timers"].erase(s.timer());
      if (n["timers"].empty()) n.erase("timers");
    }
  } else {
    return no("an unknown run event " + type);
  }
  return true;
}

bool is_slot_event(const std::string& t) { return t == kSlotGranted || t == kSlotQueued || t == kSlotFreed; }

result<bool> fold_slot(json& doc, const events::Envelope& env, std::string* why) {
  events::SlotStep s;
  if (!env.payload().UnpackTo(&s) || s.slot_id().empty() || s.run_id().empty()) {
    if (why) *why = "the slot step has no slot or run";
    return false;
  }
  if (doc.is_null()) doc = json{{"slotId", s.slot_id()}, {"tenantId", env.tenant_id()}, {"holders", json::array()}, {"queue", json::array()}};
  if (s.limit() > 0) doc["limit"] = s.limit();
  auto drop = [&](json& list) {
    for (auto it = list.begin(); it != list.end(); ++it)
      if (*it == s.run_id()) {
        list.erase(it);
        return true;
      }
    return false;
  };
  const std::string& type = env.type();
  if (type == kSlotGranted) {
    drop(doc["queue"]);
    doc["holders"].push_back(s.run_id());
  } else if (type == kSlotQueued) {
    doc["queue"].push_back(s.run_id());
  } else if (type == kSlotFreed) {
    if (!drop(doc["holders"])) drop(doc["queue"]);
  }
  doc["updatedAt"] = env.occurred_at();
  doc["steps"] = doc.value("steps", 0) + 1;
  return true;
}

bool is_schedule_event(const std::string& t) { return t.rfind("workflow.schedule_", 0) == 0; }

result<bool> fold_schedule(json& doc, const events::Envelope& env, std::int64_t partition, std::string* why) {
  auto no = [&](std::string w) {
    if (why) *why = std::move(w);
    return false;
  };
  const std::string& type = env.type();
  const std::int64_t at = env.occurred_at();
  if (type == kScheduleCreated) {
    events::ScheduleSpec s;
    if (!env.payload().UnpackTo(&s) || s.schedule_id().empty() || s.workflow_id().empty()) return no("the schedule has no id or workflow");
    if (!doc.is_null()) return no("schedule " + s.schedule_id() + " created twice");
    doc = json{{"scheduleId", s.schedule_id()}, {"tenantId", env.tenant_id()}, {"workflowId", s.workflow_id()}, {"version", s.version()},
               {"cron", s.cron()}, {"inputs", parse_or(s.inputs_json(), json::object())}, {"overlap", s.overlap()}, {"catchup", s.catchup()},
               {"catchupWindowMs", s.catchup_window_ms()}, {"nextDue", s.next_due()}, {"active", json::array()}, {"fired", 0}, {"missed", 0},
               {"skipped", 0}, {"createdAt", at}, {"createdBy", s.created_by()}, {"updatedAt", at}, {"partition", partition}, {"steps", 1}};
    if (s.has_concurrent_runs()) doc["concurrentRuns"] = s.concurrent_runs();
    return true;
  }
  events::ScheduleStep s;
  if (!env.payload().UnpackTo(&s)) return no("the schedule step carries no ScheduleStep");
  if (doc.is_null()) return no("a " + type + " of a schedule that was not created");
  if (doc.value("deleted", false)) return no("a " + type + " after the schedule was deleted");
  doc["updatedAt"] = at;
  doc["steps"] = doc.value("steps", 0) + 1;
  if (type == kScheduleFired) {
    doc["active"].push_back(s.run_id());
    doc["fired"] = doc.value("fired", 0) + 1;
    doc["missed"] = doc.value("missed", std::int64_t{0}) + s.missed();
    doc["lastFire"] = {{"due", s.due()}, {"runId", s.run_id()}, {"at", at}};
    doc["nextDue"] = s.next_due();
    if (doc.contains("buffered") && doc["buffered"] == s.due()) doc.erase("buffered");
  } else if (type == kScheduleSkipped) {
    if (s.reason() == "overlap") doc["skipped"] = doc.value("skipped", 0) + 1;
    doc["missed"] = doc.value("missed", std::int64_t{0}) + s.missed();
    doc["lastSkip"] = {{"due", s.due()}, {"reason", s.reason()}, {"at", at}};
    doc["nextDue"] = s.next_due();
  } else if (type == kScheduleBuffered) {
    doc["buffered"] = s.due();
    doc["nextDue"] = s.next_due();
  } else if (type == kScheduleRunEnded) {
    auto& a = doc["active"];
    for (auto it = a.begin(); it != a.end(); ++it)
      if (*it == s.run_id()) {
        a.erase(it);
        break;
      }
  } else if (type == kScheduleDeleted) {
    doc["deleted"] = true;
    doc["nextDue"] = 0;
  } else {
    return no("an unknown schedule event " + type);
  }
  return true;
}

result<void> workflows_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  auto env_r = event::from_message(m);
  if (!env_r) return std::move(env_r).error();
  const auto& env = *env_r;
  const auto id = event::event_id::from_raw(env.id());
  const std::string event_id = id ? id->to_string() : std::string();
  const std::string& type = env.type();
  auto reject = [&](const std::string& reason) { return ::nf::projection::keep_rejected(w, "workflows", "x/", m, type, event_id, reason); };

  if (m.topic.get() == kDefinitionsTopic) {
    if (type == kTriggerDefined || type == kTriggerDeleted) {
      events::TriggerDefined t;
      if (!env.payload().UnpackTo(&t) || t.trigger_id().empty() || t.workflow_id().empty()) return reject("the trigger has no id or workflow");
      const std::string key = "tr/" + env.tenant_id() + "/" + t.workflow_id() + "/" + t.trigger_id();
      if (type == kTriggerDeleted) return w.del(key);
      json doc{{"triggerId", t.trigger_id()}, {"tenantId", env.tenant_id()}, {"workflowId", t.workflow_id()}, {"topic", t.topic()}, {"type", t.type()},
               {"filter", t.filter()}, {"inputs", parse_or(t.inputs_json(), json::object())}, {"version", t.version()}, {"definedBy", t.defined_by()},
               {"definedAt", env.occurred_at()}};
      if (t.has_concurrent_runs()) doc["concurrentRuns"] = t.concurrent_runs();
      return w.put(key, doc.dump());
    }
    if (type == kTemplateDefined) {
      events::WorkflowDefined d;
      if (!env.payload().UnpackTo(&d) || d.workflow_id().empty() || d.version() < 1) return reject("the template has no name or version");
      const std::string key = "tp/" + env.tenant_id() + "/" + d.workflow_id() + "/" + pad(d.version(), 12);
      NF_TRY_ASSIGN(auto cur, w.get(key));
      if (cur) return reject("version " + std::to_string(d.version()) + " of template " + d.workflow_id() + " is defined already");
      json doc{{"document", parse_or(d.document_json(), json::object())}, {"definedBy", d.defined_by()}, {"definedAt", env.occurred_at()}};
      NF_TRY(w.put(key, doc.dump()));
      const std::string lkey = "tpl/" + env.tenant_id() + "/" + d.workflow_id();
      NF_TRY_ASSIGN(auto latest, w.get(lkey));
      if (!latest || std::stoll(*latest) < d.version()) NF_TRY(w.put(lkey, std::to_string(d.version())));
      return ok();
    }
    if (type != kDefined) return reject("not a definition event");
    events::WorkflowDefined d;
    if (!env.payload().UnpackTo(&d) || d.workflow_id().empty() || d.version() < 1) return reject("the definition has no id or version");
    const std::string base = env.tenant_id() + "/" + d.workflow_id();
    const std::string key = "d/" + base + "/" + pad(d.version(), 12);
    NF_TRY_ASSIGN(auto cur, w.get(key));
    if (cur) return reject("version " + std::to_string(d.version()) + " of " + d.workflow_id() + " is defined already (versions are immutable)");
    json doc{{"workflowId", d.workflow_id()}, {"version", d.version()}, {"document", parse_or(d.document_json(), json::object())},
             {"digest", d.digest()}, {"definedBy", d.defined_by()}, {"definedAt", env.occurred_at()}, {"tenantId", env.tenant_id()}};
    NF_TRY(w.put(key, doc.dump()));
    NF_TRY_ASSIGN(auto latest, w.get("dl/" + base));
    if (!latest || std::stoll(*latest) < d.version()) NF_TRY(w.put("dl/" + base, std::to_string(d.version())));
    return ok();
  }

  if (m.topic.get() == kMarketplaceTopic) {
    // Which agents each tenant installed (for agent_invoke).
    if (type != kAgentInstalledType) return ok();
    events::AgentInstalled in;
    if (!env.payload().UnpackTo(&in) || in.name().empty()) return ok();
    return w.put("ai/" + env.tenant_id() + "/" + in.name(), in.version());
  }

  if (m.topic.get() != kRunsTopic) return ok();  // another topic the marketplace pattern matched

  // workflow.runs
  const std::string& run_id = m.key;
  if (run_id.empty()) return reject("a run event without a key");
  if (is_slot_event(type)) {
    const std::string lkey = "sl/" + run_id;
    NF_TRY_ASSIGN(auto lcur, load(w, lkey));
    json ldoc = lcur ? std::move(*lcur) : json();
    std::string lwhy;
    NF_TRY_ASSIGN(bool ltook, fold_slot(ldoc, env, &lwhy));
    if (!ltook) return reject(lwhy);
    return w.put(lkey, ldoc.dump());
  }
  if (is_schedule_event(type)) {
    const std::string skey = "s/" + run_id;
    NF_TRY_ASSIGN(auto scur, load(w, skey));
    json sdoc = scur ? std::move(*scur) : json();
    const std::int64_t before_due = sdoc.is_object() ? sdoc.value("nextDue", std::int64_t{0}) : 0;
    std::string swhy;
    NF_TRY_ASSIGN(bool stook, fold_schedule(sdoc, env, m.partition.get(), &swhy));
    if (!stook) return reject(swhy);
    const std::int64_t after_due = sdoc.value("nextDue", std::int64_t{0});
    if (before_due != after_due || type == kScheduleCreated) {
      if (before_due > 0) NF_TRY(w.del("sd/" + pad(m.partition.get(), 5) + "/" + pad(before_due) + "/" + run_id));
      if (after_due > 0) NF_TRY(w.put("sd/" + pad(m.partition.get(), 5) + "/" + pad(after_due) + "/" + run_id, ""));
    }
    if (type == kScheduleCreated)
      NF_TRY(w.put("sw/" + sdoc.value("tenantId", "") + "/" + sdoc.value("workflowId", "") + "/" + run_id, ""));
    return w.put(skey, sdoc.dump());
  }
  const std::string rkey = "r/" + run_id;
  NF_TRY_ASSIGN(auto cur, load(w, rkey));
  json doc = cur ? std::move(*cur) : json();
  const bool ends = type == kRunCompleted || type == kRunFailed || type == kRunCancelled;
  const json before = type == kTimerFired || type == kNodeCompleted || type == kNodeFailed || ends ? doc : json();
  std::string why;
  NF_TRY_ASSIGN(bool took, fold_run(doc, env, m.partition.get(), &why));
  if (!took) return reject(why);
  if (type == kRefused) return ok();
  const std::string tenant = doc.value("tenantId", "");
  const std::int64_t seq = doc.value("steps", 0);
  NF_TRY(w.put("h/" + run_id + "/" + pad(seq, 12), step_json(env, seq).dump()));

  if (type == kRunStarted) {
    const std::string inv = pad(kMaxTime - env.occurred_at());
    NF_TRY(w.put("l/" + tenant + "/" + inv + "/" + run_id, ""));
    NF_TRY(w.put("lw/" + tenant + "/" + doc.value("workflowId", "") + "/" + inv + "/" + run_id, ""));
    for (auto it = doc["searchAttributes"].begin(); it != doc["searchAttributes"].end(); ++it)
      NF_TRY(w.put("a/" + tenant + "/" + it.key() + "=" + it.value().get<std::string>() + "/" + inv + "/" + run_id, ""));
    if (doc.contains("resetOf")) {
      const std::string okey = "r/" + doc["resetOf"].value("runId", "");
      NF_TRY_ASSIGN(auto orig, load(w, okey));
      if (orig) {
        (*orig)["resets"].push_back({{"runId", run_id}, {"node", doc["resetOf"].value("node", "")}});
        NF_TRY(w.put(okey, orig->dump()));
      }
    }
  } else if (type == kNodeWaiting) {
    events::NodeStep s;
    env.payload().UnpackTo(&s);
    const auto wait = parse_or(s.wait_json(), json::object());
    const auto topic = wait_topic(wait);
    if (!topic.empty())
      NF_TRY(w.put("we/" + topic + "/" + run_id + "/" + s.node(),
                   json{{"runId", run_id}, {"node", s.node()}, {"attempt", s.attempt()}, {"tenantId", tenant}, {"wait", wait}}.dump()));
  } else if (type == kTimerSet) {
    events::NodeStep s;
    env.payload().UnpackTo(&s);
    NF_TRY(w.put(timer_key(m.partition.get(), s.at(), run_id, s.node(), s.attempt(), s.timer()), ""));
  } else if (type == kTimerFired) {
    events::NodeStep s;
    env.payload().UnpackTo(&s);
    const auto& t = before["nodes"][s.node()]["timers"];
    if (t.is_object() && t.contains(s.timer()))
      NF_TRY(w.del(timer_key(m.partition.get(), t[s.timer()].value("at", std::int64_t{0}), run_id, s.node(), t[s.timer()].value("attempt", 1), s.timer())));
  } else if (type == kNodeCompleted || type == kNodeFailed) {
    events::NodeStep s;
    env.payload().UnpackTo(&s);
    // Timers the node still had are dropped with it.
    const auto& bn = before["nodes"][s.node()];
    if (bn.is_object() && bn.contains("timers"))
      for (auto it = bn["timers"].begin(); it != bn["timers"].end(); ++it)
        NF_TRY(w.del(timer_key(m.partition.get(), it.value().value("at", std::int64_t{0}), run_id, s.node(), it.value().value("attempt", 1), it.key())));
    if (bn.is_object() && bn.contains("wait") && !wait_topic(bn["wait"]).empty()) NF_TRY(w.del("we/" + wait_topic(bn["wait"]) + "/" + run_id + "/" + s.node()));
    if (!(type == kNodeFailed && s.will_retry()) && !doc["nodes"][s.node()].value("reused", false)) {
      const std::string mkey = "m/" + tenant + "/" + doc.value("workflowId", "") + "/" + s.node();
      NF_TRY_ASSIGN(auto mcur, load(w, mkey));
      json mdoc = mcur ? *mcur : json{{"executions", 0}, {"failures", 0}, {"durations", json::array()}};
      mdoc["executions"] = mdoc.value("executions", 0) + 1;
      if (type == kNodeFailed) mdoc["failures"] = mdoc.value("failures", 0) + 1;
      auto& d = mdoc["durations"];
      d.push_back(doc["nodes"][s.node()].value("durationMs", std::int64_t{0}));
      if (d.size() > kKeptDurations) d.erase(d.begin());
      NF_TRY(w.put(mkey, mdoc.dump()));
    }
  }
  if (run_ended(doc.value("status", "")) && before.is_object()) {
    // Every timer and event wait of an ended run is dropped.
    for (auto it = before["nodes"].begin(); it != before["nodes"].end(); ++it) {
      if (it.value().contains("wait") && !wait_topic(it.value()["wait"]).empty()) NF_TRY(w.del("we/" + wait_topic(it.value()["wait"]) + "/" + run_id + "/" + it.key()));
      if (it.value().contains("timers"))
        for (auto t = it.value()["timers"].begin(); t != it.value()["timers"].end(); ++t)
          NF_TRY(w.del(timer_key(m.partition.get(), t.value().value("at", std::int64_t{0}), run_id, it.key(), t.value().value("attempt", 1), t.key())));
    }
  }
  return w.put(rkey, doc.dump());
}

// ---------------- reads ----------------

namespace {
result<std::optional<json>> read_json(::nf::projection::store& store, const workflows_projection& proj, const std::string& key) {
  std::vector<std::string> keys{key};
  NF_TRY_ASSIGN(auto got, store.get_many(proj, keys));
  if (!got[0]) return std::optional<json>{};
  auto j = json::parse(*got[0], nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document '" + key + "' is not JSON"};
  return std::optional<json>{std::move(j)};
}
}  // namespace

result<std::optional<json>> workflows_view::definition(const std::string& tenant, const std::string& id, std::int64_t version) const {
  return read_json(store_, proj_, "d/" + tenant + "/" + id + "/" + pad(version, 12));
}

result<std::optional<std::int64_t>> workflows_view::latest_version(const std::string& tenant, const std::string& id) const {
  std::vector<std::string> keys{"dl/" + tenant + "/" + id};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{std::stoll(*got[0])};
}

result<std::int64_t> workflows_view::definition_stream_version(const std::string& tenant, const std::string& id) const {
  std::vector<std::string> keys{::nf::projection::key_version_key(kDefinitionsTopic, tenant + "/" + id)};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  return ::nf::projection::parse_key_version(got[0]);
}

result<std::vector<json>> workflows_view::definitions(const std::string& tenant) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("dl/" + tenant + "/", [&](std::string_view key, std::string_view value) {
    const std::string id(key.substr(4 + tenant.size()));
    out.push_back({{"workflowId", id}, {"latestVersion", std::stoll(std::string(value))}});
    return out.size() < 10'000;
  }));
  for (auto& w : out) {
    NF_TRY_ASSIGN(auto d, r->get("d/" + tenant + "/" + w["workflowId"].get<std::string>() + "/" + pad(w["latestVersion"].get<std::int64_t>(), 12)));
    if (!d) continue;
    auto j = json::parse(*d, nullptr, false);
    if (j.is_discarded()) continue;
    w["name"] = j["document"].value("name", "");
    w["definedAt"] = j.value("definedAt", std::int64_t{0});
  }
  return out;
}

result<std::optional<json>> workflows_view::run(const std::string& run_id) const { return read_json(store_, proj_, "r/" + run_id); }

result<std::vector<json>> workflows_view::history(const std::string& run_id, std::int64_t after, std::size_t limit) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  const std::string prefix = "h/" + run_id + "/";
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view value) {
    const auto seq = std::stoll(std::string(key.substr(prefix.size())));
    if (seq <= after) return true;
    auto j = json::parse(value, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return out.size() < limit;
  }));
  return out;
}

result<std::pair<std::vector<json>, std::string>> workflows_view::runs(const run_query& q) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::string prefix = "l/" + q.tenant + "/";
  if (!q.attributes.empty()) prefix = "a/" + q.tenant + "/" + q.attributes[0].first + "=" + q.attributes[0].second + "/";
  else if (!q.workflow.empty()) prefix = "lw/" + q.tenant + "/" + q.workflow + "/";
  std::vector<json> out;
  std::string next;
  bool past = q.after.empty();
  std::size_t scanned = 0;
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view) {
    const std::string rest(key.substr(prefix.size()));  // <inverted time>/<run id>
    if (!past) {
      past = rest == q.after;
      return true;
    }
    if (++scanned > 100'000) return false;
    const auto slash = rest.find('/');
    if (slash == std::string::npos) return true;
    const auto started = kMaxTime - std::stoll(rest.substr(0, slash));
    if (q.started_after && started <= q.started_after) return false;  // newest first: the rest are older
    auto d = r->get("r/" + rest.substr(slash + 1));
    if (!d || !*d) return true;
    auto j = json::parse(**d, nullptr, false);
    if (j.is_discarded()) return true;
    if (!q.workflow.empty() && j.value("workflowId", "") != q.workflow) return true;
    if (!q.status.empty() && j.value("status", "") != q.status) return true;
    for (const auto& [k, v] : q.attributes)
      if (!j["searchAttributes"].contains(k) || j["searchAttributes"][k] != v) return true;
    json brief{{"runId", j["runId"]}, {"workflowId", j["workflowId"]}, {"version", j["version"]}, {"status", j["status"]},
               {"startedAt", j["startedAt"]}, {"searchAttributes", j["searchAttributes"]}};
    if (j.contains("endedAt")) brief["endedAt"] = j["endedAt"];
    out.push_back(std::move(brief));
    if (out.size() >= q.limit) {
      next = rest;
      return false;
    }
    return true;
  }));
  return std::make_pair(std::move(out), next);
}

result<void> workflows_view::due_timers(std::int64_t partition, std::int64_t now_ms,
                                        const std::function<bool(const std::string&, const std::string&, int, const std::string&, std::int64_t)>& fn) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  const std::string prefix = "t/" + pad(partition, 5) + "/";
  return r->scan(prefix, [&](std::string_view key, std::string_view) {
    // <at>/<run>/<node>/<attempt>/<timer>
    const auto parts = split(key.substr(prefix.size()), '/');
    if (parts.size() != 5) return true;
    const auto at = std::stoll(std::string(parts[0]));
    if (at > now_ms) return false;
    return fn(std::string(parts[1]), std::string(parts[2]), std::stoi(std::string(parts[3])), std::string(parts[4]), at);
  });
}

result<void> workflows_view::due_schedules(std::int64_t partition, std::int64_t now_ms, const std::function<bool(const std::string&, std::int64_t)>& fn) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  const std::string prefix = "sd/" + pad(partition, 5) + "/";
  return r->scan(prefix, [&](std::string_view key, std::string_view) {
    const auto rest = key.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return true;
    const auto due = std::stoll(std::string(rest.substr(0, slash)));
    if (due > now_ms) return false;
    return fn(std::string(rest.substr(slash + 1)), due);
  });
}

result<bool> workflows_view::installed(const std::string& tenant, const std::string& agent) const {
  std::vector<std::string> keys{"ai/" + tenant + "/" + agent};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  return got[0].has_value();
}

result<std::optional<json>> workflows_view::slot(const std::string& slot_id) const { return read_json(store_, proj_, "sl/" + slot_id); }

result<std::optional<json>> workflows_view::schedule(const std::string& schedule_id) const { return read_json(store_, proj_, "s/" + schedule_id); }

result<std::vector<json>> workflows_view::schedules(const std::string& tenant, const std::string& workflow) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<std::string> ids;
  const std::string prefix = "sw/" + tenant + "/" + workflow + "/";
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(prefix.size()));
    return ids.size() < 10'000;
  }));
  std::vector<json> out;
  for (const auto& id : ids) {
    NF_TRY_ASSIGN(auto d, r->get("s/" + id));
    if (!d) continue;
    auto j = json::parse(*d, nullptr, false);
    if (!j.is_discarded() && !j.value("deleted", false)) out.push_back(std::move(j));
  }
  return out;
}

result<std::vector<json>> workflows_view::triggers() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("tr/", [&](std::string_view, std::string_view value) {
    auto j = json::parse(value, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return true;
  }));
  return out;
}

result<std::vector<json>> workflows_view::event_waits(const std::string& topic) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("we/" + topic + "/", [&](std::string_view, std::string_view value) {
    auto j = json::parse(value, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return out.size() < 100'000;
  }));
  return out;
}

result<std::optional<json>> workflows_view::tenant_template(const std::string& tenant, const std::string& name, std::int64_t version) const {
  std::int64_t v = version;
  if (!v) {
    std::vector<std::string> keys{"tpl/" + tenant + "/" + name};
    NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
    if (!got[0]) return std::optional<json>{};
    v = std::stoll(*got[0]);
  }
  NF_TRY_ASSIGN(auto d, read_json(store_, proj_, "tp/" + tenant + "/" + name + "/" + pad(v, 12)));
  if (!d) return d;
  return std::optional<json>((*d)["document"]);
}

result<std::vector<json>> workflows_view::tenant_templates(const std::string& tenant) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<std::pair<std::string, std::int64_t>> latest;
  const std::string prefix = "tpl/" + tenant + "/";
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view value) {
    latest.emplace_back(std::string(key.substr(prefix.size())), std::stoll(std::string(value)));
    return latest.size() < 10'000;
  }));
  std::vector<json> out;
  for (const auto& [name, v] : latest) {
    NF_TRY_ASSIGN(auto d, r->get("tp/" + tenant + "/" + name + "/" + pad(v, 12)));
    if (!d) continue;
    auto j = json::parse(*d, nullptr, false);
    if (!j.is_discarded() && j.contains("document")) out.push_back(std::move(j["document"]));
  }
  return out;
}

result<std::uint64_t> workflows_view::pending_timers() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::uint64_t n = 0;
  NF_TRY(r->scan("t/", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  return n;
}

result<json> workflows_view::metrics(const std::string& tenant, const std::string& workflow) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  json out = json::array();
  const std::string prefix = "m/" + tenant + "/" + workflow + "/";
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view value) {
    auto j = json::parse(value, nullptr, false);
    if (j.is_discarded()) return true;
    auto d = j.value("durations", std::vector<std::int64_t>{});
    std::sort(d.begin(), d.end());
    auto pct = [&](double p) -> std::int64_t {
      if (d.empty()) return 0;
      return d[static_cast<std::size_t>(p * static_cast<double>(d.size() - 1) + 0.5)];
    };
    out.push_back({{"node", std::string(key.substr(prefix.size()))}, {"executions", j.value("executions", 0)}, {"failures", j.value("failures", 0)},
                   {"p50Ms", pct(0.5)}, {"p95Ms", pct(0.95)}, {"sampled", d.size()}});
    return true;
  }));
  return out;
}

result<std::vector<json>> workflows_view::rejected(std::size_t limit) const { return ::nf::projection::read_rejected(store_, proj_, "x/", limit); }

}  // namespace nf::workflows
