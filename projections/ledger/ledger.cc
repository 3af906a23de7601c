// Ledger projection: appends leaves and the perfect-subtree nodes they complete.
#include "projections/ledger/ledger.h"

#include <cstring>

#include "core/base/bytes.h"
#include "core/event/codec.h"
#include "ledger.pb.h"

namespace nf::ledger {
namespace {


std::string node_key(int level, std::uint64_t index) { return "n/" + std::string(1, static_cast<char>(level)) + be64(index); }
std::string leaf_key(std::uint64_t index) { return "l/" + be64(index); }

result<merkle::hash> as_hash(const std::optional<std::string>& v, const std::string& what) {
  if (!v) return error{errc::not_found, what + " is missing"};
  if (v->size() != 32) return error{errc::corruption, what + " is not a 32-byte hash"};
  merkle::hash h;
  std::copy(v->begin(), v->end(), h.begin());
  return h;
}

// Node storage. Subtrees of 16+ leaves (levels >= 4) are one key each (n/). The 30 nodes of
// levels 0..3 inside a complete block of 16 leaves are one key (b/<block>: 16 leaf hashes, then
// 8, 4 and 2 node hashes), so a proof reads one value for the bottom of its path; the leaf hashes
// of the incomplete last block are one key (t/tail), rewritten as it grows.
constexpr std::uint64_t kBlockLeaves = 16;
constexpr int kBlockLevels = 4;
constexpr std::size_t kBlockHashes = 30;
constexpr std::size_t kLevelBase[kBlockLevels] = {0, 16, 24, 28};

std::string block_key(std::uint64_t block) { return "b/" + be64(block); }
constexpr const char* kTailKey = "t/tail";

std::string_view bytes_of(const merkle::hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

std::string encode_block(const std::vector<merkle::hash>& leaves) {
  std::vector<merkle::hash> all(leaves);
  for (std::size_t base = 0, n = kBlockLeaves; n > 2; base += n, n /= 2)
    for (std::size_t i = 0; i < n; i += 2) all.push_back(merkle::node_hash(all[base + i], all[base + i + 1]));
  std::string out;
  out.reserve(kBlockHashes * 32);
  for (const auto& h : all) out.append(bytes_of(h));
  return out;
}

// Node reads through the batch being written (apply) or a snapshot (queries). `size` is the number
// of leaves the state holds; reads are memoised per source (one block and the tail).
template <class Get>
class layout_nodes final : public merkle::node_source {
 public:
  layout_nodes(Get get, std::uint64_t size, node_cache* cache) : get_(std::move(get)), size_(size), cache_(cache) {}

  result<merkle::hash> node(int level, std::uint64_t index) override {
    const auto name = [&] { return "node " + std::to_string(level) + "/" + std::to_string(index); };
    if (level >= kBlockLevels) {
      const bool cacheable = cache_ && level >= node_cache::kMinLevel;
      if (cacheable)
        if (auto h = cache_->find(level, index)) return *h;
      NF_TRY_ASSIGN(auto v, get_(node_key(level, index)));
      NF_TRY_ASSIGN(auto h, as_hash(v, name()));
      if (cacheable) cache_->insert(level, index, h);
      return h;
    }
    const std::uint64_t first_leaf = index << level;
    const std::uint64_t block = first_leaf / kBlockLeaves;
    const std::uint64_t in_block = index - (block * kBlockLeaves >> level);
    if ((block + 1) * kBlockLeaves <= size_) {
      if (block_no_ != block) {
        NF_TRY_ASSIGN(auto v, get_(block_key(block)));
        if (!v) return error{errc::not_found, name() + ": block " + std::to_string(block) + " is missing"};
        if (v->size() != kBlockHashes * 32) return error{errc::corruption, "block " + std::to_string(block) + " is damaged"};
        block_ = std::move(*v);
        block_no_ = block;
      }
      merkle::hash h;
      std::memcpy(h.data(), block_.data() + (kLevelBase[level] + in_block) * 32, 32);
      return h;
    }
    // The incomplete last block: its leaf hashes.
    if (!tail_loaded_) {
      NF_TRY_ASSIGN(auto v, get_(kTailKey));
      tail_ = v ? std::move(*v) : std::string();
      if (tail_.size() != (size_ % kBlockLeaves) * 32) return error{errc::corruption, "the stored tail of the tree is damaged"};
      tail_loaded_ = true;
    }
    const std::uint64_t tail_start = size_ / kBlockLeaves * kBlockLeaves;
    const std::uint64_t count = std::uint64_t{1} << level;
    if (first_leaf < tail_start || first_leaf + count > size_) return error{errc::not_found, name() + " is not in the tree"};
    std::vector<merkle::hash> row(count);
    for (std::uint64_t i = 0; i < count; ++i) std::memcpy(row[i].data(), tail_.data() + (first_leaf - tail_start + i) * 32, 32);
    for (auto n = row.size(); n > 1; n /= 2)
      for (std::size_t i = 0; i < n / 2; ++i) row[i] = merkle::node_hash(row[2 * i], row[2 * i + 1]);
    return row[0];
  }

 private:
  Get get_;
  std::uint64_t size_;
  node_cache* cache_;
  std::uint64_t block_no_ = ~std::uint64_t{0};
  std::string block_;
  bool tail_loaded_ = false;
  std::string tail_;
};

template <class Get>
layout_nodes<Get> make_nodes(Get get, std::uint64_t size, node_cache* cache) {
  return layout_nodes<Get>(std::move(get), size, cache);
}

auto writer_get(::nf::projection::state_writer& w) {
  return [&w](std::string_view k) { return w.get(k); };
}
auto reader_get(::nf::projection::state_reader& r) {
  return [&r](std::string_view k) { return r.get(k); };
}

result<std::uint64_t> read_size(const std::optional<std::string>& v) {
  if (!v) return std::uint64_t{0};
  if (v->size() != 8) return error{errc::corruption, "stored tree size is damaged"};
  return from_be64(*v);
}


result<signed_head> parse_head(std::string_view bytes, const std::string& where) {
  events::TreeHead t;
  if (!t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || t.root_hash().size() != 32)
    return error{errc::corruption, where + ": damaged tree head"};
  signed_head h;
  h.head.size = t.tree_size();
  std::copy(t.root_hash().begin(), t.root_hash().end(), h.head.root.begin());
  h.head.timestamp_ms = t.timestamp_ms();
  h.head.signature = t.signature();
  if (t.key_id().size() == 32) std::copy(t.key_id().begin(), t.key_id().end(), h.key_id.begin());
  return h;
}

result<void> apply_head(const events::Envelope& env, const std::string& where, std::uint64_t size, ::nf::projection::state_writer& w) {
  events::TreeHead t;
  if (!env.payload().UnpackTo(&t) || t.root_hash().size() != 32 || t.signature().size() != 64)
    return error{errc::corruption, where + ": tree head event does not carry a TreeHead with a 32-byte root and a 64-byte signature"};
  if (t.tree_size() > size)
    return error{errc::corruption, where + ": tree head at size " + std::to_string(t.tree_size()) + " but the ledger has " +
                                       std::to_string(size) + " leaves before it"};
  auto nodes = make_nodes(writer_get(w), size, nullptr);
  NF_TRY_ASSIGN(auto root, merkle::root(nodes, t.tree_size()));
  if (std::string_view(reinterpret_cast<const char*>(root.data()), root.size()) != t.root_hash())
    return error{errc::corruption, where + ": the signed root at size " + std::to_string(t.tree_size()) + " is not the tree's root"};
  const auto key = "h/" + be64(t.tree_size());
  NF_TRY_ASSIGN(auto existing, w.get(key));
  if (existing) return ok();  // the same root signed again: the first head stays
  NF_TRY(w.put(key, t.SerializeAsString()));
  NF_TRY_ASSIGN(auto latest, w.get("s/head"));
  if (!latest || from_be64(*latest) <= t.tree_size()) NF_TRY(w.put("s/head", be64(t.tree_size())));
  return ok();
}

}  // namespace

result<void> ledger_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  const auto where = "evidence.ledger@" + std::to_string(m.off.get());
  if (env.type() == kTreeHead) {
    NF_TRY_ASSIGN(auto size_raw, w.get("s/size"));
    NF_TRY_ASSIGN(auto size, read_size(size_raw));
    return apply_head(env, where, size, w);
  }
  if (env.type() != kLeafAppended) return ok();
  events::LedgerLeaf leaf;
  if (!env.payload().UnpackTo(&leaf)) return error{errc::corruption, where + ": leaf event does not carry a LedgerLeaf"};
  const auto index = leaf.index();
  NF_TRY_ASSIGN(auto size_raw, w.get("s/size"));
  NF_TRY_ASSIGN(auto size, read_size(size_raw));
  if (index < size) {
    // A replayed leaf: it must be the very same bytes.
    NF_TRY_ASSIGN(auto existing, w.get(leaf_key(index)));
    if (!existing) return error{errc::corruption, where + ": leaf " + std::to_string(index) + " is missing from the store"};
    events::LedgerLeaf stored;
    if (!stored.ParseFromString(*existing) || stored.data() != leaf.data())
      return error{errc::corruption, where + ": leaf " + std::to_string(index) + " differs from the one already in the tree"};
    return ok();
  }
  if (index != size)
    return error{errc::corruption, where + ": leaf index " + std::to_string(index) + " leaves a gap after tree size " + std::to_string(size)};
  if (!leaf.event_id().empty()) {
    NF_TRY_ASSIGN(auto seen, w.get("e/" + leaf.event_id()));
    if (seen) return error{errc::corruption, where + ": event " + leaf.event_id() + " is already leaf " + *seen};
  }
  auto nodes = make_nodes(writer_get(w), size, nullptr);
  const auto lh = merkle::leaf_hash(leaf.data());
  NF_TRY_ASSIGN(auto completed, merkle::append_nodes(nodes, index, lh));
  // Lookups by hash answer the latest leaf with those bytes (the same bytes twice need two events).
  NF_TRY(w.put("lh/" + std::string(bytes_of(lh)), be64(index)));
  for (const auto& [level, i, h] : completed)
    if (level >= kBlockLevels) NF_TRY(w.put(node_key(level, i), bytes_of(h)));
  NF_TRY_ASSIGN(auto tail_raw, w.get(kTailKey));
  std::string tail = tail_raw ? std::move(*tail_raw) : std::string();
  if (tail.size() != (index % kBlockLeaves) * 32) return error{errc::corruption, where + ": the stored tail of the tree is damaged"};
  tail.append(bytes_of(lh));
  if (index % kBlockLeaves == kBlockLeaves - 1) {
    std::vector<merkle::hash> leaves(kBlockLeaves);
    for (std::size_t i = 0; i < kBlockLeaves; ++i) std::memcpy(leaves[i].data(), tail.data() + i * 32, 32);
    NF_TRY(w.put(block_key(index / kBlockLeaves), encode_block(leaves)));
    tail.clear();
  }
  NF_TRY(w.put(kTailKey, tail));
  leaf.set_tenant_id(env.tenant_id());
  NF_TRY(w.put(leaf_key(index), leaf.SerializeAsString()));
  if (!leaf.event_id().empty()) NF_TRY(w.put("e/" + leaf.event_id(), std::to_string(index)));
  if (!leaf.mission_id().empty()) NF_TRY(w.put("sm/" + leaf.mission_id() + "/" + be64(index), ""));
  if (!leaf.artifact_id().empty()) NF_TRY(w.put("sa/" + leaf.artifact_id() + "/" + be64(index), ""));
  return w.put("s/size", be64(index + 1));
}

std::optional<merkle::hash> node_cache::find(int level, std::uint64_t index) const {
  std::shared_lock lk(mu_);
  const auto l = static_cast<std::size_t>(level - kMinLevel);
  if (level < kMinLevel || l >= levels_.size() || index >= levels_[l].present.size() || !levels_[l].present[index]) return std::nullopt;
  return levels_[l].hashes[index];
}

void node_cache::insert(int level, std::uint64_t index, const merkle::hash& h) {
  if (level < kMinLevel || index > (std::uint64_t{1} << 40)) return;
  std::unique_lock lk(mu_);
  const auto l = static_cast<std::size_t>(level - kMinLevel);
  if (l >= levels_.size()) levels_.resize(l + 1);
  auto& r = levels_[l];
  if (index >= r.present.size()) {
    const auto n = std::max<std::size_t>(static_cast<std::size_t>(index) + 1, r.present.size() * 3 / 2);
    r.hashes.resize(n);
    r.present.resize(n, false);
  }
  if (!r.present[index]) ++count_;
  r.hashes[index] = h;
  r.present[index] = true;
}

std::size_t node_cache::size() const {
  std::shared_lock lk(mu_);
  return count_;
}

result<std::uint64_t> ledger_view::size() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("s/size"));
  return read_size(v);
}

template <class F>
auto ledger_view::with_tree(std::uint64_t size, F&& f) const -> decltype(f(std::declval<merkle::node_source&>())) {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto size_raw, r->get("s/size"));
  NF_TRY_ASSIGN(auto have, read_size(size_raw));
  if (size > have) return error{errc::invalid_argument, "tree size " + std::to_string(size) + " is beyond the ledger's " + std::to_string(have)};
  auto nodes = make_nodes(reader_get(*r), have, cache_);
  return f(nodes);
}

result<merkle::hash> ledger_view::root(std::uint64_t size) const {
  return with_tree(size, [&](merkle::node_source& nodes) { return merkle::root(nodes, size); });
}

result<entry> ledger_view::get(std::uint64_t index) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get(leaf_key(index)));
  if (!v) return error{errc::not_found, "no leaf at index " + std::to_string(index)};
  events::LedgerLeaf leaf;
  if (!leaf.ParseFromString(*v)) return error{errc::corruption, "leaf " + std::to_string(index) + " is damaged"};
  entry e{index, merkle::leaf_hash(leaf.data()), std::move(leaf)};
  NF_TRY_ASSIGN(auto size_raw, r->get("s/size"));
  NF_TRY_ASSIGN(auto size, read_size(size_raw));
  auto nodes = make_nodes(reader_get(*r), size, nullptr);
  NF_TRY_ASSIGN(auto stored_hash, nodes.node(0, index));
  if (stored_hash != e.leaf_hash) return error{errc::corruption, "leaf " + std::to_string(index) + " does not match its stored hash"};
  return e;
}

result<std::optional<std::uint64_t>> ledger_view::index_of_event(const std::string& event_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("e/" + event_id));
  if (!v) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{std::stoull(*v)};
}

result<std::optional<std::uint64_t>> ledger_view::index_of_leaf_hash(const merkle::hash& h) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("lh/" + std::string(reinterpret_cast<const char*>(h.data()), h.size())));
  if (!v) return std::optional<std::uint64_t>{};
  if (v->size() != 8) return error{errc::corruption, "stored leaf-hash index is damaged"};
  return std::optional<std::uint64_t>{from_be64(*v)};
}

result<std::size_t> ledger_view::warm_cache() const {
  if (!cache_) return std::size_t{0};
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::size_t n = 0;
  NF_TRY(r->scan("n/", [&](std::string_view key, std::string_view value) {
    if (key.size() != 2 + 1 + 8 || value.size() != 32) return true;
    merkle::hash h;
    std::memcpy(h.data(), value.data(), 32);
    cache_->insert(static_cast<unsigned char>(key[2]), from_be64(key.substr(3)), h);
    ++n;
    return true;
  }));
  return n;
}

result<std::vector<merkle::hash>> ledger_view::inclusion(std::uint64_t index, std::uint64_t size) const {
  return with_tree(size, [&](merkle::node_source& nodes) { return merkle::inclusion_proof(nodes, index, size); });
}

result<std::vector<merkle::hash>> ledger_view::consistency(std::uint64_t first, std::uint64_t second) const {
  return with_tree(second, [&](merkle::node_source& nodes) { return merkle::consistency_proof(nodes, first, second); });
}

result<std::optional<signed_head>> ledger_view::latest_head() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto latest, r->get("s/head"));
  if (!latest) return std::optional<signed_head>{};
  if (latest->size() != 8) return error{errc::corruption, "stored latest head size is damaged"};
  NF_TRY_ASSIGN(auto v, r->get("h/" + *latest));
  if (!v) return error{errc::corruption, "the latest head (size " + std::to_string(from_be64(*latest)) + ") is missing"};
  NF_TRY_ASSIGN(auto h, parse_head(*v, "head " + std::to_string(from_be64(*latest))));
  return std::optional<signed_head>{std::move(h)};
}

result<std::vector<signed_head>> ledger_view::heads() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<signed_head> out;
  std::optional<error> bad;
  NF_TRY(r->scan("h/", [&](std::string_view key, std::string_view value) {
    auto h = parse_head(value, "head " + std::to_string(from_be64(key.substr(2))));
    if (!h) {
      bad = h.error();
      return false;
    }
    out.push_back(std::move(*h));
    return true;
  }));
  if (bad) return *bad;
  return out;
}

result<std::vector<std::uint64_t>> ledger_view::search(const std::string& prefix, std::size_t limit) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<std::uint64_t> out;
  NF_TRY(r->scan(prefix, [&](std::string_view key, std::string_view) {
    if (key.size() != prefix.size() + 8) return true;  // a longer id sharing this prefix
    out.push_back(from_be64(key.substr(prefix.size())));
    return out.size() < limit;
  }));
  return out;
}

result<std::vector<std::uint64_t>> ledger_view::search_mission(const std::string& mission_id, std::size_t limit) const {
  return search("sm/" + mission_id + "/", limit);
}

result<std::vector<std::uint64_t>> ledger_view::search_artifact(const std::string& artifact_id, std::size_t limit) const {
  return search("sa/" + artifact_id + "/", limit);
}

}  // namespace nf::ledger
