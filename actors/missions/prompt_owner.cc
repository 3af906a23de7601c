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

  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{kPrompts});
  if (!epoch && epoch.error().code == errc::conflict) {
    // Not this instance's partition any more: its owner reads the command from its group's
    // committed position and decides.
    nf::log::get("missions")->info("prompt_owner: {}; leaving {}@{} to it", epoch.error().message, to_string(topic_partition{m.topic, m.partition}),
                                   m.off.get());
    return ok();
  }
  NF_TRY(epoch);

  NF_TRY_ASSIGN(auto existing, view_.get(prompt.id()));
  event::new_event ev;
  ev.key = prompt.id();
  events::PromptDeclined declined;
  // A document without a prompt holds only events read before it (an artifact, a status): the id
  // has not been prompted yet.
  if (existing && existing->contains("prompt")) {
    const auto& doc = *existing;
    const bool same = doc.value("bodySha256", "") == hash && doc.value("tenantId", "") == cmd.tenant_id();
    declined.set_mission_id(prompt.id());
    declined.set_reason(same ? "repeat" : "conflict");
    if (doc.contains("prompt")) {
      const auto& pos = doc["prompt"];
      declined.set_prompt_topic(pos.value("topic", std::string(kPrompts)));
      declined.set_prompt_partition(pos.value("partition", 0));
      declined.set_prompt_offset(pos.value("offset", std::int64_t{0}));
    }
    ev.type = kPromptDeclined;
    ev.message = &declined;
  } else {
    ev.type = "mission.prompted";
    ev.message = &prompt;
    if (!hash.empty()) ev.headers["nf-body-sha256"] = hash;
  }
  NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
  NF_TRY(writer_.append({topic_name{kPrompts}, m.partition}, *epoch, env));
  return ok();
}

}  // namespace nf::missions
