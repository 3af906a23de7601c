#include "actors/regions/ledger_check.h"

#include <chrono>

#include "envelope.pb.h"
#include "ledger.pb.h"

namespace nf::regions {

namespace {

const topic_partition kLedgerPartition{topic_name{kEvidenceLedgerTopic}, partition_id{0}};

std::optional<tree_head_seen> as_head(const bus::message& m) {
  events::Envelope env;
  if (!env.ParseFromString(m.value) || env.type() != kTreeHeadType) return std::nullopt;
  events::TreeHead th;
  if (!env.payload().UnpackTo(&th) || th.root_hash().size() != 32) return std::nullopt;
  tree_head_seen h;
  h.size = th.tree_size();
  std::copy(th.root_hash().begin(), th.root_hash().end(), h.root.begin());
  return h;
}

// Reads [from, end) of the ledger partition, calling fn for each record.
template <class F>
result<std::int64_t> read_ledger(bus::event_bus& b, bus::consumer& c, std::int64_t from, F&& fn) {
  NF_TRY_ASSIGN(auto end, b.end_offset(kLedgerPartition));
  if (from >= end.get()) return from;
  NF_TRY(c.assign({{kLedgerPartition, offset{from}}}));
  std::int64_t next = from;
  int idle = 0;
  while (next < end.get() && idle < 2) {
    NF_TRY_ASSIGN(auto batch, c.poll(std::chrono::milliseconds(200), 1000));
    if (batch.empty()) {
      ++idle;
      continue;
    }
    idle = 0;
    for (const auto& m : batch) {
      if (m.off.get() >= end.get()) break;
      fn(m);
      next = m.off.get() + 1;
    }
  }
  return next;
}

bool has_ledger(bus::event_bus& b) {
  auto d = b.describe_topic(topic_name{kEvidenceLedgerTopic});
  return d.has_value();
}

}  // namespace

result<std::optional<tree_head_seen>> tree_head_tracker::latest() {
  if (!has_ledger(bus_)) return last_;
  if (!reader_) {
    NF_TRY_ASSIGN(reader_, bus_.make_consumer(bus::consumer_options{}));
  }
  NF_TRY_ASSIGN(auto begin, bus_.begin_offset(kLedgerPartition));
  NF_TRY_ASSIGN(next_, read_ledger(bus_, *reader_, std::max(next_, begin.get()), [&](const bus::message& m) {
    if (auto h = as_head(m); h && (!last_ || h->size >= last_->size)) last_ = h;
  }));
  return last_;
}

result<std::optional<tree_head_seen>> last_tree_head(bus::event_bus& b) {
  tree_head_tracker t(b);
  return t.latest();
}

result<extension> prove_extends(bus::event_bus& b, const tree_head_seen& head, const std::string& region, const std::string& head_region) {
  std::vector<merkle::hash> leaves;
  if (has_ledger(b)) {
    NF_TRY_ASSIGN(auto c, b.make_consumer(bus::consumer_options{}));
    NF_TRY_ASSIGN(auto begin, b.begin_offset(kLedgerPartition));
    bool gap = false;
    NF_TRY(read_ledger(b, *c, begin.get(), [&](const bus::message& m) {
      events::Envelope env;
      if (gap || !env.ParseFromString(m.value) || env.type() != kLeafAppendedType) return;
      events::LedgerLeaf leaf;
      if (!env.payload().UnpackTo(&leaf)) return;
      if (leaf.index() < leaves.size()) return;  // a leaf written again (a deposed owner's): the first stands
      if (leaf.index() > leaves.size()) {
        gap = true;  // the leaves after a hole do not count: the tree is the prefix before it
        return;
      }
      leaves.push_back(merkle::leaf_hash(leaf.data()));
    }));
  }
  extension out;
  out.size = leaves.size();
  if (out.size < head.size)
    return error{errc::conflict, "region " + region + "'s ledger holds " + std::to_string(out.size) + " leaves, and region " + head_region +
                                                " signed a tree head of " + std::to_string(head.size) + ": leaves " + std::to_string(out.size) + " to " +
                                                std::to_string(head.size - 1) + " are missing here"};
  merkle::frontier f;
  for (std::uint64_t i = 0; i < head.size; ++i) f.append(leaves[i]);
  const auto prefix_root = head.size == 0 ? merkle::empty_root() : f.root();
  if (prefix_root != head.root)
    return error{errc::corruption, "region " + region + "'s first " + std::to_string(head.size) + " ledger leaves hash to " + merkle::to_hex(prefix_root) +
                                       ", not to the root region " + head_region + " signed (" + merkle::to_hex(head.root) + "): the ledgers differ"};
  NF_TRY_ASSIGN(out.proof, merkle::extension_proof(f, std::span<const merkle::hash>(leaves.data() + head.size, leaves.size() - head.size)));
  merkle::frontier all = f;
  for (std::uint64_t i = head.size; i < leaves.size(); ++i) all.append(leaves[i]);
  out.root = out.size == 0 ? merkle::empty_root() : all.root();
  if (head.size > 0 && !merkle::verify_consistency(head.size, out.size, head.root, out.root, out.proof))
    return error{errc::corruption, "the consistency proof from " + std::to_string(head.size) + " to " + std::to_string(out.size) + " leaves does not verify"};
  return out;
}

}  // namespace nf::regions
