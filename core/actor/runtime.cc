// Actor runtime: intake threads feed bounded mailboxes, strands run handlers one at a time,
// supervision restarts from the last committed position or dead-letters a poison event.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/actor/actor.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "deadletter.pb.h"

namespace nf::actor {

void register_events(event::type_registry& reg) {
  reg.add(kDeadLetterType, events::DeadLetter::descriptor(), "core");
  for (const char* t : {kReplayRequested, kReplayed, kReplayFailed, kDiscarded}) reg.add(t, events::DeadLetterAction::descriptor(), "core");
}

namespace asio = boost::asio;

namespace {

class asio_timers final : public timer_service {
 public:
  explicit asio_timers(asio::io_context& io) : io_(io) {}
  void schedule_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto t = std::make_shared<asio::steady_timer>(io_, delay);
    t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }

 private:
  asio::io_context& io_;
};

// Above this no message can outrank the one found, so the scan stops early.
constexpr int kMaxScanPriority = 1 << 30;

struct cell {
  std::shared_ptr<actor> a;
  std::string name;
  config::actor_settings settings;
  std::unique_ptr<bus::consumer> consumer;
  std::unique_ptr<asio::strand<asio::io_context::executor_type>> strand;
  std::thread intake;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<bus::message> mailbox;
  bool drain_scheduled = false;
  bool restart_pending = false;   // set by the strand, served by the intake thread
  bool restart_ready = false;     // the backoff has elapsed
  std::map<topic_partition, std::int64_t> rewind;       // where intake must seek on restart
  // Per partition: every offset below `next` is handled; `done` holds handled offsets above it
  // (messages can be handled out of offset order when the actor prioritises).
  struct progress {
    std::int64_t next = -1;
    std::set<std::int64_t> done;
  };
  std::map<topic_partition, progress> handled;
  std::map<topic_partition, std::int64_t> committed_pos;
  // Per partition, the lowest offset handled since the last commit: where handling resumes when
  // the actor's flush() fails.
  std::map<topic_partition, std::int64_t> uncommitted_from;
  std::uint32_t flush_failures = 0;
  std::size_t since_commit = 0;
  std::map<std::pair<topic_partition, std::int64_t>, std::uint32_t> failures;
  actor_stats stats;

  metrics::gauge* depth = nullptr;
  metrics::gauge* lag = nullptr;            // events after the committed positions, as of the last commit
  metrics::counter* handled_total = nullptr;
  metrics::counter* mirrored = nullptr;
  metrics::counter* failed = nullptr;
  metrics::counter* dead = nullptr;
};

class message_context final : public context {
 public:
  message_context(bus::event_bus& bus, const cell& c, const nf::clock& clk, const std::string& region,
                  const events::Envelope* input, bool tick = false)
      : bus_(bus), c_(c), clock_(clk), region_(region), input_(input), tick_(tick) {}

  result<event::event_id> emit(const topic_name& topic, event::new_event ev) override {
    if (!input_ && tick_) return emit_uncaused(topic, std::move(ev));
    NF_TRY_ASSIGN(auto env, caused(std::move(ev)));
    const auto rec = event::to_record(env);
    NF_TRY(bus_.append(topic, std::span<const bus::record>(&rec, 1)));
    ++emitted;
    NF_TRY_ASSIGN(auto id, event::event_id::from_raw(env.id()));
    return id;
  }
  result<events::Envelope> caused(event::new_event ev) override {
    if (!input_) return error{errc::invalid_argument, "cannot emit: the input is not an event envelope"};
    NF_TRY_ASSIGN(auto cause, event::event_id::from_raw(input_->id()));
    const auto id = event::derive_id(cause, c_.name, n_++);
    ev.id = id;
    ev.causation = cause;
    if (!ev.correlation) {
      auto corr = event::event_id::from_raw(input_->correlation_id());
      ev.correlation = corr ? *corr : cause;
    }
    if (ev.region.empty()) ev.region = region_;
    if (ev.occurred_at == 0) ev.occurred_at = clock_.now_ms();
    if (ev.tenant.empty()) ev.tenant = input_->tenant_id();
    return event::build(ev);
  }
  bool owns(const topic_partition& tp) override {
    const auto a = c_.consumer->assignment();
    return std::find(a.begin(), a.end(), tp) != a.end();
  }
  const nf::clock& clock() const override { return clock_; }

  std::uint64_t emitted = 0;

 private:
  result<event::event_id> emit_uncaused(const topic_name& topic, event::new_event ev) {
    if (ev.region.empty()) ev.region = region_;
    if (ev.occurred_at == 0) ev.occurred_at = clock_.now_ms();
    NF_TRY_ASSIGN(auto env, event::build(ev));
    const auto rec = event::to_record(env);
    NF_TRY(bus_.append(topic, std::span<const bus::record>(&rec, 1)));
    ++emitted;
    auto id = event::event_id::from_raw(env.id());
    if (!id) return error{errc::internal, "built an event without an id"};
    return *id;
  }

  bus::event_bus& bus_;
  const cell& c_;
  const nf::clock& clock_;
  const std::string& region_;
  const events::Envelope* input_;
  bool tick_;
  std::uint64_t n_ = 0;
};

}  // namespace

struct runtime::impl {
  bus::event_bus& bus;
  runtime_options opts;
  const nf::clock* clk;
  std::unique_ptr<asio::io_context> owned_io;
  asio::io_context* io;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<asio_timers> own_timers;
  timer_service* timers;
  std::vector<std::unique_ptr<cell>> cells;
  std::atomic<bool> stopping{false};
  // Shared with pending timer callbacks, which may outlive the runtime when timers are injected.
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);
  bool started = false;
  std::shared_ptr<spdlog::logger> log = nf::log::get("actor");

  impl(bus::event_bus& b, runtime_options o) : bus(b), opts(std::move(o)) {
    clk = opts.clock ? opts.clock : &system_clock::instance();
    if (opts.io) {
      io = opts.io;
    } else {
      owned_io = std::make_unique<asio::io_context>();
      io = owned_io.get();
    }
    if (opts.timers) {
      timers = opts.timers;
    } else {
      own_timers = std::make_unique<asio_timers>(*io);
      timers = own_timers.get();
    }
  }

  static std::string group_of(const cell& c) { return "actor." + c.name; }

  void commit(cell& c) {
    if (!flush(c)) return;
    std::vector<std::pair<topic_partition, offset>> pos;
    {
      std::lock_guard lk(c.mu);
      c.uncommitted_from.clear();
      for (const auto& [tp, pr] : c.handled) {
        if (pr.next < 0) continue;
        auto it = c.committed_pos.find(tp);
        if (it == c.committed_pos.end() || it->second != pr.next) pos.emplace_back(tp, offset{pr.next});
      }
      c.since_commit = 0;
    }
    if (pos.empty()) return;
    auto r = c.consumer->commit(pos);
    if (!r) {
      log->error("actor {}: commit failed: {}", c.name, describe(r.error()));
      return;
    }
    std::map<topic_partition, std::int64_t> committed;
    {
      std::lock_guard lk(c.mu);
      for (const auto& [tp, off] : pos) c.committed_pos[tp] = off.get();
      committed = c.committed_pos;
    }
    std::int64_t lag = 0;
    for (const auto& [tp, off] : committed) {
      auto end = bus.end_offset(tp);
      if (end) lag += std::max<std::int64_t>(0, end->get() - off);
    }
    c.lag->set(static_cast<double>(lag));
  }

  // Makes the outputs of every handled message durable before their positions are committed.
  // When that fails, everything handled since the last commit is handled again.
  bool flush(cell& c) {
    std::string failure;
    try {
      auto r = c.a->flush();
      if (!r) failure = describe(r.error());
    } catch (const std::exception& e) {
      failure = std::string("exception: ") + e.what();
    }
    if (failure.empty()) {
      c.flush_failures = 0;
      return true;
    }
    std::map<topic_partition, std::int64_t> from;
    {
      std::lock_guard lk(c.mu);
      from = c.uncommitted_from;
      c.uncommitted_from.clear();
      ++c.stats.failures;
    }
    c.failed->inc();
    log->warn("actor {}: its outputs could not be made durable ({}); handling again from the committed positions", c.name, failure);
    if (!from.empty() && !stopping) restart(c, from, ++c.flush_failures);
    return false;
  }

  // With c.mu held.
  static void mark_done(cell& c, const topic_partition& tp, std::int64_t off) {
    if (auto [it, fresh] = c.uncommitted_from.emplace(tp, off); !fresh && off < it->second) it->second = off;
    auto& pr = c.handled[tp];
    if (pr.next < 0 || off < pr.next) {
      if (pr.next < 0) pr.next = off;
      else return;  // below the watermark: handled before
    }
    if (off == pr.next) {
      ++pr.next;
      while (!pr.done.empty() && *pr.done.begin() == pr.next) {
        pr.done.erase(pr.done.begin());
        ++pr.next;
      }
    } else {
      pr.done.insert(off);
    }
  }

  void schedule_drain_locked(cell& c) {
    if (c.drain_scheduled || c.mailbox.empty() || c.restart_pending) return;
    c.drain_scheduled = true;
    asio::post(*c.strand, [this, &c] { drain(c); });
  }

  // Runs on the actor's strand.
  void drain(cell& c) {
    for (;;) {
      bus::message m;
      {
        std::unique_lock lk(c.mu);
        if (c.mailbox.empty() || c.restart_pending) {
          c.drain_scheduled = false;
          lk.unlock();
          commit(c);
          return;
        }
        auto best = c.mailbox.begin();
        int best_prio = c.a->priority(*best);
        for (auto it = std::next(c.mailbox.begin()); it != c.mailbox.end() && best_prio < kMaxScanPriority; ++it) {
          const int p = c.a->priority(*it);
          if (p > best_prio) {
            best = it;
            best_prio = p;
          }
        }
        m = std::move(*best);
        c.mailbox.erase(best);
        c.stats.mailbox_depth = c.mailbox.size();
        c.depth->set(static_cast<double>(c.mailbox.size()));
      }
      c.cv.notify_all();
      handle_one(c, m);
    }
  }

  // A replay request: the parked event is handed back to the actor that parked it (only that
  // one; every other actor passes it by), once, and what came of it is appended to the dead
  // letter topic. A failure is recorded, not retried: the operator replays again after fixing.
  void replay(cell& c, const bus::message& m) {
    const topic_partition tp{m.topic, m.partition};
    events::DeadLetterAction a;
    auto req = event::from_message(m);
    if (!req || req->type() != kReplayRequested || !req->payload().UnpackTo(&a)) {
      log->warn("actor {}: {}@{} is not a dead letter replay request; passed by", c.name, to_string(tp), m.off.get());
      finish(c, tp, m.off.get(), 0);
      return;
    }
    if (a.actor() != c.name) {
      finish(c, tp, m.off.get(), 0);
      return;
    }
    const auto& dl = a.dead_letter();
    bus::message original;
    original.topic = topic_name{dl.source_topic()};
    original.partition = partition_id{dl.source_partition()};
    original.off = offset{dl.source_offset()};
    original.key = dl.original_key();
    original.value = dl.original();
    auto env = event::from_message(original);
    message_context ctx(bus, c, *clk, opts.region, env ? &env.value() : nullptr);
    std::string failure;
    // With several instances (Kafka), the source partition may be another member's: only its
    // owner may handle the event (a decision actor would leave it to the owner, who never sees
    // it), so the replay is recorded as failed, saying why, rather than as done.
    const topic_partition source{original.topic, original.partition};
    const auto mine = c.consumer->assignment();
    if (bus::subscribed_by(c.a->subscriptions(), source.topic.get()) && std::find(mine.begin(), mine.end(), source) == mine.end()) {
      failure = to_string(source) + " is assigned to another instance of " + c.name + "'s group, which alone may handle its events; " +
                "this instance holds " + to_string(tp) + ": replay it again once both are on one instance";
    } else {
      try {
        auto r = c.a->handle(original, ctx);
        if (!r) failure = describe(r.error());
      } catch (const std::exception& e) {
        failure = std::string("exception: ") + e.what();
      } catch (...) {
        failure = "unknown exception";
      }
    }
    events::DeadLetterAction outcome;
    outcome.set_dead_letter_id(a.dead_letter_id());
    outcome.set_actor(c.name);
    outcome.set_by(a.by());
    outcome.set_tenant(a.tenant());
    outcome.set_reason(failure);
    events::Envelope out;
    out.set_id(event::derive_id(*event::event_id::from_raw(req->id()), c.name + "/replay", 0).raw());
    out.set_type(failure.empty() ? kReplayed : kReplayFailed);
    out.set_schema_version(1);
    out.set_key(a.dead_letter_id());
    out.set_tenant_id(a.tenant());
    out.set_causation_id(req->id());
    out.set_correlation_id(req->correlation_id().empty() ? req->id() : req->correlation_id());
    out.set_origin_region(opts.region);
    out.set_occurred_at(clk->now_ms());
    out.mutable_payload()->PackFrom(outcome);
    const auto rec = event::to_record(out);
    if (auto r = bus.append(topic_name{kDeadLetterTopic}, std::span<const bus::record>(&rec, 1)); !r) {
      // Not recorded: handled again after a backoff (its outputs carry the same ids).
      log->error("actor {}: cannot record the replay of dead letter {}: {}", c.name, a.dead_letter_id(), describe(r.error()));
      restart(c, tp, m.off.get(), 1);
      return;
    }
    if (failure.empty()) {
      metrics::registry::global().get_counter("nf_deadletters_replayed_total", "Dead letters handed back to their actor and handled", {{"actor", c.name}}).inc();
      log->info("actor {} handled dead letter {} ({}@{}) on replay", c.name, a.dead_letter_id(), dl.source_topic(), dl.source_offset());
    } else {
      metrics::registry::global().get_counter("nf_deadletters_replay_failures_total", "Dead letter replays whose handler failed again", {{"actor", c.name}}).inc();
      log->warn("actor {}: replay of dead letter {} failed: {}", c.name, a.dead_letter_id(), failure);
    }
    finish(c, tp, m.off.get(), ctx.emitted);
  }

  // A message handled (or passed by): marks it and commits when due.
  void finish(cell& c, const topic_partition& tp, std::int64_t off, std::uint64_t emitted) {
    bool commit_now = false;
    {
      std::lock_guard lk(c.mu);
      mark_done(c, tp, off);
      c.failures.erase({tp, off});
      ++c.stats.handled;
      c.stats.emitted += emitted;
      commit_now = ++c.since_commit >= opts.commit_every;
    }
    c.handled_total->inc();
    if (commit_now) commit(c);
  }

  void handle_one(cell& c, const bus::message& m) {
    if (m.topic.get() == kReplayTopic) return replay(c, m);
    const topic_partition tp{m.topic, m.partition};
    if (m.find_header(event::kMirrorHeader)) {
      // Copied from another region, which handled it: its effects arrive the same way.
      c.mirrored->inc();
      return finish(c, tp, m.off.get(), 0);
    }
    auto env = event::from_message(m);
    message_context ctx(bus, c, *clk, opts.region, env ? &env.value() : nullptr);
    std::string failure;
    try {
      auto r = c.a->handle(m, ctx);
      if (!r) failure = describe(r.error());
    } catch (const std::exception& e) {
      failure = std::string("exception: ") + e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (failure.empty()) return finish(c, tp, m.off.get(), ctx.emitted);

    std::uint32_t attempts;
    {
      std::lock_guard lk(c.mu);
      attempts = ++c.failures[{tp, m.off.get()}];
      ++c.stats.failures;
    }
    c.failed->inc();
    log->warn("actor {} failed on {}@{} (attempt {}/{}): {}", c.name, to_string(tp), m.off.get(), attempts,
              c.settings.max_failures, failure);
    if (attempts >= c.settings.max_failures) {
      auto r = dead_letter(c, m, failure, attempts);
      if (r) {
        {
          std::lock_guard lk(c.mu);
          mark_done(c, tp, m.off.get());
          c.failures.erase({tp, m.off.get()});
          ++c.stats.dead_lettered;
        }
        c.dead->inc();
        commit(c);
        return;
      }
      // Could not dead-letter: never skip the event silently; retry it like any failure.
      log->error("actor {}: cannot dead-letter {}@{}: {}", c.name, to_string(tp), m.off.get(), describe(r.error()));
    }
    restart(c, tp, m.off.get(), attempts);
  }

  // On the actor's strand.
  void run_tick(cell& c) {
    message_context ctx(bus, c, *clk, opts.region, nullptr, true);
    std::string failure;
    try {
      auto r = c.a->tick(ctx);
      if (!r) failure = describe(r.error());
    } catch (const std::exception& e) {
      failure = std::string("exception: ") + e.what();
    }
    std::lock_guard lk(c.mu);
    ++c.stats.ticks;
    c.stats.emitted += ctx.emitted;
    if (!failure.empty()) log->warn("actor {}: tick failed: {}", c.name, failure);
  }

  void schedule_tick(cell& c) {
    const auto period = c.a->tick_period();
    if (period.count() <= 0 || stopping) return;
    timers->schedule_after(period, [this, &c, alive = alive] {
      if (!*alive || stopping) return;
      asio::post(*c.strand, [this, &c, alive] {
        if (!*alive || stopping) return;
        if (!c.restart_pending) run_tick(c);
        schedule_tick(c);
      });
    });
  }

  void restart(cell& c, const topic_partition& tp, std::int64_t off, std::uint32_t attempts) {
    restart(c, std::map<topic_partition, std::int64_t>{{tp, off}}, attempts);
  }

  // Handles every message from `from` (per partition) again, after a backoff.
  void restart(cell& c, const std::map<topic_partition, std::int64_t>& from, std::uint32_t attempts) {
    {
      std::lock_guard lk(c.mu);
      for (const auto& [tp, off] : from) c.rewind[tp] = off;
      for (const auto& [ptp, pr] : c.handled) {
        if (pr.next < 0) continue;
        // Everything from the first unhandled offset is read again (handled ones are idempotent).
        auto it = c.rewind.find(ptp);
        if (!pr.done.empty() && (it == c.rewind.end() || it->second > pr.next)) c.rewind[ptp] = pr.next;
      }
      for (const auto& [tp, off] : from)
        if (auto& pr = c.handled[tp]; pr.next >= 0 && pr.next < off) c.rewind[tp] = pr.next;
      for (const auto& q : c.mailbox) {
        const topic_partition qtp{q.topic, q.partition};
        auto it = c.rewind.find(qtp);
        if (it == c.rewind.end() || it->second > q.off.get()) c.rewind[qtp] = q.off.get();
      }
      c.mailbox.clear();
      c.stats.mailbox_depth = 0;
      for (const auto& [rtp, roff] : c.rewind) {
        auto& pr = c.handled[rtp];
        pr.done.clear();
        if (pr.next < 0 || pr.next > roff) pr.next = roff;
      }
      c.restart_pending = true;
      c.restart_ready = false;
      c.drain_scheduled = false;
      ++c.stats.restarts;
    }
    c.a->on_restart();
    const auto shift = std::min<std::uint32_t>(attempts - 1, 20);
    const auto backoff = std::min<std::int64_t>(c.settings.backoff_initial_ms << shift, c.settings.backoff_max_ms);
    timers->schedule_after(std::chrono::milliseconds(backoff), [&c] {
      {
        std::lock_guard lk(c.mu);
        c.restart_ready = true;
      }
      c.cv.notify_all();
    });
    c.consumer->wakeup();
    c.cv.notify_all();
  }

  result<void> dead_letter(cell& c, const bus::message& m, const std::string& err, std::uint32_t attempts) {
    events::DeadLetter dl;
    dl.set_actor(c.name);
    dl.set_source_topic(m.topic.get());
    dl.set_source_partition(m.partition.get());
    dl.set_source_offset(m.off.get());
    dl.set_error(err);
    dl.set_attempts(attempts);
    dl.set_original(m.value);
    dl.set_original_key(m.key);
    events::Envelope env;
    auto input = event::from_message(m);
    event::event_id cause;
    if (input) {
      auto id = event::event_id::from_raw(input->id());
      if (id) cause = *id;
      env.set_tenant_id(input->tenant_id());
    }
    const auto id = event::derive_id(cause, c.name + "/deadletter@" + to_string(topic_partition{m.topic, m.partition}) + "@" +
                                                std::to_string(m.off.get()), 0);
    env.set_id(id.raw());
    env.set_type(kDeadLetterType);
    env.set_schema_version(1);
    env.set_key(m.key);
    env.set_causation_id(cause.raw());
    env.set_origin_region(opts.region);
    env.set_occurred_at(clk->now_ms());
    env.mutable_payload()->PackFrom(dl);
    const auto rec = event::to_record(env);
    NF_TRY(bus.append(topic_name{kDeadLetterTopic}, std::span<const bus::record>(&rec, 1)));
    log->error("actor {} dead-lettered {}@{} after {} attempts: {}", c.name,
               to_string(topic_partition{m.topic, m.partition}), m.off.get(), attempts, err);
    return ok();
  }

  // Feeds the actor every input below its group's committed positions, without handling them,
  // merged across partitions by timestamp: the order in which they were first handled.
  result<void> recover(cell& c) {
    if (!c.a->wants_recovery()) return ok();
    NF_TRY_ASSIGN(auto topics, bus.list_topics());
    struct source {
      std::unique_ptr<bus::consumer> reader;
      std::int64_t next, until;
      std::deque<bus::message> buf;
    };
    std::vector<source> sources;
    const auto own = c.a->recovery_topics();
    const auto subs = own.empty() ? c.a->subscriptions() : own;
    for (const auto& t : topics) {
      if (!bus::subscribed_by(subs, t.name.get())) continue;
      for (std::int32_t p = 0; p < t.config.partitions; ++p) {
        topic_partition tp{t.name, partition_id{p}};
        std::optional<offset> until;
        if (own.empty()) {
          NF_TRY_ASSIGN(until, bus.committed(group_of(c), tp));
        } else {
          NF_TRY_ASSIGN(auto end, bus.end_offset(tp));
          until = end;
        }
        if (!until) continue;
        NF_TRY_ASSIGN(auto begin, bus.begin_offset(tp));
        if (until->get() <= begin.get()) continue;
        NF_TRY_ASSIGN(auto reader, bus.make_consumer(bus::consumer_options{}));
        NF_TRY(reader->assign({{tp, begin}}));
        sources.push_back(source{std::move(reader), begin.get(), until->get(), {}});
      }
    }
    std::uint64_t n = 0;
    for (;;) {
      source* best = nullptr;
      for (auto& s : sources) {
        while (s.buf.empty() && s.next < s.until) {
          NF_TRY_ASSIGN(auto msgs, s.reader->poll(std::chrono::milliseconds(1000),
                                                  static_cast<std::size_t>(std::min<std::int64_t>(1024, s.until - s.next))));
          for (auto& m : msgs)
            if (m.off.get() >= s.next && m.off.get() < s.until) s.buf.push_back(std::move(m));
          if (!s.buf.empty()) s.next = s.buf.back().off.get() + 1;
        }
        if (!s.buf.empty() && (!best || s.buf.front().timestamp_ms < best->buf.front().timestamp_ms)) best = &s;
      }
      if (!best) break;
      c.a->recover(best->buf.front());
      best->buf.pop_front();
      ++n;
    }
    std::lock_guard lk(c.mu);
    c.stats.recovered = n;
    if (n) log->info("actor {} recovered its state from {} inputs", c.name, n);
    return ok();
  }

  void intake_loop(cell& c) {
    while (!stopping) {
      std::size_t room;
      {
        std::unique_lock lk(c.mu);
        if (c.restart_pending) {
          auto rewind = c.rewind;
          c.rewind.clear();
          lk.unlock();
          commit(c);
          for (const auto& [tp, off] : rewind) {
            auto r = c.consumer->seek(tp, offset{off});
            if (!r) log->error("actor {}: cannot seek {} to {}: {}", c.name, to_string(tp), off, describe(r.error()));
          }
          lk.lock();
          c.cv.wait(lk, [&] { return c.restart_ready || stopping; });
          c.restart_pending = false;
          c.restart_ready = false;
          log->info("actor {} restarted", c.name);
          continue;
        }
        if (c.mailbox.size() >= c.settings.mailbox_capacity) {
          c.stats.paused = true;
          lk.unlock();
          c.consumer->pause();
          lk.lock();
          c.cv.wait(lk, [&] { return c.mailbox.size() < c.settings.mailbox_capacity || stopping || c.restart_pending; });
          lk.unlock();
          c.consumer->resume();
          lk.lock();
          c.stats.paused = false;
          continue;
        }
        room = c.settings.mailbox_capacity - c.mailbox.size();
      }
      auto polled = c.consumer->poll(opts.poll_timeout, room);
      if (!polled) {
        log->error("actor {}: poll failed: {}", c.name, describe(polled.error()));
        std::unique_lock lk(c.mu);
        c.cv.wait_for(lk, std::chrono::seconds(1), [&] { return stopping.load(); });
        continue;
      }
      if (polled->empty()) continue;
      std::lock_guard lk(c.mu);
      if (c.restart_pending) {
        // Polled before the restart's seek: re-read these after it.
        for (const auto& m : *polled) {
          const topic_partition tp{m.topic, m.partition};
          auto it = c.rewind.find(tp);
          if (it == c.rewind.end() || it->second > m.off.get()) c.rewind[tp] = m.off.get();
        }
        continue;
      }
      for (auto& m : *polled) {
        auto& pr = c.handled[{m.topic, m.partition}];
        if (pr.next < 0) pr.next = m.off.get();
        c.mailbox.push_back(std::move(m));
      }
      c.stats.mailbox_depth = c.mailbox.size();
      c.stats.mailbox_high_water = std::max(c.stats.mailbox_high_water, c.mailbox.size());
      c.depth->set(static_cast<double>(c.mailbox.size()));
      schedule_drain_locked(c);
    }
  }
};

runtime::runtime(bus::event_bus& bus, runtime_options opts) : impl_(std::make_unique<impl>(bus, std::move(opts))) {
  register_events(event::type_registry::global());
}

runtime::~runtime() {
  stop();
  *impl_->alive = false;
}

void runtime::add(std::shared_ptr<actor> a, const config::actor_settings& settings) {
  auto c = std::make_unique<cell>();
  c->name = a->name();
  c->a = std::move(a);
  c->settings = settings;
  c->strand = std::make_unique<asio::strand<asio::io_context::executor_type>>(asio::make_strand(*impl_->io));
  auto& reg = metrics::registry::global();
  const metrics::labels l{{"actor", c->name}};
  c->depth = &reg.get_gauge("nf_actor_mailbox_depth", "Messages waiting in an actor's mailbox", l);
  c->lag = &reg.get_gauge("nf_consumer_lag_events", "Events after a consumer group's committed positions, as of its last commit",
                          {{"group", "actor." + c->name}});
  c->handled_total = &reg.get_counter("nf_actor_handled_total", "Messages handled by an actor", l);
  c->mirrored = &reg.get_counter("nf_actor_mirrored_passed_total", "Events copied from another region, which handled them, passed by", l);
  c->failed = &reg.get_counter("nf_actor_failures_total", "Handler failures of an actor", l);
  c->dead = &reg.get_counter("nf_actor_dead_lettered_total", "Events an actor sent to platform.deadletter", l);
  impl_->cells.push_back(std::move(c));
}

result<void> runtime::start() {
  auto& im = *impl_;
  for (const char* t : {kDeadLetterTopic, kReplayTopic}) {
    if (im.bus.describe_topic(topic_name{t})) continue;
    auto r = im.bus.create_topic(topic_name{t}, bus::topic_config{1, -1, -1});
    if (!r && r.error().code != errc::already_exists) return r;
  }
  for (auto& c : im.cells) NF_TRY(im.recover(*c));
  for (auto& c : im.cells) {
    bus::consumer_options o;
    o.group = impl::group_of(*c);
    o.subscriptions = c->a->subscriptions();
    // Replay requests for dead letters, read by every actor (each takes those naming it).
    if (!bus::subscribed_by(o.subscriptions, kReplayTopic)) o.subscriptions.emplace_back(kReplayTopic);
    o.reset = bus::reset_policy::earliest;
    NF_TRY_ASSIGN(c->consumer, im.bus.make_consumer(o));
  }
  if (!im.opts.io) {
    im.work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(im.io->get_executor());
    // A handler that throws is logged and counted; the thread goes back to work.
    for (int i = 0; i < std::max(1, im.opts.threads); ++i)
      im.threads.emplace_back([&im] {
        while (!nf::log::guarded("actor-executor", [&im] { im.io->run(); }) && !im.io->stopped()) {
        }
      });
  }
  for (auto& c : im.cells) {
    cell* cp = c.get();
    c->intake = std::thread([&im, cp] {
      while (!nf::log::guarded("actor-intake", [&] { im.intake_loop(*cp); }) && !im.stopping) {
      }
    });
    im.schedule_tick(*cp);
  }
  im.started = true;
  im.log->info("actor runtime started with {} actors", im.cells.size());
  return ok();
}

void runtime::stop() {
  auto& im = *impl_;
  if (!im.started) return;
  im.started = false;
  im.stopping = true;
  for (auto& c : im.cells) {
    c->consumer->wakeup();
    c->cv.notify_all();
  }
  for (auto& c : im.cells)
    if (c->intake.joinable()) c->intake.join();
  // Drain: anything already in a mailbox is handled, then positions are committed.
  std::vector<std::future<void>> done;
  for (auto& c : im.cells) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    cell* cp = c.get();
    asio::post(*c->strand, [&im, cp, p] {
      if (!cp->restart_pending) {
        std::unique_lock lk(cp->mu);
        const bool pending = !cp->mailbox.empty();
        lk.unlock();
        if (pending) im.drain(*cp);
        if (cp->a->tick_period().count() > 0) im.run_tick(*cp);
      }
      im.commit(*cp);
      p->set_value();
    });
  }
  for (auto& f : done) f.wait();
  for (auto& c : im.cells) c->consumer.reset();
  if (im.work) {
    im.work.reset();
    im.io->stop();
    for (auto& t : im.threads) t.join();
    im.threads.clear();
  }
  im.log->info("actor runtime stopped");
}

actor_stats runtime::stats(const std::string& actor_name) const {
  for (const auto& c : impl_->cells) {
    if (c->name != actor_name) continue;
    std::lock_guard lk(c->mu);
    return c->stats;
  }
  return {};
}

std::map<std::string, std::vector<topic_partition>> runtime::assignments() const {
  std::map<std::string, std::vector<topic_partition>> out;
  if (!impl_->started || impl_->stopping) return out;
  for (const auto& c : impl_->cells)
    if (c->consumer) out[c->name] = c->consumer->assignment();
  return out;
}

}  // namespace nf::actor
