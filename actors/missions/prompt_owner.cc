#include "actors/missions/prompt_owner.h"

#include <nlohmann/json.hpp>

#include "core/event/codec.h"
#include "core/log/log.h"
#include "missions.pb.h"

namespace nf::missions {

result<void> prompt_owner::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto cmd, event::from_message(m));
  if (cmd.type() != kPromptRequested) return ok();  // other commands are not this actor's
  events::MissionPrompt prompt;
  if (!cmd.payload().UnpackTo(&prompt) || prompt.id().empty())
    return error{errc::invalid_argument, "mission.prompt_requested at " + to_string(topic_partition{m.topic, m.partition}) + "@" +
                                             std::to_string(m.off.get()) + " does not carry a MissionPrompt with an id"};
  const auto hash_it = cmd.headers().find("nf-body-sha256");
  const std::string hash = hash_it == cmd.headers().end() ? std::string() : hash_it->second;

  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{kPrompts}, /*knows_own_outcomes=*/true);
  if (!epoch && epoch.error().code == errc::conflict) {
    // Not this instance's partition any more: its owner reads the command from its group's
    // committed position and decides.
    nf::log::get("missions")->info("prompt_owner: {}; leaving {}@{} to it", epoch.error().message, to_string(topic_partition{m.topic, m.partition}),
                                   m.off.get());
    return ok();
  }
  NF_TRY(epoch);

  forget_applied();
  event::new_event ev;
  ev.key = prompt.id();
  events::PromptDeclined declined;
  auto decline = [&](bool same, const std::string& topic, std::int32_t partition, std::int64_t off) {
    declined.set_mission_id(prompt.id());
    declined.set_reason(same ? "repeat" : "conflict");
    declined.set_prompt_topic(topic);
    declined.set_prompt_partition(partition);
    declined.set_prompt_offset(off);
    ev.type = kPromptDeclined;
    ev.message = &declined;
  };
  if (auto mine = recently_accepted(prompt.id())) {
    decline(mine->hash == hash && mine->tenant == cmd.tenant_id(), kPrompts, mine->partition.get(), mine->offset);
  } else {
    NF_TRY_ASSIGN(auto existing, view_.get(prompt.id()));
    // A document without a prompt holds only events read before it (an artifact, a status): the
    // id has not been prompted yet.
    if (existing && existing->contains("prompt")) {
      const auto& doc = *existing;
      const auto& pos = doc["prompt"];
      decline(doc.value("bodySha256", "") == hash && doc.value("tenantId", "") == cmd.tenant_id(), pos.value("topic", std::string(kPrompts)),
              pos.value("partition", 0), pos.value("offset", std::int64_t{0}));
    } else {
      ev.type = "mission.prompted";
      ev.message = &prompt;
      if (!hash.empty()) ev.headers["nf-body-sha256"] = hash;
    }
  }
  NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
  const topic_partition out{topic_name{kPrompts}, m.partition};
  if (env.type() != kPromptDeclined) {
    std::lock_guard lk(mu_);
    recent_[prompt.id()] = accepted{hash, cmd.tenant_id(), m.partition, -1};
    order_.push_back(prompt.id());
  }
  writer_.append_async(out, *epoch, env, [this, id = prompt.id(), prompted = env.type() != kPromptDeclined](const result<bus::append_result>& r) {
    if (!prompted) return;
    std::lock_guard lk(mu_);
    auto it = recent_.find(id);
    if (it == recent_.end()) return;
    if (r) it->second.offset = r->off.get();
    else recent_.erase(it);  // not written: the command is handled again (flush() reports it)
  });
  return ok();
}

std::optional<prompt_owner::accepted> prompt_owner::recently_accepted(const std::string& id) {
  {
    std::lock_guard lk(mu_);
    auto it = recent_.find(id);
    if (it == recent_.end()) return std::nullopt;
    if (it->second.offset >= 0) return it->second;
  }
  // Its position is needed and its append is still in flight.
  writer_.settle();
  std::lock_guard lk(mu_);
  auto it = recent_.find(id);
  if (it == recent_.end() || it->second.offset < 0) return std::nullopt;
  return it->second;
}

void prompt_owner::forget_applied() {
  std::lock_guard lk(mu_);
  while (!order_.empty()) {
    auto it = recent_.find(order_.front());
    if (it != recent_.end()) {
      if (it->second.offset < 0 || !writer_.applied({topic_name{kPrompts}, it->second.partition}, offset{it->second.offset})) break;
      recent_.erase(it);
    }
    order_.pop_front();
  }
}

}  // namespace nf::missions
