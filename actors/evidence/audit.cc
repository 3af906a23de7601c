// The ledger audit.
#include "actors/evidence/audit.h"

#include "core/bus/fence.h"
#include "core/base/bytes.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "actors/evidence/evidence.h"
#include "core/store/vault.h"
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
  return store::vault::valid_name(hex) ? hex : std::string();
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


namespace {

constexpr std::uint64_t kBlockLeaves = 16;  // leaf hashes stored per scratch key
constexpr int kBlockLevels = 4;             // levels below this are recomputed from a block

std::string event_key(std::string_view id) { return "e" + std::string(id); }
std::string source_prefix(const topic_partition& tp) { return "s" + tp.topic.get() + std::string(1, '\0') + be64(static_cast<std::uint64_t>(tp.partition.get())); }
std::string_view bytes_of(const merkle::hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

std::pair<int, std::uint64_t> rank(const ledger_problem& p) {
  return p.index ? std::pair<int, std::uint64_t>{0, *p.index} : p.head_size ? std::pair<int, std::uint64_t>{1, *p.head_size}
                                                                          : std::pair<int, std::uint64_t>{2, 0};
}

// The frontier's nodes: the left siblings that appending a leaf needs.
class frontier_nodes final : public merkle::node_source {
 public:
  explicit frontier_nodes(const merkle::frontier& f) : f_(f) {}
  result<merkle::hash> node(int level, std::uint64_t index) override {
    if (auto h = f_.find(level, index)) return *h;
    return error{errc::internal, "node " + std::to_string(level) + "/" + std::to_string(index) + " is not on the frontier"};
  }

 private:
  const merkle::frontier& f_;
};

}  // namespace

// Every node of the tree in the scratch store: leaf hashes in blocks of 16 (the levels below
// kBlockLevels are recomputed from a block), the higher levels one key each; the incomplete last
// block stays in memory.
class ledger_audit::scratch_tree final : public merkle::node_source {
 public:
  explicit scratch_tree(store::scratch& s) : s_(s) {}

  // Appends leaf `lh` to a tree whose nodes before it `before` holds (its frontier).
  result<void> append(const merkle::frontier& before, const merkle::hash& lh) {
    frontier_nodes left(before);
    NF_TRY_ASSIGN(auto completed, merkle::append_nodes(left, before.size(), lh));
    for (const auto& [level, index, h] : completed)
      if (level >= kBlockLevels) s_.put("n" + std::string(1, static_cast<char>(level)) + be64(index), bytes_of(h));
    tail_.append(bytes_of(lh));
    if (++size_ % kBlockLeaves == 0) {
      s_.put("l" + be64(size_ / kBlockLeaves - 1), tail_);
      tail_.clear();
    }
    return ok();
  }

  result<merkle::hash> node(int level, std::uint64_t index) override {
    const auto name = [&] { return "node " + std::to_string(level) + "/" + std::to_string(index); };
    merkle::hash h;
    if (level >= kBlockLevels) {
      NF_TRY_ASSIGN(auto v, s_.get("n" + std::string(1, static_cast<char>(level)) + be64(index)));
      if (!v || v->size() != 32) return error{errc::not_found, name() + " is not in the tree"};
      std::memcpy(h.data(), v->data(), 32);
      return h;
    }
    const std::uint64_t first = index << level, count = std::uint64_t{1} << level;
    if (first + count > size_) return error{errc::not_found, name() + " is not in the tree"};
    const std::uint64_t block = first / kBlockLeaves;
    const std::string* leaves = &tail_;
    if ((block + 1) * kBlockLeaves <= size_) {
      if (block_no_ != block) {
        NF_TRY_ASSIGN(auto v, s_.get("l" + be64(block)));
        if (!v || v->size() != kBlockLeaves * 32) return error{errc::not_found, name() + ": block " + std::to_string(block) + " is missing"};
        block_ = std::move(*v);
        block_no_ = block;
      }
      leaves = &block_;
    }
    std::vector<merkle::hash> row(count);
    for (std::uint64_t i = 0; i < count; ++i) std::memcpy(row[i].data(), leaves->data() + (first % kBlockLeaves + i) * 32, 32);
    for (auto n = row.size(); n > 1; n /= 2)
      for (std::size_t i = 0; i < n / 2; ++i) row[i] = merkle::node_hash(row[2 * i], row[2 * i + 1]);
    return row[0];
  }

 private:
  store::scratch& s_;
  std::uint64_t size_ = 0;
  std::string tail_;
  std::uint64_t block_no_ = ~std::uint64_t{0};
  std::string block_;
};

ledger_audit::ledger_audit(bus::event_bus& bus, std::string public_key_pem, bool keep_tree, std::string scratch_parent)
    : bus_(bus), public_key_pem_(std::move(public_key_pem)), keep_tree_(keep_tree), scratch_parent_(std::move(scratch_parent)) {}

ledger_audit::~ledger_audit() = default;

void ledger_audit::add_problem(ledger_problem p) {
  ++problems_total;
  problems.push_back(std::move(p));
  if (problems.size() >= 2 * kKeptProblems) sort_problems();
}

void ledger_audit::sort_problems() {
  std::stable_sort(problems.begin(), problems.end(), [](const ledger_problem& x, const ledger_problem& y) { return rank(x) < rank(y); });
  if (problems.size() > kKeptProblems) problems.resize(kKeptProblems);
}

result<void> ledger_audit::run(bool progress) {
  if (auto id = merkle::key_id(public_key_pem_)) key_id_ = *id;
  else return id.error();
  NF_TRY_ASSIGN(scratch_, store::scratch::open(scratch_parent_));
  if (keep_tree_) tree_ = std::make_unique<scratch_tree>(*scratch_);
  const topic_partition tp{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  if (!bus_.describe_topic(tp.topic)) {  // nothing recorded yet
    ids_ = std::make_unique<store::bloom>(0);
    return ok();
  }
  NF_TRY_ASSIGN(auto begin, bus_.begin_offset(tp));
  NF_TRY_ASSIGN(auto end, bus_.end_offset(tp));
  if (begin.get() > 0)
    add_problem({0, std::nullopt,
                 "the first " + std::to_string(begin.get()) + " events of evidence.ledger are gone (retention): the tree cannot be recomputed"});
  const auto total = end.get() - begin.get();
  ids_ = std::make_unique<store::bloom>(static_cast<std::uint64_t>(total));
  auto last = clock_type::now();
  std::int64_t done = 0;
  std::optional<std::int64_t> claim;  // the ledger has one writer at a time (core/bus/fence.h)
  std::optional<error> failed;
  NF_TRY(read_range(bus_, tp, begin.get(), end.get(), [&](const bus::message& m) {
    const auto verdict = bus::judge(m, claim);
    auto env = event::from_message_as_stored(m);
    if (verdict == bus::fence_verdict::claim) {
      // an owner's claim: not part of the tree
    } else if (verdict == bus::fence_verdict::stale) {
      ++fenced;  // written by a deposed owner after the next one claimed: not part of the tree
    } else if (!env) {
      add_problem({leaves, std::nullopt, "evidence.ledger@" + std::to_string(m.off.get()) + " is unreadable: " + env.error().message});
    } else if (env->type() == evidence::kLeafAppended) {
      if (auto r = leaf(*env, m.off.get()); !r) {
        failed = r.error();
        return false;
      }
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
  if (failed) return *failed;
  NF_TRY(scratch_->flush());
  sort_problems();
  return ok();
}

result<void> ledger_audit::each_source(const topic_partition& tp, const std::function<bool(const source_ref&)>& fn) {
  const auto prefix = source_prefix(tp);
  std::optional<error> bad;
  NF_TRY(scratch_->scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 8 || v.size() != 8 + 32) {
      bad = error{errc::corruption, "the audit's scratch store holds a damaged source reference"};
      return false;
    }
    source_ref r;
    r.offset = static_cast<std::int64_t>(from_be64(k.substr(prefix.size())));
    r.index = from_be64(v.substr(0, 8));
    std::memcpy(r.leaf_hash.data(), v.data() + 8, 32);
    return fn(r);
  }));
  if (bad) return *bad;
  return ok();
}

result<void> ledger_audit::each_blob(const std::function<bool(std::uint64_t, const std::string&)>& fn) {
  return scratch_->scan("b", [&](std::string_view k, std::string_view v) { return fn(from_be64(k.substr(1)), std::string(v)); });
}

void ledger_audit::remember(char tag, std::string_view s) { scratch_->put("r" + std::string(1, tag) + std::string(s), {}); }

result<bool> ledger_audit::remembered(char tag, std::string_view s) {
  NF_TRY_ASSIGN(auto v, scratch_->get("r" + std::string(1, tag) + std::string(s)));
  return v.has_value();
}

result<std::optional<std::uint64_t>> ledger_audit::index_of_event(const std::string& event_id) {
  if (!ids_ || !ids_->may_contain(event_id)) return std::optional<std::uint64_t>{};
  NF_TRY_ASSIGN(auto v, scratch_->get(event_key(event_id)));
  if (!v) return std::optional<std::uint64_t>{};
  if (v->size() != 8) return error{errc::corruption, "the audit's scratch store holds a damaged event index"};
  return std::optional<std::uint64_t>{from_be64(*v)};
}

merkle::node_source& ledger_audit::tree() {
  if (!tree_) std::abort();  // a programming error: the audit was made without keep_tree, or not run
  return *tree_;
}

result<void> ledger_audit::leaf(const events::Envelope& env, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  events::LedgerLeaf l;
  if (!env.payload().UnpackTo(&l)) {
    add_problem({leaves, std::nullopt, where + ": a leaf event without a LedgerLeaf"});
    return ok();
  }
  const auto index = leaves;
  if (l.index() != index) {
    add_problem({index, std::nullopt, where + ": leaf index " + std::to_string(l.index()) + " where " + std::to_string(index) + " was expected"});
  }
  if (!l.event_id().empty()) {
    NF_TRY_ASSIGN(auto first, index_of_event(l.event_id()));
    if (first) {
      add_problem({index, std::nullopt, "leaf " + std::to_string(index) + " records event " + l.event_id() + " again (first at leaf " +
                                            std::to_string(*first) + ")"});
    } else {
      ids_->add(l.event_id());
      scratch_->put(event_key(l.event_id()), be64(index));
    }
  }
  const auto lh = merkle::leaf_hash(l.data());
  if (tree_) NF_TRY(tree_->append(frontier_, lh));
  frontier_.append(lh);
  since_head_.push_back(lh);
  if (!l.source_topic().empty()) {
    const topic_partition stp{topic_name{l.source_topic()}, partition_id{l.source_partition()}};
    auto& span = source_partitions[stp];
    span.first = span.count ? std::min(span.first, l.source_offset()) : l.source_offset();
    span.last = span.count ? std::max(span.last, l.source_offset()) : l.source_offset();
    ++span.count;
    scratch_->put(source_prefix(stp) + be64(static_cast<std::uint64_t>(l.source_offset())), be64(index) + std::string(bytes_of(lh)));
  }
  // Blobs the recorded event names: vault records always, artifacts when their content was uploaded.
  events::Envelope recorded;
  if (recorded.ParseFromString(l.data())) {
    if (recorded.type() == evidence::kRecordSubmitted) {
      events::EvidenceRecord r;
      if (recorded.payload().UnpackTo(&r)) scratch_->put("b" + be64(index), r.sha256());
    } else if (recorded.type() == "mission.artifact_recorded") {
      events::ArtifactEvidence a;
      if (recorded.payload().UnpackTo(&a))
        if (auto sha = hash_of_hex(a.checksum()); !sha.empty()) scratch_->put("b" + be64(index), "?" + sha);
    }
  }
  ++leaves;
  return ok();
}

void ledger_audit::head(const events::Envelope& env, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  events::TreeHead t;
  if (!env.payload().UnpackTo(&t) || t.root_hash().size() != 32) {
    add_problem({std::nullopt, frontier_.size(), where + ": a tree head event without a TreeHead"});
    return;
  }
  ++heads;
  merkle::tree_head h;
  h.size = t.tree_size();
  std::copy(t.root_hash().begin(), t.root_hash().end(), h.root.begin());
  h.timestamp_ms = t.timestamp_ms();
  h.signature = t.signature();
  const auto name = "head at size " + std::to_string(h.size) + " (" + where + ")";
  const auto before = problems_total;
  auto bad = [&](const std::string& what) { add_problem({std::nullopt, h.size, name + ": " + what}); };
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
  if (problems_total == before) latest_head = h;
}

}  // namespace nf::evidence
