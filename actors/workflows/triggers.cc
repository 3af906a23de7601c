#include "actors/workflows/triggers.h"

#include "actors/workflows/definition.h"
#include "actors/workflows/engine.h"
#include "core/base/sha256.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "workflows.pb.h"

namespace nf::workflows {

using json = nlohmann::json;

namespace {

bool truthy_filter(const std::string& text, const json& scope, std::string& why) {
  if (text.empty()) return true;
  auto e = expression::parse(text);
  if (!e) {
    why = e.error().message;
    return false;
  }
  auto v = e->eval(scope);
  if (!v) {
    why = v.error().message;
    return false;
  }
  return v->is_boolean() && v->get<bool>();
}

}  // namespace

result<void> event_watch::refresh() {
  const auto now = std::chrono::steady_clock::now();
  if (now - loaded_ < std::chrono::milliseconds(500)) return ok();
  NF_TRY_ASSIGN(triggers_, view_.triggers());
  loaded_ = now;
  return ok();
}

result<void> event_watch::handle(const bus::message& m, ::nf::actor::context& ctx) {
  auto env = event::from_message(m);
  if (!env) {
    metrics::registry::global().get_counter("nf_workflow_watch_skipped_total", "Records the event watch could not read as events").inc();
    return ok();
  }
  NF_TRY(refresh());
  const auto id = event::event_id::from_raw(env->id());
  const std::string event_id = id ? id->to_string() : std::string();
  auto payload = event::payload_json(*env);
  const json ev{{"id", event_id}, {"type", env->type()}, {"key", m.key}, {"topic", m.topic.get()}, {"tenant", env->tenant_id()},
                {"at", env->occurred_at()}, {"payload", payload ? *payload : json::object()}};
  const json scope{{"event", ev}};

  for (const auto& t : triggers_) {
    if (t.value("tenantId", "") != env->tenant_id()) continue;
    if (!bus::topic_matches(t.value("topic", ""), m.topic.get())) continue;
    if (!t.value("type", "").empty() && t.value("type", "") != env->type()) continue;
    std::string why;
    if (!truthy_filter(t.value("filter", ""), scope, why)) {
      if (!why.empty()) nf::log::get("workflows")->warn("trigger {}: the filter failed on event {}: {}", t.value("triggerId", ""), event_id, why);
      continue;
    }
    json inputs = json::object();
    bool bad = false;
    const json bindings = t.value("inputs", json::object());
    for (const auto& [k, b] : bindings.items()) {
      auto bind = make_binding(b);
      auto v = bind ? resolve(*bind, scope) : result<std::optional<json>>(bind.error());
      if (!v) {
        nf::log::get("workflows")->warn("trigger {}: input {} on event {}: {}", t.value("triggerId", ""), k, event_id, v.error().message);
        bad = true;
        break;
      }
      inputs[k] = *v ? **v : json();
    }
    if (bad) continue;
    events::RunStart s;
    s.set_run_id(event::derive_id(event::derive_id(event::event_id{}, t.value("triggerId", ""), 0), event_id, 0).to_string());
    s.set_workflow_id(t.value("workflowId", ""));
    std::int64_t v = t.value("version", std::int64_t{0});
    if (!v) {
      NF_TRY_ASSIGN(auto latest, view_.latest_version(env->tenant_id(), s.workflow_id()));
      v = latest.value_or(0);
    }
    s.set_version(v);
    s.set_inputs_json(inputs.dump());
    s.set_inputs_sha256(sha256_hex(s.inputs_json() + '\0' + std::to_string(v)));
    s.set_started_by("trigger:" + t.value("triggerId", ""));
    s.set_trigger_id(t.value("triggerId", ""));
    s.set_cause_event_id(event_id);
    (*s.mutable_search_attributes())["trigger"] = t.value("triggerId", "");
    if (t.contains("concurrentRuns") && t["concurrentRuns"].is_number_integer()) add_tenant_slot(s, env->tenant_id(), t["concurrentRuns"].get<std::int64_t>());
    event::new_event out;
    out.type = kRunRequested;
    out.key = s.run_id();
    out.tenant = env->tenant_id();
    out.message = &s;
    NF_TRY(ctx.emit(topic_name{kCommands}, std::move(out)));
    metrics::registry::global().get_counter("nf_workflow_triggered_total", "Runs asked for by triggers").inc();
  }

  NF_TRY_ASSIGN(auto waits, view_.event_waits(m.topic.get()));
  for (const auto& w : waits) {
    const auto& wait = w["wait"];
    const auto kind = wait.value("kind", "");
    if (kind == "mission" || kind == "agent") {
      // A mission's lifecycle or an agent's result names its wait by the id the node derived.
      const auto& p = ev["payload"];
      events::RunCommand rc;
      rc.set_run_id(w.value("runId", ""));
      rc.set_node(w.value("node", ""));
      rc.set_attempt(w.value("attempt", 1));
      if (kind == "mission") {
        if (!p.is_object() || p.value("missionId", "") != wait.value("missionId", "")) continue;
        if (env->type() == "mission.validated") rc.set_output_json(json{{"out", {{"missionId", p["missionId"]}, {"status", "validated"}}}}.dump());
        else if (env->type() == "mission.failed") {
          rc.set_error_code("mission_failed");
          rc.set_error_message("mission " + p["missionId"].get<std::string>() + " failed");
        } else {
          continue;
        }
      } else {
        if (!env->tenant_id().empty() && env->tenant_id() != w.value("tenantId", "")) continue;
        if (!p.is_object() || p.value("correlationId", "") != wait.value("correlationId", "")) continue;
        if (env->type() == "agent.task_completed") {
          rc.set_output_json(json{{"out", p.value("output", json())}}.dump(-1, ' ', false, json::error_handler_t::replace));
        } else if (env->type() == "agent.task_failed") {
          rc.set_error_code("agent_failed");
          rc.set_error_message(p.contains("error") ? p["error"].dump() : std::string("the agent reported a failure"));
        } else {
          continue;
        }
      }
      event::new_event out;
      out.type = kNodeResult;
      out.key = rc.run_id();
      out.tenant = w.value("tenantId", "");
      out.message = &rc;
      NF_TRY(ctx.emit(topic_name{kCommands}, std::move(out)));
      continue;
    }
    if (w.value("tenantId", "") != env->tenant_id()) continue;
    if (!wait.value("type", "").empty() && wait.value("type", "") != env->type()) continue;
    json wscope = scope;
    wscope["input"] = wait.value("input", json::object());
    std::string why;
    if (!truthy_filter(wait.value("filter", ""), wscope, why)) continue;
    if (wait.contains("correlation") && !wait["correlation"].is_null()) {
      const auto& want = wait["correlation"];
      const bool by_key = want.is_string() && want.get<std::string>() == m.key;
      const bool by_payload = ev["payload"].is_object() && ev["payload"].contains("correlationId") && ev["payload"]["correlationId"] == want;
      if (!by_key && !by_payload) continue;
    }
    events::RunCommand rc;
    rc.set_run_id(w.value("runId", ""));
    rc.set_node(w.value("node", ""));
    rc.set_attempt(w.value("attempt", 1));
    rc.set_output_json(json{{"event", ev}}.dump(-1, ' ', false, json::error_handler_t::replace));
    event::new_event out;
    out.type = kNodeResult;
    out.key = rc.run_id();
    out.tenant = env->tenant_id();
    out.message = &rc;
    NF_TRY(ctx.emit(topic_name{kCommands}, std::move(out)));
  }
  return ok();
}

}  // namespace nf::workflows
