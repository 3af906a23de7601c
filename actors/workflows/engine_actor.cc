// The engine actor: commands in, decided run steps out, as the fenced single writer of each
// workflow.runs partition it owns; and the effects waiting nodes ask for.
#include <thread>

#include "actors/workflows/cron.h"
#include "actors/workflows/engine.h"
#include "core/base/sha256.h"
#include "core/event/codec.h"
#include "core/http/client.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "missions.pb.h"
#include "workflows.pb.h"

namespace nf::workflows {

using json = nlohmann::json;

namespace {

json parse_or(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

// Appends a command for another aggregate (a child run, a parent, a schedule, a slot) to
// commands.workflows, caused by the message being handled.
result<void> send_command(::nf::actor::context& ctx, const char* type, const std::string& key, const std::string& tenant,
                          const google::protobuf::Message& msg) {
  event::new_event ev;
  ev.type = type;
  ev.key = key;
  ev.tenant = tenant;
  ev.message = &msg;
  NF_TRY(ctx.emit(topic_name{kCommands}, std::move(ev)));
  return ok();
}

// A child run's id: derived from the parent's run, node and attempt, so asking again after a
// crash names the same child.
std::string child_run_id(const std::string& parent, const std::string& node, int attempt) {
  auto p = event::event_id::parse(parent);
  const auto base = p ? *p : event::derive_id(event::event_id{}, parent, 0);
  return event::derive_id(base, "child:" + node, static_cast<std::uint64_t>(attempt)).to_string();
}

}  // namespace

engine::engine(command::single_writer& writer, workflows_view view, definition_cache& defs, bus::event_bus& bus, engine_options opts)
    : writer_(writer), view_(view), defs_(defs), bus_(bus), opts_(std::move(opts)) {}

engine::~engine() {
  {
    std::lock_guard lk(jobs_mu_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

// HTTP requests run on a few threads of the engine's own, never on the actor's strand.
void engine::post(std::function<void()> job) {
  std::lock_guard lk(jobs_mu_);
  jobs_.push_back(std::move(job));
  if (workers_.size() < 4 && jobs_.size() > workers_.size() - busy_) {
    workers_.emplace_back([this] {
      for (;;) {
        std::function<void()> j;
        {
          std::unique_lock lk2(jobs_mu_);
          jobs_cv_.wait(lk2, [this] { return stopping_ || !jobs_.empty(); });
          if (jobs_.empty()) return;
          j = std::move(jobs_.front());
          jobs_.pop_front();
          ++busy_;
        }
        j();
        std::lock_guard lk2(jobs_mu_);
        --busy_;
      }
    });
  }
  jobs_cv_.notify_one();
}

result<void> engine::flush() {
  auto r = writer_.flush();
  if (!r) on_restart();
  return r;
}

void engine::on_restart() {
  // Documents may hold events whose appends failed: read them again from the read model.
  std::lock_guard lk(mu_);
  runs_.clear();
  epochs_.clear();
}

void engine::evict_applied() {
  std::lock_guard lk(mu_);
  // Documents the read model shows as they are here are dropped; a sweep runs when the map has
  // doubled since the last one left it, so its cost per message stays constant.
  if (runs_.size() < evict_at_) return;
  for (auto it = runs_.begin(); it != runs_.end();) {
    const auto& c = it->second;
    const bool settled = c.in_flight == 0 && (c.last_offset < 0 || writer_.applied({topic_name{kRunsTopic}, partition_id{c.partition}}, offset{c.last_offset}));
    it = settled ? runs_.erase(it) : std::next(it);
  }
  evict_at_ = std::max<std::size_t>(1024, runs_.size() * 2);
}

result<engine::cached*> engine::load(const std::string& run_id, std::int32_t partition) {
  {
    std::lock_guard lk(mu_);
    auto it = runs_.find(run_id);
    if (it != runs_.end()) return &it->second;
  }
  const bool schedule = run_id.rfind(kSchedulePrefix, 0) == 0;
  const bool slot = run_id.rfind(kSlotPrefix, 0) == 0;
  NF_TRY_ASSIGN(auto doc, schedule ? view_.schedule(run_id) : slot ? view_.slot(run_id) : view_.run(run_id));
  std::lock_guard lk(mu_);
  auto& c = runs_[run_id];
  c.doc = doc ? std::move(*doc) : json();
  c.partition = partition;
  return &c;
}

result<void> engine::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto cmd, event::from_message(m));
  const std::string& type = cmd.type();
  const std::string run_id = m.key;
  if (run_id.empty()) return error{errc::invalid_argument, type + " at " + to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get()) + " has no run id key"};

  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{kRunsTopic}, /*knows_own_outcomes=*/true);
  if (!epoch && epoch.error().code == errc::conflict) return ok();  // another instance owns it now
  NF_TRY(epoch);
  const std::int32_t p = m.partition.get();
  {
    std::lock_guard lk(mu_);
    auto e = epochs_.find(p);
    if (e == epochs_.end() || e->second != *epoch) {
      // A new claim: what this instance remembered of the partition may be stale.
      for (auto it = runs_.begin(); it != runs_.end();) it = it->second.partition == p ? runs_.erase(it) : std::next(it);
      epochs_[p] = *epoch;
    }
  }
  evict_applied();
  NF_TRY_ASSIGN(cached * c, load(run_id, p));
  ctx_ = &ctx;
  struct reset_ctx {
    ::nf::actor::context** p;
    ~reset_ctx() { *p = nullptr; }
  } guard{&ctx_};

  const topic_partition out{topic_name{kRunsTopic}, m.partition};
  std::string tenant = c->doc.is_object() ? c->doc.value("tenantId", "") : cmd.tenant_id();
  auto emit = [&](const char* t, const google::protobuf::Message& msg) -> result<void> {
    event::new_event ev;
    ev.type = t;
    ev.key = run_id;
    ev.tenant = tenant;
    ev.message = &msg;
    NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
    std::string why;
    NF_TRY_ASSIGN(bool took, is_schedule_event(t) ? fold_schedule(c->doc, env, p, &why)
                             : is_slot_event(t)   ? fold_slot(c->doc, env, &why)
                                                  : fold_run(c->doc, env, p, &why));
    if (std::string_view(t) == kTimerSet) {
      const auto& step = static_cast<const events::NodeStep&>(msg);
      std::lock_guard lk(timers_mu_);
      timers_[p].due.insert({step.at(), timer_ref{run_id, step.node(), step.timer(), step.attempt()}});
    }
    if (!took) return error{errc::internal, "the engine decided " + std::string(t) + ", which the run's fold refuses: " + why};
    // The aggregate's n-th event gets an id derived from its key and n, not from the command and
    // the count of outputs so far: a command handled again after a crash decides from the state
    // and emits only what is left, which must not reuse the ids of what the first handling wrote.
    if (std::string_view(t) != kRefused)
      env.set_id(event::derive_id(event::derive_id(event::event_id{}, run_id, 0), "step", static_cast<std::uint64_t>(c->doc.value("steps", std::int64_t{0}))).raw());
    {
      std::lock_guard lk(mu_);
      ++c->in_flight;
    }
    writer_.append_async(out, *epoch, env, [this, run_id](const result<bus::append_result>& r) {
      std::lock_guard lk(mu_);
      auto it = runs_.find(run_id);
      if (it == runs_.end()) return;
      if (it->second.in_flight) --it->second.in_flight;
      if (r) it->second.last_offset = std::max(it->second.last_offset, r->off.get());
    });
    return ok();
  };
  auto refuse = [&](const char* code, const std::string& message) -> result<void> {
    events::RunRefused r;
    r.set_run_id(run_id);
    r.set_command(type);
    r.set_code(code);
    r.set_message(message);
    return emit(kRefused, r);
  };

  if (run_id.rfind(kSchedulePrefix, 0) == 0) return handle_schedule(cmd, *c, ctx, emit, refuse);
  if (run_id.rfind(kSlotPrefix, 0) == 0) return handle_slot(cmd, *c, ctx, emit);

  if (type == kRunRequested) {
    events::RunStart s;
    if (!cmd.payload().UnpackTo(&s) || s.run_id() != run_id || s.workflow_id().empty())
      return error{errc::invalid_argument, "workflow.run_requested for " + run_id + " does not carry a RunStart with that run id"};
    if (c->doc.is_object()) {
      const auto& d = c->doc;
      const bool same = d.value("inputsSha256", "") == s.inputs_sha256() && d.value("workflowId", "") == s.workflow_id() && d.value("tenantId", "") == cmd.tenant_id();
      // A child asked for again (its parent's engine restarted): tell the parent again if it ended.
      if (same && run_ended(d.value("status", "")) && d.contains("parent")) notify_parent(d);
      NF_TRY(refuse(same ? "repeat" : "conflict", same ? "run " + run_id + " exists with the same inputs" : "run " + run_id + " exists with other inputs"));
      // The start may have been written and what followed it not (a crash): go on from there.
      if (d.value("status", "") == "queued") {
        // Ask again for the slots it still waits for (a slot answers a request it knows again).
        const auto slots = d.value("slots", json::array());
        const auto limits = d.value("slotLimits", json::array());
        for (std::size_t i = 0; i < slots.size(); ++i) {
          bool waiting = false;
          for (const auto& w : d["waitingSlots"]) waiting = waiting || w == slots[i];
          if (!waiting) continue;
          events::SlotStep req;
          req.set_slot_id(slots[i].get<std::string>());
          req.set_run_id(run_id);
          req.set_limit(i < limits.size() ? limits[i].get<std::int64_t>() : 1);
          NF_TRY(send_command(ctx, kSlotRequested, req.slot_id(), cmd.tenant_id(), req));
        }
        return ok();
      }
      if (!run_ended(d.value("status", ""))) {
        auto def = defs_.get(d.value("tenantId", ""), d.value("workflowId", ""), d.value("version", std::int64_t{0}));
        if (!def) return std::move(def).error();
        run_decider dd(**def, c->doc, ctx.clock().now_ms(), emit, *this);
        return dd.advance();
      }
      return ok();
    }
    // A refused start of a scheduled run still ends that run for its schedule.
    auto refuse_start = [&](const char* code, const std::string& message) -> result<void> {
      NF_TRY(refuse(code, message));
      if (!s.schedule_id().empty()) notify_parent(json{{"runId", run_id}, {"tenantId", cmd.tenant_id()}, {"scheduleId", s.schedule_id()}, {"status", "refused"}});
      return ok();
    };
    auto def = defs_.get(cmd.tenant_id(), s.workflow_id(), s.version());
    if (!def) {
      if (def.error().code == errc::not_found || def.error().code == errc::invalid_argument) return refuse_start("not_found", def.error().message);
      return std::move(def).error();
    }
    // Inputs from outside the routes (a schedule, a trigger) are checked here as the route does.
    const auto inputs = json::parse(s.inputs_json(), nullptr, false);
    if (!inputs.is_object()) return refuse_start("invalid_inputs", "the inputs are not a JSON object");
    for (const auto& [name, t] : (*def)->inputs)
      if (!inputs.contains(name) || !has_type(inputs[name], t))
        return refuse_start("invalid_inputs", "input '" + name + "' is " + (inputs.contains(name) ? std::string("not ") + to_string(t) : std::string("missing")));
    s.set_variables_json((*def)->variables.dump());
    // A definition's concurrency key: one more slot, named by the key's value for these inputs.
    if ((*def)->concurrency_key) {
      const auto key = resolve(*(*def)->concurrency_key, run_scope(json{{"inputs", inputs}, {"runId", run_id}}));
      if (!key) return refuse_start("invalid_inputs", "concurrency key: " + key.error().message);
      const auto text = *key ? template_text(**key) : std::string();
      s.add_slots(std::string(kSlotPrefix) + "k-" + cmd.tenant_id() + "-" + s.workflow_id() + "-" + sha256_hex(text).substr(0, 32));
      s.add_slot_limits((*def)->concurrency_limit);
    }
    NF_TRY(emit(kRunStarted, s));
    if (s.slots_size() > 0) {
      // Queued until every slot is granted (workflow.admit_run).
      for (int i = 0; i < s.slots_size(); ++i) {
        events::SlotStep req;
        req.set_slot_id(s.slots(i));
        req.set_run_id(run_id);
        req.set_limit(i < s.slot_limits_size() ? s.slot_limits(i) : 1);
        NF_TRY(send_command(ctx, kSlotRequested, req.slot_id(), cmd.tenant_id(), req));
      }
      return ok();
    }
    metrics::registry::global().get_counter("nf_workflow_runs_started_total", "Workflow runs started").inc();
    run_decider d(**def, c->doc, ctx.clock().now_ms(), emit, *this);
    return d.advance();
  }

  if (type == kAdmitRun) {
    events::SlotStep adm;
    if (!cmd.payload().UnpackTo(&adm)) return error{errc::invalid_argument, "workflow.admit_run without a SlotStep"};
    if (!c->doc.is_object() || run_ended(c->doc.value("status", ""))) return ok();  // it ended: its release frees the slot
    bool waiting = false;
    for (const auto& w : c->doc.value("waitingSlots", json::array())) waiting = waiting || w == adm.slot_id();
    auto def = defs_.get(tenant, c->doc.value("workflowId", ""), c->doc.value("version", std::int64_t{0}));
    if (!def) return std::move(def).error();
    if (waiting) {
      events::NodeStep st;
      st.set_run_id(run_id);
      st.set_node(adm.slot_id());
      NF_TRY(emit(kRunAdmitted, st));
    }
    // Admitted before (this command handled again after a crash): what followed may be missing.
    run_decider d(**def, c->doc, ctx.clock().now_ms(), emit, *this);
    return d.advance();
  }
  events::RunCommand rc;
  if (!cmd.payload().UnpackTo(&rc)) return error{errc::invalid_argument, type + " for " + run_id + " does not carry a RunCommand"};
  const bool from_user = type == kCancelRequested || type == kApprovalGiven || type == kStepRequested || type == kContinueRequested;
  if (!c->doc.is_object()) {
    if (from_user) return refuse("not_found", "no run " + run_id);
    return ok();
  }
  auto def = defs_.get(tenant, c->doc.value("workflowId", ""), c->doc.value("version", std::int64_t{0}));
  if (!def) return std::move(def).error();  // the definitions read model is behind: tried again
  run_decider d(**def, c->doc, ctx.clock().now_ms(), emit, *this);
  auto answer = [&](result<void> r, const char* code) -> result<void> {
    if (!r && r.error().code == errc::conflict) return refuse(code, r.error().message);
    return r;
  };
  if (type == kCancelRequested) return answer(d.cancel(rc.by(), rc.reason()), "wrong_state");
  if (type == kApprovalGiven) return answer(d.approve(rc.node(), rc.approved(), rc.by(), rc.comment()), "not_waiting");
  if (type == kStepRequested) return answer(d.resume(true), "wrong_state");
  if (type == kContinueRequested) return answer(d.resume(false), "wrong_state");
  if (type == kTimerDue) return d.timer_due(rc.node(), rc.attempt(), rc.timer());
  if (type == kNodeResult) {
    if (rc.error_code().empty()) {
      const auto output = parse_or(rc.output_json(), json::object());
      return d.node_result(rc.node(), rc.attempt(), &output, "", "");
    }
    return d.node_result(rc.node(), rc.attempt(), nullptr, rc.error_code(), rc.error_message());
  }
  return ok();  // not a command of this engine
}

int engine::priority(const bus::message& m) const {
  for (const auto& h : m.headers)
    if (h.name == event::kTypeHeader) return h.value == kTimerDue || h.value == kScheduleDue ? 1 : 0;
  return 0;
}

result<void> engine::tick(::nf::actor::context& ctx) {
  if (!partitions_) {
    auto info = bus_.describe_topic(topic_name{kCommands});
    if (!info) return ok();
    partitions_ = info->config.partitions;
  }
  const auto now = ctx.clock().now_ms();
  const auto steady = std::chrono::steady_clock::now();
  std::size_t asked = 0;
  // The due commands of one tick go to the bus in one append (one group commit).
  std::vector<bus::record> batch;
  std::vector<std::string> keys;
  auto add = [&](const char* type, const std::string& key, const google::protobuf::Message& msg, const std::string& asked_key) {
    event::new_event ev;
    ev.type = type;
    ev.key = key;
    ev.message = &msg;
    ev.occurred_at = now;
    auto env = event::build(ev, msg);
    if (!env) {
      nf::log::get("workflows")->error("{} for {} cannot be built: {}", type, key, env.error().message);
      return;
    }
    batch.push_back(event::to_record(*env));
    keys.push_back(asked_key);
  };
  for (std::int32_t p = 0; p < partitions_; ++p) {
    if (!ctx.owns({topic_name{kCommands}, partition_id{p}})) {
      std::lock_guard lk(timers_mu_);
      timers_.erase(p);
      continue;
    }
    std::vector<std::pair<std::int64_t, timer_ref>> found;
    bool reload = false;
    {
      std::lock_guard lk(timers_mu_);
      auto& pt = timers_[p];
      // Once on gaining the partition, once more a little later (for timers its last owner set
      // that the read model had not applied yet), then now and then as a safety net.
      reload = !pt.ever_loaded || (pt.loads < 2 && steady - pt.loaded > std::chrono::seconds(2)) || steady - pt.loaded > std::chrono::seconds(60);
    }
    if (reload) {
      NF_TRY(view_.due_timers(p, INT64_MAX, [&](const std::string& run, const std::string& node, int attempt, const std::string& timer, std::int64_t at) {
        found.push_back({at, timer_ref{run, node, timer, attempt}});
        return true;
      }));
    }
    std::vector<std::pair<std::int64_t, timer_ref>> due_now;
    {
      std::lock_guard lk(timers_mu_);
      auto& pt = timers_[p];
      if (reload) {
        for (auto& f : found) pt.due.insert(std::move(f));
        pt.loaded = steady;
        pt.ever_loaded = true;
        ++pt.loads;
      }
      while (!pt.due.empty() && pt.due.begin()->first <= now && asked < 20'000) {
        due_now.push_back(*pt.due.begin());
        pt.due.erase(pt.due.begin());
        ++asked;
      }
    }
    for (const auto& [at, t] : due_now) {
      const std::string key = t.run + "/" + t.node + "/" + std::to_string(t.attempt) + "/" + t.timer;
      auto it = asked_.find(key);
      if (it != asked_.end() && steady - it->second < opts_.timer_retry) continue;
      events::RunCommand rc;
      rc.set_run_id(t.run);
      rc.set_node(t.node);
      rc.set_attempt(t.attempt);
      rc.set_timer(t.timer);
      add(kTimerDue, t.run, rc, key);
      metrics::registry::global().get_gauge("nf_workflow_timer_lag_ms", "How late the last due timer was asked for, in ms").set(static_cast<double>(now - at));
    }
    NF_TRY(view_.due_schedules(p, now, [&](const std::string& sid, std::int64_t due) {
      const std::string key = sid + "@" + std::to_string(due);
      auto it = asked_.find(key);
      if (it != asked_.end() && steady - it->second < opts_.timer_retry) return true;
      events::ScheduleStep st;
      st.set_schedule_id(sid);
      st.set_due(due);
      add(kScheduleDue, sid, st, key);
      metrics::registry::global().get_gauge("nf_workflow_schedule_lag_ms", "How late the last due schedule was asked for, in ms").set(static_cast<double>(now - due));
      return ++asked < 20'000;
    }));
  }
  if (!batch.empty()) {
    auto r = bus_.append(topic_name{kCommands}, batch);
    if (!r) {
      nf::log::get("workflows")->warn("{} due timers and schedules could not be asked for: {}", batch.size(), r.error().message);
    } else {
      for (const auto& k : keys) asked_[k] = steady;
    }
  }
  if (asked_.size() > 100'000 || (asked == 0 && !asked_.empty())) {
    for (auto it = asked_.begin(); it != asked_.end();) it = steady - it->second > opts_.timer_retry * 4 ? asked_.erase(it) : std::next(it);
  }
  return ok();
}

// ---------------- concurrency slots ----------------

result<void> engine::handle_slot(const events::Envelope& cmd, cached& c, ::nf::actor::context& ctx, const emit_fn& emit) {
  events::SlotStep s;
  if (!cmd.payload().UnpackTo(&s) || s.run_id().empty()) return error{errc::invalid_argument, cmd.type() + " without a SlotStep"};
  auto admit = [&](const std::string& run) -> result<void> {
    events::SlotStep a;
    a.set_slot_id(s.slot_id());
    a.set_run_id(run);
    NF_TRY(send_command(ctx, kAdmitRun, run, cmd.tenant_id(), a));
    return ok();
  };
  auto holds = [&](const char* list, const std::string& run) {
    if (!c.doc.is_object()) return false;
    for (const auto& r : c.doc.value(list, json::array()))
      if (r == run) return true;
    return false;
  };
  if (cmd.type() == kSlotRequested) {
    if (holds("holders", s.run_id())) return admit(s.run_id());  // asked again: answered again
    if (holds("queue", s.run_id())) return ok();
    const auto held = c.doc.is_object() ? c.doc["holders"].size() : 0;
    if (static_cast<std::int64_t>(held) < s.limit()) {
      NF_TRY(emit(kSlotGranted, s));
      return admit(s.run_id());
    }
    metrics::registry::global().get_counter("nf_workflow_runs_queued_total", "Workflow runs that waited for a concurrency slot").inc();
    return emit(kSlotQueued, s);
  }
  if (cmd.type() != kSlotReleased) return ok();
  if (!holds("holders", s.run_id()) && !holds("queue", s.run_id())) return ok();
  events::SlotStep freed;
  freed.set_slot_id(s.slot_id());
  freed.set_run_id(s.run_id());
  NF_TRY(emit(kSlotFreed, freed));
  const auto limit = c.doc.value("limit", std::int64_t{1});
  while (!c.doc["queue"].empty() && static_cast<std::int64_t>(c.doc["holders"].size()) < limit) {
    events::SlotStep next;
    next.set_slot_id(s.slot_id());
    next.set_run_id(c.doc["queue"][0].get<std::string>());
    NF_TRY(emit(kSlotGranted, next));
    NF_TRY(admit(next.run_id()));
  }
  return ok();
}

// ---------------- schedules ----------------

result<void> engine::handle_schedule(const events::Envelope& cmd, cached& c, ::nf::actor::context& ctx, const emit_fn& emit,
                                     const std::function<result<void>(const char*, const std::string&)>& refuse) {
  const std::string& type = cmd.type();
  const auto now = ctx.clock().now_ms();
  if (type == kScheduleRequested) {
    events::ScheduleSpec s;
    if (!cmd.payload().UnpackTo(&s) || s.schedule_id().empty()) return error{errc::invalid_argument, "workflow.schedule_requested without a ScheduleSpec"};
    if (c.doc.is_object()) return refuse("repeat", "schedule " + s.schedule_id() + " exists");
    auto cron = parse_cron(s.cron());
    if (!cron) return refuse("invalid", cron.error().message);
    const auto next = next_fire(*cron, now);
    s.set_next_due(next ? *next : 0);
    return emit(kScheduleCreated, s);
  }
  events::ScheduleStep step;
  if (!cmd.payload().UnpackTo(&step)) return error{errc::invalid_argument, type + " without a ScheduleStep"};
  if (type == kScheduleDeleteRequested) {
    if (!c.doc.is_object() || c.doc.value("deleted", false)) return refuse("not_found", "no schedule " + step.schedule_id());
    return emit(kScheduleDeleted, step);
  }
  if (!c.doc.is_object() || c.doc.value("deleted", false)) return ok();
  const std::string sid = c.doc.value("scheduleId", "");
  const std::string tenant = c.doc.value("tenantId", "");
  auto cron = parse_cron(c.doc.value("cron", ""));
  if (!cron) return error{errc::corruption, "schedule " + sid + " holds a cron that does not parse: " + cron.error().message};

  // Starts a run for fire time `t`, as the overlap policy says; every event carries `next_due`.
  auto fire = [&](std::int64_t t, std::int64_t next_due) -> result<void> {
    events::ScheduleStep out;
    out.set_schedule_id(sid);
    out.set_due(t);
    out.set_next_due(next_due);
    const auto overlap = c.doc.value("overlap", "skip");
    const auto& active = c.doc["active"];
    if (!active.empty() && overlap == "skip") {
      out.set_reason("overlap");
      return emit(kScheduleSkipped, out);
    }
    if (!active.empty() && overlap == "buffer_one") return emit(kScheduleBuffered, out);
    if (overlap == "cancel_other")
      for (const auto& r : active) {
        events::RunCommand rc;
        rc.set_run_id(r.get<std::string>());
        rc.set_by("schedule:" + sid);
        rc.set_reason("a newer run of schedule " + sid + " started (overlap cancel_other)");
        NF_TRY(send_command(ctx, kCancelRequested, rc.run_id(), tenant, rc));
      }
    const auto run_id = event::derive_id(event::derive_id(event::event_id{}, sid, 0), "fire", static_cast<std::uint64_t>(t)).to_string();
    out.set_run_id(run_id);
    NF_TRY(emit(kScheduleFired, out));
    std::int64_t version = c.doc.value("version", std::int64_t{0});
    if (!version) {
      NF_TRY_ASSIGN(auto latest, view_.latest_version(tenant, c.doc.value("workflowId", "")));
      version = latest.value_or(0);
    }
    events::RunStart s;
    s.set_run_id(run_id);
    s.set_workflow_id(c.doc.value("workflowId", ""));
    s.set_version(version);
    s.set_inputs_json(c.doc.value("inputs", json::object()).dump());
    s.set_inputs_sha256(sha256_hex(s.inputs_json() + '\0' + std::to_string(version)));
    s.set_started_by("schedule:" + sid);
    s.set_schedule_id(sid);
    (*s.mutable_search_attributes())["schedule"] = sid;
    if (c.doc.contains("concurrentRuns") && c.doc["concurrentRuns"].is_number_integer()) add_tenant_slot(s, tenant, c.doc["concurrentRuns"].get<std::int64_t>());
    NF_TRY(send_command(ctx, kRunRequested, run_id, tenant, s));
    return ok();
  };

  if (type == kScheduleRunDone) {
    bool known = false;
    for (const auto& r : c.doc["active"]) known = known || r == step.run_id();
    if (!known) return ok();
    events::ScheduleStep ended;
    ended.set_schedule_id(sid);
    ended.set_run_id(step.run_id());
    ended.set_reason(step.reason());
    NF_TRY(emit(kScheduleRunEnded, ended));
    if (c.doc.contains("buffered") && c.doc["active"].empty()) return fire(c.doc["buffered"].get<std::int64_t>(), c.doc.value("nextDue", std::int64_t{0}));
    return ok();
  }
  if (type != kScheduleDue) return ok();
  if (c.doc.value("nextDue", std::int64_t{0}) != step.due()) return ok();  // asked again, or already past: once per due time
  // Every fire time from this one up to now: more than one, or one long past, is a catch-up.
  std::vector<std::int64_t> times{step.due()};
  while (times.size() < 100'000) {
    auto n = next_fire(*cron, times.back());
    if (!n || *n > now) break;
    times.push_back(*n);
  }
  const auto after = next_fire(*cron, std::max(now, times.back()));
  const std::int64_t next_due = after ? *after : 0;
  std::vector<std::int64_t> to_fire;
  std::int64_t missed = 0;
  if (times.size() == 1 && now - times[0] <= kLateFireMs) {
    to_fire = times;
  } else {
    const auto catchup = c.doc.value("catchup", "latest");
    const auto window = c.doc.value("catchupWindowMs", std::int64_t{0});
    for (auto t : times) {
      const bool in_window = window <= 0 || now - t <= window;
      if (catchup == "all" && in_window) to_fire.push_back(t);
      else ++missed;
    }
    if (catchup == "latest" && (window <= 0 || now - times.back() <= window)) {
      to_fire = {times.back()};
      missed = static_cast<std::int64_t>(times.size()) - 1;
    }
  }
  if (missed > 0) {
    events::ScheduleStep skip;
    skip.set_schedule_id(sid);
    skip.set_due(times.front());
    skip.set_missed(missed);
    skip.set_reason("missed");
    skip.set_next_due(next_due);
    NF_TRY(emit(kScheduleSkipped, skip));
  }
  for (auto t : to_fire) NF_TRY(fire(t, next_due));
  return ok();
}

// ---------------- effects ----------------

result<json> engine::emit_event(const json& doc, const std::string& node, const json& wait) {
  const auto topic = wait.value("topic", "");
  bool allowed = false;
  for (const auto& pat : opts_.emit_topics) {
    if (!pat.empty() && pat.back() == '*' ? topic.compare(0, pat.size() - 1, pat, 0, pat.size() - 1) == 0 : pat == topic) allowed = true;
  }
  if (!allowed) return error{errc::permission_denied, "node '" + node + "' may not write topic '" + topic + "' (workflows.emit_topics)"};
  if (!ctx_) return error{errc::internal, "emit_event outside a command"};
  event::new_event ev;
  ev.type = wait.value("type", "");
  ev.key = wait["key"].is_string() ? wait["key"].get<std::string>() : wait["key"].dump();
  ev.tenant = doc.value("tenantId", "");
  ev.payload_json = wait.value("payload", json::object()).dump();
  ev.headers["nf-workflow-run"] = doc.value("runId", "");
  NF_TRY_ASSIGN(auto env, ctx_->caused(std::move(ev)));
  const auto rec = event::to_record(env);
  NF_TRY_ASSIGN(auto pos, bus_.append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
  const auto id = event::event_id::from_raw(env.id());
  return json{{"eventId", id ? id->to_string() : ""}, {"topic", topic}, {"partition", pos.at(0).partition.get()}, {"offset", pos.at(0).off.get()}};
}

result<void> engine::start_wait(const json& doc, const std::string& node, int attempt, const json& wait) {
  const auto kind = wait.value("kind", "");
  const std::string run_id = doc.value("runId", "");
  if (kind == "child") {
    if (!ctx_) return error{errc::internal, "a child run outside a command"};
    events::RunStart s;
    s.set_run_id(child_run_id(run_id, node, attempt));
    s.set_workflow_id(wait.value("workflow", ""));
    std::int64_t v = wait.value("version", std::int64_t{0});
    if (!v) {
      NF_TRY_ASSIGN(auto latest, view_.latest_version(doc.value("tenantId", ""), s.workflow_id()));
      if (!latest) return error{errc::invalid_argument, "sub-workflow " + s.workflow_id() + " is not defined"};
      v = *latest;
    }
    s.set_version(v);
    const auto inputs = wait.value("inputs", json::object()).dump();
    s.set_inputs_json(inputs);
    s.set_inputs_sha256(sha256_hex(inputs));
    s.set_parent_run_id(run_id);
    s.set_parent_node(node);
    s.set_parent_attempt(attempt);
    s.set_started_by(doc.value("startedBy", ""));
    NF_TRY(send_command(*ctx_, kRunRequested, s.run_id(), doc.value("tenantId", ""), s));
    return ok();
  }
  if (kind == "http") {
    const auto url = wait.value("url", json("")).is_string() ? wait["url"].get<std::string>() : std::string();
    // http://host[:port]/path, and the host (with its port) on the allowlist.
    if (url.rfind("http://", 0) != 0) return error{errc::invalid_argument, "node '" + node + "': only http:// URLs are sent, not '" + url + "'"};
    const auto slash = url.find('/', 7);
    const std::string hostport = url.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
    const std::string host = hostport.substr(0, hostport.find(':'));
    bool allowed = false;
    for (const auto& a : opts_.http_allow) allowed = allowed || a == hostport || a == host;
    if (!allowed) return error{errc::permission_denied, "node '" + node + "': host '" + hostport + "' is not on workflows.http_allow"};
    const std::string target = slash == std::string::npos ? "/" : url.substr(slash);
    const std::string method = wait.value("method", "GET");
    const std::string body = wait.contains("body") ? wait["body"].dump() : std::string();
    const std::string tenant = doc.value("tenantId", "");
    post([this, run_id, node, attempt, hostport, target, method, body, tenant] {
      events::RunCommand rc;
      rc.set_run_id(run_id);
      rc.set_node(node);
      rc.set_attempt(attempt);
      try {
        std::string err;
        auto r = http::client::call("http://" + hostport, boost::beast::http::string_to_verb(method), target, body, err, "");
        if (!r) {
          rc.set_error_code("http");
          rc.set_error_message(err);
        } else {
          auto parsed = json::parse(r->body, nullptr, false);
          json out{{"out", {{"status", r->status}, {"body", parsed.is_discarded() ? json(r->body) : parsed}}}};
          if (r->status >= 500) {
            rc.set_error_code("http_" + std::to_string(r->status));
            rc.set_error_message("HTTP " + std::to_string(r->status));
          } else {
            rc.set_output_json(out.dump(-1, ' ', false, json::error_handler_t::replace));
          }
        }
        event::new_event ev;
        ev.type = kNodeResult;
        ev.key = run_id;
        ev.tenant = tenant;
        ev.message = &rc;
        auto env = event::build(ev, rc);
        if (!env) throw std::runtime_error(env.error().message);
        const auto rec = event::to_record(*env);
        auto a = bus_.append(topic_name{kCommands}, std::span<const bus::record>(&rec, 1));
        if (!a) nf::log::get("workflows")->error("http_request result of run {} node {} could not be appended: {}", run_id, node, a.error().message);
      } catch (const std::exception& e) {
        nf::log::get("workflows")->error("http_request of run {} node {}: {}", run_id, node, e.what());
      }
    });
    return ok();
  }
  if (kind == "event") return ok();  // the event watch (triggers.h) completes it
  if (kind == "mission") {
    // The missions feature's command contract (events/missions.proto); its lifecycle event ends
    // the wait (the event watch). The mission id is derived from run, node and attempt, so asking
    // again is a repeat the prompt owner declines.
    if (!ctx_) return error{errc::internal, "a mission outside a command"};
    events::MissionPrompt prompt;
    prompt.set_id(wait.value("missionId", ""));
    prompt.set_objective(wait.value("prompt", ""));
    const auto pr = wait.value("priority", "normal");
    prompt.set_priority(pr == "critical" || pr == "high" ? events::P0 : pr == "low" ? events::P2 : events::P1);
    prompt.set_originating_spec("nf-workflow://" + run_id + "/" + node);
    const auto now = ctx_->clock().now_ms();
    prompt.mutable_created_at()->set_seconds(now / 1000);
    prompt.mutable_created_at()->set_nanos(static_cast<std::int32_t>((now % 1000) * 1'000'000));
    if (prompt.objective().empty()) return error{errc::invalid_argument, "node '" + node + "': the mission's prompt is empty"};
    event::new_event ev;
    ev.type = "mission.prompt_requested";
    ev.key = prompt.id();
    ev.tenant = doc.value("tenantId", "");
    ev.message = &prompt;
    NF_TRY(ctx_->emit(topic_name{"commands.missions"}, std::move(ev)));
    return ok();
  }
  if (kind == "agent") {
    const auto agent = wait.value("agent", "");
    NF_TRY_ASSIGN(bool has, view_.installed(doc.value("tenantId", ""), agent));
    if (!has) return error{errc::permission_denied, "node '" + node + "': agent '" + agent + "' is not installed by tenant " + doc.value("tenantId", "")};
    if (!ctx_) return error{errc::internal, "an agent task outside a command"};
    event::new_event ev;
    ev.type = "agent.task_requested";
    ev.key = agent;
    ev.tenant = doc.value("tenantId", "");
    ev.payload_json = json{{"agent", agent}, {"version", wait.value("version", "")}, {"correlationId", wait.value("correlationId", "")},
                           {"task", wait.value("task", json::object())}, {"runId", run_id}, {"node", node}, {"attempt", attempt}}
                          .dump(-1, ' ', false, json::error_handler_t::replace);
    NF_TRY(ctx_->emit(topic_name{kAgentTasksTopic}, std::move(ev)));
    return ok();
  }
  return error{errc::unsupported, "node kind '" + kind + "' is not run by this engine yet"};
}

void engine::notify_parent(const json& doc) {
  if (!ctx_) return;
  if (doc.contains("slots") && run_ended(doc.value("status", "")))
    for (const auto& s : doc["slots"]) {
      events::SlotStep rel;
      rel.set_slot_id(s.get<std::string>());
      rel.set_run_id(doc.value("runId", ""));
      auto r = send_command(*ctx_, kSlotReleased, rel.slot_id(), doc.value("tenantId", ""), rel);
      if (!r) nf::log::get("workflows")->error("run {} could not release slot {}: {}", doc.value("runId", ""), rel.slot_id(), r.error().message);
    }
  if (doc.contains("scheduleId")) {
    events::ScheduleStep st;
    st.set_schedule_id(doc["scheduleId"].get<std::string>());
    st.set_run_id(doc.value("runId", ""));
    st.set_reason(doc.value("status", ""));
    auto r = send_command(*ctx_, kScheduleRunDone, st.schedule_id(), doc.value("tenantId", ""), st);
    if (!r) nf::log::get("workflows")->error("run {} could not tell its schedule {}: {}", doc.value("runId", ""), st.schedule_id(), r.error().message);
  }
  if (!doc.contains("parent")) return;
  const auto& parent = doc["parent"];
  events::RunCommand rc;
  rc.set_run_id(parent.value("runId", ""));
  rc.set_node(parent.value("node", ""));
  rc.set_attempt(parent.value("attempt", 1));
  const auto status = doc.value("status", "");
  if (status == "completed") {
    rc.set_output_json(json{{"out", doc.value("outputs", json::object())}}.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    rc.set_error_code(status == "cancelled" ? "child_cancelled" : "child_failed");
    rc.set_error_message("sub-workflow run " + doc.value("runId", "") + " " + status +
                         (doc.contains("error") ? ": " + doc["error"].value("message", "") : std::string()));
  }
  auto r = send_command(*ctx_, kNodeResult, rc.run_id(), doc.value("tenantId", ""), rc);
  if (!r) nf::log::get("workflows")->error("run {} could not tell its parent {}: {}", doc.value("runId", ""), rc.run_id(), r.error().message);
}

}  // namespace nf::workflows
