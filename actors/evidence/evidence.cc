// evidence: pure decide/evolve/next_head and the actor shell.
#include "actors/evidence/evidence.h"

#include <nlohmann/json.hpp>

#include "core/base/base64.h"
#include "core/bus/fence.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "ledger.pb.h"

namespace nf::evidence {
namespace {

std::string bytes_of(const merkle::hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }

void publish(const state& s) {
  auto& reg = metrics::registry::global();
  static auto& leaves = reg.get_gauge("nf_ledger_leaves", "Leaves in the evidence ledger, as the evidence actor knows it");
  static auto& signed_size = reg.get_gauge("nf_ledger_signed_tree_size", "Tree size of the latest signed tree head");
  leaves.set(static_cast<double>(s.tree.size()));
  signed_size.set(s.last_head ? static_cast<double>(s.last_head->size) : 0.0);
}

}  // namespace

std::optional<leaf> decide(const state& s, const input& in, bool in_ledger) {
  if (in.event_id.empty() || in_ledger) return std::nullopt;
  return leaf{s.next_index, in};
}

state evolve(state s, const input& in) {
  ++s.next_index;
  const auto h = merkle::leaf_hash(in.data);
  s.tree.append(h);
  s.since_head.push_back(h);
  return s;
}

result<input> decode(const bus::message& m) {
  NF_TRY_ASSIGN(auto env, event::from_message_as_stored(m));
  const auto where = to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  auto id = event::event_id::from_raw(env.id());
  if (!id) return error{errc::corruption, "event without a 16-byte id at " + where};
  input in{id->to_string(), event::canonical_bytes(env), env.key(), {}, env.type(), m.topic.get(), m.partition.get(), m.off.get()};
  if (auto h = env.headers().find("nf-public"); h != env.headers().end() && h->second == "true") in.readable_by_all = true;
  auto payload = event::payload_json(env);
  if (payload) {
    in.artifact_id = payload->value("artifactId", "");
    if (auto mid = payload->value("missionId", ""); !mid.empty()) in.mission_id = mid;
  } else {
    // The event's bytes are the evidence and go into the ledger all the same; only the ids that
    // index it for search are unknown (the mission id falls back to the key). Said and counted.
    nf::log::get("evidence")->warn("{} {} at {}: its payload does not decode ({}); recorded without its artifact id", env.type(),
                                   in.event_id, where, payload.error().message);
    metrics::registry::global()
        .get_counter("nf_evidence_undecodable_payloads_total", "Events recorded in the ledger whose payload could not be decoded")
        .inc();
  }
  return in;
}

result<merkle::tree_head> next_head(const state& s, std::int64_t now_ms) {
  if (s.since_head.empty()) return error{errc::not_found, "no leaf waits for a tree head"};
  if (s.last_head) {
    const auto& prev = *s.last_head;
    if (s.at_head.size() != prev.size || s.at_head.root() != prev.root)
      return error{errc::corruption, "the tree as of the last head (size " + std::to_string(prev.size) + ") is not the one it signed"};
    NF_TRY_ASSIGN(auto proof, merkle::extension_proof(s.at_head, s.since_head));
    if (!merkle::verify_consistency(prev.size, s.tree.size(), prev.root, s.tree.root(), proof))
      return error{errc::corruption, "tree size " + std::to_string(s.tree.size()) + " is not consistent with the head at size " +
                                         std::to_string(prev.size)};
  }
  merkle::tree_head h;
  h.size = s.tree.size();
  h.root = s.tree.root();
  // Heads never go back in time, whatever the clock does.
  h.timestamp_ms = s.last_head ? std::max(now_ms, s.last_head->timestamp_ms) : now_ms;
  return h;
}

state with_head(state s, const merkle::tree_head& h) {
  s.at_head = s.tree;
  s.last_head = h;
  s.since_head.clear();
  return s;
}

std::vector<std::string> input_topics(const std::vector<std::string>& extra_topics) {
  std::vector<std::string> out{"mission.artifacts", "mission.validations", kRecordsTopic};
  for (const auto& t : extra_topics)
    if (std::find(out.begin(), out.end(), t) == out.end() && t != kLedgerTopic && t != kCommandsTopic) out.push_back(t);
  return out;
}

result<void> intake::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto in, decode(m));
  events::LedgerLeaf leaf;  // its index is the ledger writer's to give
  leaf.set_data(in.data);
  leaf.set_event_id(in.event_id);
  leaf.set_mission_id(in.mission_id);
  leaf.set_artifact_id(in.artifact_id);
  leaf.set_event_type(in.event_type);
  leaf.set_source_topic(in.source_topic);
  leaf.set_source_partition(in.source_partition);
  leaf.set_source_offset(in.source_offset);
  leaf.set_readable_by_all(in.readable_by_all);
  event::new_event ev;
  ev.type = kRecordRequested;
  ev.key = "ledger";
  ev.message = &leaf;
  NF_TRY(ctx.emit(topic_name{kCommandsTopic}, ev));
  return ok();
}

namespace {
const topic_partition kLedger{topic_name{kLedgerTopic}, partition_id{0}};
}  // namespace

result<void> actor::handle(const bus::message& m, ::nf::actor::context& ctx) {
  if (!opts_.writer || !opts_.bus || !opts_.in_ledger)
    return error{errc::invalid_argument, "the evidence actor needs its ledger writer, bus and ledger index"};
  const auto where = to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  if (env.type() != kRecordRequested) return ok();
  events::LedgerLeaf asked;
  if (!env.payload().UnpackTo(&asked) || asked.event_id().empty())
    return error{errc::invalid_argument, "evidence.record_requested at " + where + " does not carry a LedgerLeaf with an event id"};
  auto epoch = opts_.writer->prepare(ctx, {m.topic, m.partition}, kLedger.topic);
  if (!epoch && epoch.error().code == errc::conflict) {
    nf::log::get("evidence")->info("evidence: {}; leaving {} to it", epoch.error().message, where);
    return ok();
  }
  NF_TRY(epoch);
  // The state is valid under one claim: after a new one, whatever owners came between wrote to
  // the ledger, so it is read back first.
  if (built_for_ != epoch.value()) {
    NF_TRY(rebuild(*epoch));
    built_for_ = *epoch;
  }
  if (recovery_error_) return *recovery_error_;
  input in{asked.event_id(), asked.data(), asked.mission_id(), asked.artifact_id(), asked.event_type(), asked.source_topic(),
           asked.source_partition(), asked.source_offset()};
  NF_TRY_ASSIGN(const bool known, opts_.in_ledger(in.event_id));
  if (auto l = decide(state_, in, known)) {
    event::new_event ev;
    ev.type = kLeafAppended;
    ev.key = "ledger";
    events::LedgerLeaf leaf = asked;
    leaf.set_index(l->index);
    ev.message = &leaf;
    NF_TRY_ASSIGN(auto out, ctx.caused(std::move(ev)));
    NF_TRY(opts_.writer->append(kLedger, *epoch, out));
    state_ = evolve(std::move(state_), in);
    if (opts_.signer && state_.since_head.size() >= opts_.head_every_leaves) NF_TRY(emit_head(ctx, *epoch, false));
    publish(state_);
  }
  return ok();
}

std::chrono::milliseconds actor::tick_period() const { return opts_.signer ? opts_.head_every : std::chrono::milliseconds{0}; }

result<void> actor::tick(::nf::actor::context& ctx) {
  if (recovery_error_ || !opts_.signer || !opts_.writer || state_.since_head.empty()) return ok();
  // Only the current owner signs; a deposed one holds no current claim and signs nothing.
  NF_TRY_ASSIGN(auto epoch, opts_.writer->current(kLedger));
  if (!epoch || built_for_ != *epoch) return ok();
  return emit_head(ctx, *epoch, true);
}

void fill_tree_head(events::TreeHead& out, const merkle::tree_head& h, const merkle::hash& key_id) {
  out.set_tree_size(h.size);
  out.set_root_hash(bytes_of(h.root));
  out.set_timestamp_ms(h.timestamp_ms);
  out.set_signature(h.signature);
  out.set_key_id(bytes_of(key_id));
}

result<void> actor::emit_head(::nf::actor::context& ctx, std::int64_t epoch, bool from_tick) {
  NF_TRY_ASSIGN(auto h, next_head(state_, ctx.clock().now_ms()));
  NF_TRY_ASSIGN(h.signature, opts_.signer->sign(h));
  event::new_event ev;
  ev.type = kTreeHead;
  ev.key = "ledger";
  ev.occurred_at = h.timestamp_ms;
  ev.region = opts_.region;
  events::TreeHead head;
  fill_tree_head(head, h, opts_.signer->key_id());
  ev.message = &head;
  events::Envelope out;
  if (from_tick) {
    // One id per tree size, so a head signed again after a restart keeps its id.
    ev.id = event::derive_id(event::event_id{}, "evidence/tree_head", h.size);
    NF_TRY_ASSIGN(out, event::build(ev));
  } else {
    NF_TRY_ASSIGN(out, ctx.caused(std::move(ev)));
  }
  NF_TRY(opts_.writer->append(kLedger, epoch, out));
  state_ = with_head(std::move(state_), h);
  publish(state_);
  return ok();
}

result<void> actor::rebuild(std::int64_t upto) {
  state_ = state{};
  recovery_error_.reset();
  claim_seen_.reset();
  NF_TRY_ASSIGN(auto begin, opts_.bus->begin_offset(kLedger));
  if (begin.get() > 0) {
    recovery_error_ = error{errc::corruption, "the first " + std::to_string(begin.get()) +
                                                   " records of evidence.ledger are gone (retention): the tree cannot be recomputed"};
    return *recovery_error_;
  }
  NF_TRY_ASSIGN(auto reader, opts_.bus->make_consumer(bus::consumer_options{}));
  NF_TRY(reader->assign({{kLedger, offset{0}}}));
  std::int64_t next = 0;
  int idle = 0;
  while (next <= upto) {
    NF_TRY_ASSIGN(auto msgs, reader->poll(std::chrono::milliseconds(500), 1024));
    if (msgs.empty() && ++idle > 60) return error{errc::timeout, "evidence.ledger could not be read back up to offset " + std::to_string(upto)};
    for (const auto& m : msgs) {
      if (m.off.get() < next || m.off.get() > upto) continue;
      idle = 0;
      recover(m);
      ++recovered_;
      next = m.off.get() + 1;
    }
  }
  nf::log::get("evidence")->info("evidence: rebuilt the ledger state from {} records (tree size {})", upto + 1, state_.tree.size());
  if (recovery_error_) return *recovery_error_;
  return ok();
}

void actor::recover(const bus::message& m) {
  if (recovery_error_) return;
  const auto verdict = bus::judge(m, claim_seen_);
  if (verdict == bus::fence_verdict::claim || verdict == bus::fence_verdict::stale) return;
  const auto where = std::string(kLedgerTopic) + "@" + std::to_string(m.off.get());
  auto env = event::from_message(m);
  if (!env) {
    recovery_error_ = error{errc::corruption, where + ": " + describe(env.error())};
    return;
  }
  if (env->type() == kLeafAppended) {
    events::LedgerLeaf l;
    if (!env->payload().UnpackTo(&l)) {
      recovery_error_ = error{errc::corruption, where + ": leaf event without a LedgerLeaf"};
    } else if (l.index() != state_.next_index) {
      recovery_error_ = error{errc::corruption, where + ": leaf index " + std::to_string(l.index()) + " where " +
                                                    std::to_string(state_.next_index) + " was expected"};
    } else {
      input in;
      in.event_id = l.event_id();
      in.data = l.data();
      state_ = evolve(std::move(state_), in);
    }
  } else if (env->type() == kTreeHead) {
    events::TreeHead t;
    if (!env->payload().UnpackTo(&t) || t.root_hash().size() != 32) {
      recovery_error_ = error{errc::corruption, where + ": tree head event without a TreeHead"};
      return;
    }
    merkle::tree_head h;
    h.size = t.tree_size();
    std::copy(t.root_hash().begin(), t.root_hash().end(), h.root.begin());
    h.timestamp_ms = t.timestamp_ms();
    h.signature = t.signature();
    if (h.size != state_.tree.size() || h.root != state_.tree.root()) {
      recovery_error_ = error{errc::corruption, where + ": the head at size " + std::to_string(h.size) +
                                                    " does not match the leaves before it"};
      return;
    }
    state_ = with_head(std::move(state_), h);
  }
  publish(state_);
}

}  // namespace nf::evidence
