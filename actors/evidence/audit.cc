// The ledger audit.
#include "actors/evidence/audit.h"

#include "core/bus/fence.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>

#include "actors/evidence/evidence.h"
#include "actors/evidence/vault.h"
#include "core/event/codec.h"
#include "ledger.pb.h"
#include "missions.pb.h"

namespace nf::evidence {
namespace {

using clock_type = std::chrono::steady_clock;

std::string hash_of_hex(const std::string& checksum) {
  // ArtifactEvidence.checksum is "sha256:<hex>"; anything else names no vault blob.
  if (checksum.rfind("sha256:", 0) != 0) return {};
  auto hex = checksum.substr(7);
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return evidence::vault::valid_name(hex) ? hex : std::string();
}

}  // namespace

result<void> read_range(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to,
                        const std::function<bool(const bus::message&)>& fn) {
  if (from >= to) return ok();
  NF_TRY_ASSIGN(auto c, b.make_consumer({}));
  NF_TRY(c->assign({{tp, offset{from}}}));
  std::int64_t next = from;
  int idle = 0;
  while (next < to) {
    NF_TRY_ASSIGN(auto msgs, c->poll(std::chrono::milliseconds(500), static_cast<std::size_t>(std::min<std::int64_t>(4096, to - next))));
    if (msgs.empty()) {
      if (++idle > 20) return error{errc::timeout, "reading " + to_string(tp) + " stalled at offset " + std::to_string(next)};
      continue;
    }
    idle = 0;
    for (const auto& m : msgs) {
      if (m.off.get() < next || m.off.get() >= to) continue;
      next = m.off.get() + 1;
      if (!fn(m)) return ok();
    }
  }
  return ok();
}


result<void> ledger_audit::run(bool progress) {
  if (auto id = merkle::key_id(public_key_pem_)) key_id_ = *id;
  else return id.error();
  const topic_partition tp{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  if (!bus_.describe_topic(tp.topic)) return ok();  // nothing recorded yet
  NF_TRY_ASSIGN(auto begin, bus_.begin_offset(tp));
  NF_TRY_ASSIGN(auto end, bus_.end_offset(tp));
  if (begin.get() > 0)
    problems.push_back({0, std::nullopt,
                        "the first " + std::to_string(begin.get()) + " events of evidence.ledger are gone (retention): the tree cannot be recomputed"});
  const auto total = end.get() - begin.get();
  auto last = clock_type::now();
  std::int64_t done = 0;
  std::optional<std::int64_t> claim;  // the ledger has one writer at a time (core/bus/fence.h)
  NF_TRY(read_range(bus_, tp, begin.get(), end.get(), [&](const bus::message& m) {
    const auto verdict = bus::judge(m, claim);
    auto env = event::from_message_as_stored(m);
    if (verdict == bus::fence_verdict::claim) {
      // an owner's claim: not part of the tree
    } else if (verdict == bus::fence_verdict::stale) {
      ++fenced;  // written by a deposed owner after the next one claimed: not part of the tree
    } else if (!env) {
      problems.push_back({leaves, std::nullopt, "evidence.ledger@" + std::to_string(m.off.get()) + " is unreadable: " + env.error().message});
    } else if (env->type() == evidence::kLeafAppended) {
      leaf(*env, m.off.get());
    } else if (env->type() == evidence::kTreeHead) {
      head(*env, m.off.get());
    }
    ++done;
    if (progress && clock_type::now() - last > std::chrono::seconds(1)) {
      last = clock_type::now();
      std::cerr << "ledger: " << done << "/" << total << " events (" << (total ? done * 100 / total : 100) << "%)\n";
    }
    return true;
  }));
  return ok();
}

void ledger_audit::leaf(const events::Envelope& env, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  events::LedgerLeaf l;
  if (!env.payload().UnpackTo(&l)) {
    problems.push_back({leaves, std::nullopt, where + ": a leaf event without a LedgerLeaf"});
    return;
  }
  const auto index = leaves;
  if (l.index() != index) {
    problems.push_back({index, std::nullopt, where + ": leaf index " + std::to_string(l.index()) + " where " + std::to_string(index) + " was expected"});
  }
  if (!l.event_id().empty()) {
    auto [it, fresh] = seen_.emplace(l.event_id(), index);
    if (!fresh)
      problems.push_back({index, std::nullopt, "leaf " + std::to_string(index) + " records event " + l.event_id() + " again (first at leaf " +
                                                   std::to_string(it->second) + ")"});
  }
  const auto lh = merkle::leaf_hash(l.data());
  frontier_.append(lh);
  since_head_.push_back(lh);
  if (keep_tree_) {
    tree.append_leaf_hash(lh);
    if (!l.event_id().empty()) index_of_event.emplace(l.event_id(), index);
  }
  if (!l.source_topic().empty())
    sources[topic_partition{topic_name{l.source_topic()}, partition_id{l.source_partition()}}].push_back({l.source_offset(), index, lh});
  // Blobs the recorded event names: vault records always, artifacts when their content was uploaded.
  events::Envelope recorded;
  if (recorded.ParseFromString(l.data())) {
    if (recorded.type() == evidence::kRecordSubmitted) {
      events::EvidenceRecord r;
      if (recorded.payload().UnpackTo(&r)) blobs.push_back({r.sha256(), index});
    } else if (recorded.type() == "mission.artifact_recorded") {
      events::ArtifactEvidence a;
      if (recorded.payload().UnpackTo(&a))
        if (auto sha = hash_of_hex(a.checksum()); !sha.empty()) blobs.push_back({"?" + sha, index});
    }
  }
  ++leaves;
}

void ledger_audit::head(const events::Envelope& env, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  events::TreeHead t;
  if (!env.payload().UnpackTo(&t) || t.root_hash().size() != 32) {
    problems.push_back({std::nullopt, frontier_.size(), where + ": a tree head event without a TreeHead"});
    return;
  }
  ++heads;
  merkle::tree_head h;
  h.size = t.tree_size();
  std::copy(t.root_hash().begin(), t.root_hash().end(), h.root.begin());
  h.timestamp_ms = t.timestamp_ms();
  h.signature = t.signature();
  const auto name = "head at size " + std::to_string(h.size) + " (" + where + ")";
  const auto before = problems.size();
  auto bad = [&](const std::string& what) { problems.push_back({std::nullopt, h.size, name + ": " + what}); };
  if (h.size != frontier_.size()) {
    bad("it follows " + std::to_string(frontier_.size()) + " leaves");
  } else if (h.root != frontier_.root()) {
    bad("the signed root is not the root of the leaves before it");
  }
  auto sig = merkle::verify_head(h, public_key_pem_);
  if (!sig || !*sig) bad("the signature does not verify with the ledger's public key");
  if (t.key_id().size() != 32 || std::memcmp(key_id_.data(), t.key_id().data(), 32) != 0) bad("signed with another key id");
  if (prev_) {
    if (h.timestamp_ms < prev_->timestamp_ms) bad("its timestamp is earlier than the previous head's");
    if (h.size < prev_->size) {
      bad("the tree shrank from " + std::to_string(prev_->size));
    } else if (h.size == frontier_.size()) {
      auto proof = merkle::extension_proof(at_head_, since_head_);
      if (!proof || !merkle::verify_consistency(prev_->size, h.size, prev_->root, h.root, *proof))
        bad("not consistent with the head at size " + std::to_string(prev_->size));
    }
  }
  at_head_ = frontier_;
  since_head_.clear();
  prev_ = h;
  if (problems.size() == before) latest_head = h;
}

}  // namespace nf::evidence
