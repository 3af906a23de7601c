#include "core/command/owner.h"

#include <nlohmann/json.hpp>

#include "core/bus/fence.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::command {

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
  if (auto it = mine_.find(out); it != mine_.end() && latest && latest->get() == it->second) return std::optional<std::int64_t>(it->second);
  return std::optional<std::int64_t>();
}

result<std::int64_t> single_writer::prepare(actor::context& ctx, const topic_partition& in, const topic_name& output) {
  const topic_partition out{output, in.partition};
  NF_TRY(caught_up(out));
  NF_TRY_ASSIGN(auto latest, st_.store.latest_claim(st_.proj, out));
  std::lock_guard lk(mu_);
  if (auto it = mine_.find(out); it != mine_.end() && latest && latest->get() == it->second) return it->second;
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
  mine_[out] = claim;
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
