#include "core/command/owner.h"

#include <nlohmann/json.hpp>

#include "core/bus/fence.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::command {

namespace {
// How long a confirmed claim is trusted before prepare() reads it again from the caught-up state.
constexpr auto kRecheck = std::chrono::seconds(1);
}  // namespace

single_writer::single_writer(bus::event_bus& bus, std::string owner, std::string region, owned_state st, std::chrono::milliseconds catch_up)
    : bus_(bus), owner_(std::move(owner)), region_(std::move(region)), st_(st), catch_up_(catch_up) {}

result<void> single_writer::check(const topic_name& commands, const topic_name& output) {
  NF_TRY_ASSIGN(auto c, bus_.describe_topic(commands));
  NF_TRY_ASSIGN(auto o, bus_.describe_topic(output));
  if (c.config.partitions != o.config.partitions)
    return error{errc::invalid_argument, "topic '" + commands.get() + "' has " + std::to_string(c.config.partitions) +
                                             " partitions and '" + output.get() + "' has " + std::to_string(o.config.partitions) +
                                             ": a decision's command and outcome must share a partition number, so give both the same count"};
  return ok();
}

result<void> single_writer::caught_up(const topic_partition& out) {
  NF_TRY_ASSIGN(auto end, bus_.end_offset(out));
  if (end.get() == 0) return ok();
  if (!st_.feed.wait_applied(out, offset{end.get() - 1}, catch_up_))
    return error{errc::timeout, "the read model of " + to_string(out) + " did not reach offset " + std::to_string(end.get() - 1) +
                                    " within " + std::to_string(catch_up_.count()) + " ms"};
  return ok();
}

result<std::optional<std::int64_t>> single_writer::current(const topic_partition& out) {
  NF_TRY(caught_up(out));
  NF_TRY_ASSIGN(auto latest, st_.store.latest_claim(st_.proj, out));
  std::lock_guard lk(mu_);
  if (auto it = mine_.find(out); it != mine_.end() && latest && latest->get() == it->second.offset) {
    it->second.checked = std::chrono::steady_clock::now();
    return std::optional<std::int64_t>(it->second.offset);
  }
  return std::optional<std::int64_t>();
}

result<std::int64_t> single_writer::prepare(actor::context& ctx, const topic_partition& in, const topic_name& output, bool knows_own_outcomes) {
  const topic_partition out{output, in.partition};
  if (knows_own_outcomes) {
    std::lock_guard lk(mu_);
    if (auto it = mine_.find(out); it != mine_.end() && std::chrono::steady_clock::now() - it->second.checked < kRecheck && ctx.owns(in))
      return it->second.offset;
  }
  NF_TRY(caught_up(out));
  NF_TRY_ASSIGN(auto latest, st_.store.latest_claim(st_.proj, out));
  {
    std::lock_guard lk(mu_);
    if (auto it = mine_.find(out); it != mine_.end() && latest && latest->get() == it->second.offset) {
      it->second.checked = std::chrono::steady_clock::now();
      return it->second.offset;
    }
  }
  // mu_ is not held from here: an append may run the callbacks of queued append_async() calls
  // (the bus's group leader answers the whole group), and those take mu_.
  if (!ctx.owns(in)) return error{errc::conflict, to_string(in) + " is owned by another instance, which decides on it"};
  // Claim: from the claim's offset on, only this instance's writes count in `out`.
  event::new_event ev;
  ev.type = kClaimType;
  ev.key = owner_;
  ev.region = region_;
  ev.occurred_at = ctx.clock().now_ms();
  ev.payload_json = nlohmann::json{{"owner", owner_}, {"topic", out.topic.get()}, {"partition", out.partition.get()}}.dump();
  NF_TRY_ASSIGN(auto env, event::build(ev));
  auto rec = event::to_record(env);
  rec.partition = out.partition;
  rec.headers.push_back({bus::kClaimHeader, owner_});
  NF_TRY_ASSIGN(auto res, bus_.append(out.topic, std::span<const bus::record>(&rec, 1)));
  const std::int64_t claim = res[0].off.get();
  // The state must hold everything before the claim; anything after it from others is refused.
  if (!st_.feed.wait_applied(out, offset{claim}, catch_up_))
    return error{errc::timeout, "the read model of " + to_string(out) + " did not reach this instance's claim at " + std::to_string(claim)};
  NF_TRY_ASSIGN(auto now, st_.store.latest_claim(st_.proj, out));
  if (!now || now->get() != claim) return error{errc::conflict, "another instance claimed " + to_string(out) + " after this one"};
  {
    std::lock_guard lk(mu_);
    mine_[out] = {claim, std::chrono::steady_clock::now()};
  }
  nf::log::get("command")->info("{} claimed {} at offset {}", owner_, to_string(out), claim);
  metrics::registry::global().get_counter("nf_command_claims_total", "Output partitions claimed by this instance's decision actors", {{"owner", owner_}}).inc();
  return claim;
}

result<bus::append_result> single_writer::append(const topic_partition& out, std::int64_t epoch, const events::Envelope& env) {
  auto rec = event::to_record(env);
  rec.partition = out.partition;
  bus::stamp_epoch(rec, epoch);
  NF_TRY_ASSIGN(auto res, bus_.append(out.topic, std::span<const bus::record>(&rec, 1)));
  return res[0];
}

}  // namespace nf::command

namespace nf::command {

void single_writer::append_async(const topic_partition& out, std::int64_t epoch, const events::Envelope& env,
                                 std::function<void(const result<bus::append_result>&)> done) {
  std::vector<bus::record> recs;
  recs.push_back(event::to_record(env));
  recs.back().partition = out.partition;
  bus::stamp_epoch(recs.back(), epoch);
  {
    std::lock_guard lk(mu_);
    ++in_flight_;
  }
  bus_.append_async(out.topic, std::move(recs), [this, out, done = std::move(done)](result<std::vector<bus::append_result>> r) {
    const result<bus::append_result> one = r ? result<bus::append_result>(r->at(0)) : result<bus::append_result>(r.error());
    if (done) done(one);
    std::lock_guard lk(mu_);
    if (!one) {
      mine_.erase(out);
      if (!failed_) failed_ = one.error();
    }
    --in_flight_;
    settled_.notify_all();
  });
}

void single_writer::settle() {
  std::unique_lock lk(mu_);
  settled_.wait(lk, [this] { return in_flight_ == 0; });
}

result<void> single_writer::flush() {
  std::unique_lock lk(mu_);
  settled_.wait(lk, [this] { return in_flight_ == 0; });
  if (!failed_) return ok();
  error e = std::move(*failed_);
  failed_.reset();
  return error{e.code, "an outcome append failed: " + e.message};
}

bool single_writer::applied(const topic_partition& out, offset off) const { return st_.feed.wait_applied(out, off, std::chrono::milliseconds(0)); }

}  // namespace nf::command
