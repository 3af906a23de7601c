#include "actors/workflows/engine.h"

#include <algorithm>

#include "actors/workflows/nodes.h"
#include "core/base/text.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "workflows.pb.h"

namespace nf::workflows {

using json = nlohmann::json;

namespace {

bool terminal(const std::string& s) { return s == "completed" || s == "skipped" || s == "failed"; }

std::string status_of(const json& doc, const std::string& node) {
  const auto& ns = doc["nodes"];
  auto it = ns.find(node);
  if (it == ns.end() || !it->is_object()) return "";
  return it->value("status", "");
}

void count(const char* name, const char* help, const std::string& outcome) {
  metrics::registry::global().get_counter(name, help, {{"outcome", outcome}}).inc();
}

}  // namespace

json run_scope(const json& doc) {
  json s{{"inputs", doc.value("inputs", json::object())}, {"vars", doc.value("vars", json::object())}, {"nodes", json::object()},
         {"run", {{"id", doc.value("runId", "")}, {"workflowId", doc.value("workflowId", "")}, {"version", doc.value("version", 0)}}}};
  for (auto it = s["inputs"].begin(); it != s["inputs"].end(); ++it) s[it.key()] = it.value();
  for (auto it = s["vars"].begin(); it != s["vars"].end(); ++it) s[it.key()] = it.value();
  if (doc.contains("nodes"))
    for (auto it = doc["nodes"].begin(); it != doc["nodes"].end(); ++it) {
      const auto st = it.value().value("status", "");
      if (st == "completed") s["nodes"][it.key()] = it.value().value("output", json::object());
      else if (st == "failed") s["nodes"][it.key()] = {{"error", it.value().value("error", json::object())}};
    }
  return s;
}

// ---------------- run_decider ----------------

json run_decider::scope() const { return run_scope(doc_); }

result<void> run_decider::advance() {
  const auto status = doc_.value("status", "");
  if (run_ended(status) || status == "paused" || status == "queued") return ok();
  json sc = scope();
  for (const auto& spec : def_.nodes) {
    if (run_ended(doc_.value("status", "")) || doc_.value("status", "") == "paused") return ok();
    const std::string st = status_of(doc_, spec.id);
    if (st == "scheduled") {
      NF_TRY(run_attempt(spec, 1, sc));
      continue;
    }
    if (st == "running") {  // a decision cut short (a crash): the same attempt again
      NF_TRY(run_attempt(spec, doc_["nodes"][spec.id].value("attempts", 1), sc));
      continue;
    }
    if (!st.empty()) continue;
    // Ready when everything it reads has ended.
    bool ready = true;
    std::string skip;
    for (const auto& a : spec.after) {
      const auto ast = status_of(doc_, a);
      if (!terminal(ast)) {
        ready = false;
        break;
      }
      if (ast == "failed" && skip.empty()) skip = "node '" + a + "' failed";
    }
    if (!ready) continue;
    if (!spec.handles.empty()) {
      const auto hst = status_of(doc_, spec.handles);
      if (!terminal(hst)) continue;
      if (hst != "failed") skip = "node '" + spec.handles + "' did not fail";
      else if (skip == "node '" + spec.handles + "' failed") skip.clear();  // that is what it handles
    }
    // A connection to a port that was not produced (a branch not taken, a skipped node) skips
    // the node; a join runs when at least one of its connections arrived.
    json inputs = json::object();
    std::size_t connections = 0, missing = 0;
    std::string missing_from;
    bool bad_input = false;
    if (skip.empty()) {
      for (const auto& [port, b] : spec.inputs) {
        if (b.k == binding::kind::connection) ++connections;
        auto v = resolve(b, sc);
        if (!v) {
          NF_TRY(emit_step(spec, kNodeScheduled, inputs));
          NF_TRY(emit_started(spec, 1));
          NF_TRY(on_failure(spec, 1, "input", "input '" + port + "': " + v.error().message, false));
          sc = scope();
          bad_input = true;
          break;
        }
        if (!*v) {
          ++missing;
          if (missing_from.empty()) missing_from = b.source;
          if (spec.type == "join") inputs[port] = nullptr;
          continue;
        }
        inputs[port] = std::move(**v);
      }
      if (bad_input) continue;
      if (missing && (spec.type != "join" || missing == connections)) skip = "'" + missing_from + "' was not produced";
    }
    if (!skip.empty()) {
      events::NodeStep s;
      s.set_run_id(doc_.value("runId", ""));
      s.set_node(spec.id);
      s.set_error_message(skip);
      NF_TRY(emit_(kNodeSkipped, s));
      count("nf_workflow_nodes_total", "Workflow node executions ended, by outcome", "skipped");
      continue;
    }
    {
      const auto mode = doc_.value("debug", "off");
      const bool breakpoint = mode == "step" || (mode == "breakpoints" && std::find(doc_["breakpoints"].begin(), doc_["breakpoints"].end(), spec.id) != doc_["breakpoints"].end());
      if (breakpoint && doc_.value("released", "") != spec.id) {
        events::NodeStep s;
        s.set_run_id(doc_.value("runId", ""));
        s.set_node(spec.id);
        s.set_inputs_json(inputs.dump());
        return emit_(kRunPaused, s);
      }
    }
    NF_TRY(emit_step(spec, kNodeScheduled, inputs));
    NF_TRY(run_attempt(spec, 1, sc));
  }
  return finish_if_done(sc);
}

result<void> run_decider::emit_step(const node_spec& spec, const char* type, const json& inputs) {
  events::NodeStep s;
  s.set_run_id(doc_.value("runId", ""));
  s.set_node(spec.id);
  s.set_inputs_json(inputs.dump(-1, ' ', false, json::error_handler_t::replace));
  return emit_(type, s);
}

result<void> run_decider::emit_started(const node_spec& spec, int attempt) {
  events::NodeStep s;
  s.set_run_id(doc_.value("runId", ""));
  s.set_node(spec.id);
  s.set_attempt(attempt);
  return emit_(kNodeStarted, s);
}

result<void> run_decider::run_attempt(const node_spec& spec, int attempt, json& sc) {
  const auto* type = node_registry::builtin().find(spec.type);
  if (!type) return on_failure(spec, attempt, "unknown_type", "unknown node type " + spec.type, false);
  {
    const auto& n = doc_["nodes"][spec.id];
    if (n.value("status", "") != "running" || n.value("attempts", 0) != attempt) NF_TRY(emit_started(spec, attempt));
  }
  const json inputs = doc_["nodes"][spec.id].value("inputs", json::object());
  const auto out = type->run(node_call{spec, inputs, sc, doc_.value("runId", ""), attempt, now_});
  switch (out.k) {
    case node_outcome::kind::completed:
      NF_TRY(complete(spec, attempt, out.output, out.vars, ""));
      sc["nodes"][spec.id] = out.output;
      for (auto it = out.vars.begin(); it != out.vars.end(); ++it) {
        sc["vars"][it.key()] = it.value();
        sc[it.key()] = it.value();
      }
      return ok();
    case node_outcome::kind::failed:
      NF_TRY(on_failure(spec, attempt, out.code, out.message, out.retryable));
      sc = scope();
      return ok();
    case node_outcome::kind::timer: {
      events::NodeStep s;
      s.set_run_id(doc_.value("runId", ""));
      s.set_node(spec.id);
      s.set_attempt(attempt);
      s.set_timer("delay");
      s.set_at(out.fire_at);
      s.set_output_json(out.output.dump(-1, ' ', false, json::error_handler_t::replace));
      return emit_(kTimerSet, s);
    }
    case node_outcome::kind::wait: {
      const auto kind = out.wait.value("kind", "");
      if (kind == "emit") {
        auto pos = fx_.emit_event(doc_, spec.id, out.wait);
        if (!pos) {
          NF_TRY(on_failure(spec, attempt, "emit", pos.error().message, pos.error().code != errc::permission_denied && pos.error().code != errc::invalid_argument));
          sc = scope();
          return ok();
        }
        NF_TRY(complete(spec, attempt, json{{"out", *pos}}, json::object(), ""));
        sc["nodes"][spec.id] = json{{"out", *pos}};
        return ok();
      }
      // What the wait needs from outside starts first: a wait that cannot start (an agent not
      // installed, a host off the allowlist) fails the node without ever showing it waiting.
      // Starting again after a crash is safe: children, missions and tasks have derived ids.
      if (kind != "approval") {
        auto started = fx_.start_wait(doc_, spec.id, attempt, out.wait);
        if (!started) {
          const auto code = started.error().code == errc::permission_denied ? std::string("forbidden")
                            : started.error().code == errc::unsupported      ? std::string("unavailable")
                                                                              : kind;
          NF_TRY(on_failure(spec, attempt, code, started.error().message,
                            started.error().code == errc::unavailable || started.error().code == errc::io_error || started.error().code == errc::timeout));
          sc = scope();
          return ok();
        }
      }
      events::NodeStep s;
      s.set_run_id(doc_.value("runId", ""));
      s.set_node(spec.id);
      s.set_attempt(attempt);
      s.set_wait_json(out.wait.dump(-1, ' ', false, json::error_handler_t::replace));
      NF_TRY(emit_(kNodeWaiting, s));
      if (spec.timeout_ms > 0) {
        events::NodeStep t;
        t.set_run_id(doc_.value("runId", ""));
        t.set_node(spec.id);
        t.set_attempt(attempt);
        t.set_timer("timeout");
        t.set_at(now_ + spec.timeout_ms);
        NF_TRY(emit_(kTimerSet, t));
      }
      return ok();
    }
  }
  return ok();
}

result<void> run_decider::complete(const node_spec& spec, int attempt, const json& output, const json& vars, const std::string& by) {
  events::NodeStep s;
  s.set_run_id(doc_.value("runId", ""));
  s.set_node(spec.id);
  s.set_attempt(attempt);
  s.set_output_json(output.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!vars.empty()) s.set_vars_json(vars.dump(-1, ' ', false, json::error_handler_t::replace));
  s.set_by(by);
  count("nf_workflow_nodes_total", "Workflow node executions ended, by outcome", "completed");
  return emit_(kNodeCompleted, s);
}

result<void> run_decider::on_failure(const node_spec& spec, int attempt, const std::string& code, const std::string& message, bool retryable) {
  const std::string run_id = doc_.value("runId", "");
  events::NodeStep s;
  s.set_run_id(run_id);
  s.set_node(spec.id);
  s.set_attempt(attempt);
  s.set_error_code(code);
  s.set_error_message(message);
  const auto& p = spec.retry;
  bool retry = retryable && p && attempt < p->max_attempts && std::find(p->non_retryable.begin(), p->non_retryable.end(), code) == p->non_retryable.end();
  std::int64_t at = 0;
  if (retry) {
    at = now_ + p->backoff_ms(attempt + 1, run_id + "/" + spec.id);
    const auto first = doc_["nodes"][spec.id].value("startedAt", now_);
    if (p->max_duration_ms > 0 && at - first > p->max_duration_ms) retry = false;
  }
  s.set_will_retry(retry);
  NF_TRY(emit_(kNodeFailed, s));
  if (retry) {
    events::NodeStep r;
    r.set_run_id(run_id);
    r.set_node(spec.id);
    r.set_attempt(attempt + 1);
    r.set_at(at);
    NF_TRY(emit_(kRetryScheduled, r));
    r.set_timer("retry");
    NF_TRY(emit_(kTimerSet, r));
    count("nf_workflow_nodes_total", "Workflow node executions ended, by outcome", "retried");
    return ok();
  }
  count("nf_workflow_nodes_total", "Workflow node executions ended, by outcome", "failed");
  if (spec.on_error == "continue") {
    json out = json::object();
    const auto* type = node_registry::builtin().find(spec.type);
    if (type)
      for (const auto& o : type->outputs(spec.config)) out[o.name] = nullptr;
    return complete(spec, attempt, out, json::object(), "");
  }
  if (spec.on_error == "fail") return end_run(kRunFailed, spec.id, code, message);
  return ok();  // its handler node runs next
}

result<void> run_decider::end_run(const char* type, const std::string& node, const std::string& code, const std::string& message) {
  events::RunEnded e;
  e.set_run_id(doc_.value("runId", ""));
  e.set_node(node);
  e.set_error_code(code);
  e.set_error_message(message);
  NF_TRY(emit_(type, e));
  count("nf_workflow_runs_total", "Workflow runs ended, by outcome", doc_.value("status", ""));
  if (doc_.contains("parent") || doc_.contains("scheduleId") || doc_.contains("slots")) fx_.notify_parent(doc_);
  return ok();
}

result<void> run_decider::finish_if_done(const json& sc) {
  if (run_ended(doc_.value("status", "")) || doc_.value("status", "") == "paused") return ok();
  for (const auto& spec : def_.nodes) {
    const auto st = status_of(doc_, spec.id);
    if (!terminal(st)) return ok();
    // A failed node whose handler has run is settled; one without a handler ended the run.
  }
  json outputs = json::object();
  for (const auto& [name, b] : def_.outputs) {
    auto v = resolve(b, sc);
    if (!v) return end_run(kRunFailed, "", "outputs", "output '" + name + "': " + v.error().message);
    outputs[name] = *v ? **v : json();
  }
  events::RunEnded e;
  e.set_run_id(doc_.value("runId", ""));
  e.set_outputs_json(outputs.dump(-1, ' ', false, json::error_handler_t::replace));
  NF_TRY(emit_(kRunCompleted, e));
  count("nf_workflow_runs_total", "Workflow runs ended, by outcome", "completed");
  if (doc_.contains("parent") || doc_.contains("scheduleId") || doc_.contains("slots")) fx_.notify_parent(doc_);
  return ok();
}

// A command handled again after a crash may find its own effect recorded and the decisions after
// it not: every path below ends in advance(), which does whatever is left (nothing, if nothing is).
result<void> run_decider::timer_due(const std::string& node, int attempt, const std::string& timer) {
  if (run_ended(doc_.value("status", ""))) return ok();
  const auto* spec = def_.node(node);
  if (!spec) return advance();
  const auto& n = doc_["nodes"][node];
  if (!n.is_object() || !n.contains("timers") || !n["timers"].contains(timer) || n["timers"][timer].value("attempt", 0) != attempt) return advance();
  const json pending = n.value("pendingOutput", json::object());
  const auto status = n.value("status", "");
  events::NodeStep f;
  f.set_run_id(doc_.value("runId", ""));
  f.set_node(node);
  f.set_attempt(attempt);
  f.set_timer(timer);
  f.set_at(n["timers"][timer].value("at", std::int64_t{0}));  // when it was due: how late it fired is in the log
  NF_TRY(emit_(kTimerFired, f));
  count("nf_workflow_timers_fired_total", "Workflow timers fired, by kind", timer);
  if (timer == "delay") {
    NF_TRY(complete(*spec, attempt, pending, json::object(), ""));
  } else if (timer == "retry") {
    json sc = scope();
    NF_TRY(run_attempt(*spec, attempt, sc));
  } else if (timer == "timeout" && status == "waiting") {
    NF_TRY(on_failure(*spec, attempt, "timeout", "no result within " + std::to_string(spec->timeout_ms) + " ms", true));
  }
  return advance();
}

result<void> run_decider::node_result(const std::string& node, int attempt, const json* output, const std::string& code, const std::string& message) {
  if (run_ended(doc_.value("status", ""))) return ok();
  const auto* spec = def_.node(node);
  if (!spec || status_of(doc_, node) != "waiting" || doc_["nodes"][node].value("attempts", 0) != attempt) return advance();  // late or repeated
  if (output) NF_TRY(complete(*spec, attempt, *output, json::object(), ""));
  else NF_TRY(on_failure(*spec, attempt, code, message, true));
  return advance();
}

result<void> run_decider::approve(const std::string& node, bool approved, const std::string& by, const std::string& comment) {
  if (run_ended(doc_.value("status", ""))) return error{errc::conflict, "run " + doc_.value("runId", "") + " has ended (" + doc_.value("status", "") + ")"};
  for (const auto& spec : def_.nodes) {
    if (!node.empty() && spec.id != node) continue;
    if (spec.type != "approval" || status_of(doc_, spec.id) != "waiting") continue;
    const auto& n = doc_["nodes"][spec.id];
    json out{{approved ? "approved" : "rejected", {{"value", n["wait"].value("value", json())}, {"by", by}, {"comment", comment}}}};
    NF_TRY(complete(spec, n.value("attempts", 1), out, json::object(), by));
    return advance();
  }
  NF_TRY(advance());
  return error{errc::conflict, node.empty() ? "no node of run " + doc_.value("runId", "") + " waits for an approval"
                                            : "node '" + node + "' does not wait for an approval"};
}

result<void> run_decider::cancel(const std::string& by, const std::string& reason) {
  if (run_ended(doc_.value("status", ""))) return error{errc::conflict, "run " + doc_.value("runId", "") + " has ended (" + doc_.value("status", "") + ")"};
  events::RunEnded e;
  e.set_run_id(doc_.value("runId", ""));
  e.set_by(by);
  e.set_reason(reason);
  NF_TRY(emit_(kRunCancelled, e));
  count("nf_workflow_runs_total", "Workflow runs ended, by outcome", "cancelled");
  if (doc_.contains("parent") || doc_.contains("scheduleId") || doc_.contains("slots")) fx_.notify_parent(doc_);
  return ok();
}

result<void> run_decider::resume(bool step) {
  if (doc_.value("status", "") != "paused") {
    NF_TRY(advance());
    return error{errc::conflict, "run " + doc_.value("runId", "") + " is not paused (" + doc_.value("status", "") + ")"};
  }
  events::NodeStep s;
  s.set_run_id(doc_.value("runId", ""));
  s.set_node(doc_.value("paused", ""));
  s.set_step(step);
  NF_TRY(emit_(kRunResumed, s));
  return advance();
}

// ---------------- definition_cache ----------------

compile_env definition_cache::env_for(const std::string& tenant) const {
  compile_env env;
  env.lookup = [view = view_, tenant](const std::string& id, std::int64_t version) -> std::optional<json> {
    std::int64_t v = version;
    if (!v) {
      auto latest = view.latest_version(tenant, id);
      if (!latest || !*latest) return std::nullopt;
      v = **latest;
    }
    auto d = view.definition(tenant, id, v);
    if (!d || !*d) return std::nullopt;
    return (**d)["document"];
  };
  return env;
}

result<std::shared_ptr<const definition>> definition_cache::get(const std::string& tenant, const std::string& id, std::int64_t version) {
  const std::string key = tenant + "/" + id + "/" + std::to_string(version);
  {
    std::lock_guard lk(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  NF_TRY_ASSIGN(auto d, view_.definition(tenant, id, version));
  if (!d) return error{errc::not_found, "workflow " + id + " version " + std::to_string(version) + " is not defined"};
  auto c = compile((*d)["document"], env_for(tenant));
  if (!c.def) return error{errc::invalid_argument, "workflow " + id + " version " + std::to_string(version) + " does not compile: " + to_string(c.problems.at(0))};
  std::lock_guard lk(mu_);
  if (cache_.size() > 10'000) cache_.clear();
  cache_[key] = c.def;
  return std::shared_ptr<const definition>(c.def);
}

void add_tenant_slot(events::RunStart& s, const std::string& tenant, std::optional<std::int64_t> limit) {
  if (!limit || *limit < 0) return;
  s.add_slots(std::string(kSlotPrefix) + "q-" + tenant);
  s.add_slot_limits(*limit);
}

}  // namespace nf::workflows
