// Ledger projection: appends leaves and the perfect-subtree nodes they complete.
#include "projections/ledger/ledger.h"

#include "core/event/codec.h"
#include "ledger.pb.h"

namespace nf::ledger {
namespace {

std::string be64(std::uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

std::string node_key(int level, std::uint64_t index) { return "n/" + std::string(1, static_cast<char>(level)) + be64(index); }
std::string leaf_key(std::uint64_t index) { return "l/" + be64(index); }

result<merkle::hash> as_hash(const std::optional<std::string>& v, const std::string& what) {
  if (!v) return error{errc::not_found, what + " is missing"};
  if (v->size() != 32) return error{errc::corruption, what + " is not a 32-byte hash"};
  merkle::hash h;
  std::copy(v->begin(), v->end(), h.begin());
  return h;
}

// Node reads through the batch being written (apply) or a snapshot (queries).
class writer_nodes final : public merkle::node_source {
 public:
  explicit writer_nodes(::nf::projection::state_writer& w) : w_(w) {}
  result<merkle::hash> node(int level, std::uint64_t index) override {
    NF_TRY_ASSIGN(auto v, w_.get(node_key(level, index)));
    return as_hash(v, "node " + std::to_string(level) + "/" + std::to_string(index));
  }

 private:
  ::nf::projection::state_writer& w_;
};

class reader_nodes final : public merkle::node_source {
 public:
  reader_nodes(::nf::projection::state_reader& r, node_cache* cache) : r_(r), cache_(cache) {}
  result<merkle::hash> node(int level, std::uint64_t index) override {
    const bool cacheable = cache_ && level >= node_cache::kMinLevel;
    if (cacheable)
      if (auto h = cache_->find(level, index)) return *h;
    NF_TRY_ASSIGN(auto v, r_.get(node_key(level, index)));
    NF_TRY_ASSIGN(auto h, as_hash(v, "node " + std::to_string(level) + "/" + std::to_string(index)));
    if (cacheable) cache_->insert(level, index, h);
    return h;
  }

 private:
  ::nf::projection::state_reader& r_;
  node_cache* cache_;
};

result<std::uint64_t> read_size(const std::optional<std::string>& v) {
  if (!v) return std::uint64_t{0};
  if (v->size() != 8) return error{errc::corruption, "stored tree size is damaged"};
  std::uint64_t n = 0;
  for (char c : *v) n = (n << 8) | static_cast<unsigned char>(c);
  return n;
}

std::uint64_t from_be64(std::string_view v) {
  std::uint64_t n = 0;
  for (char c : v) n = (n << 8) | static_cast<unsigned char>(c);
  return n;
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
  writer_nodes nodes(w);
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
  writer_nodes nodes(w);
  const auto lh = merkle::leaf_hash(leaf.data());
  NF_TRY_ASSIGN(auto completed, merkle::append_nodes(nodes, index, lh));
  // Lookups by hash answer the latest leaf with those bytes (the same bytes twice need two events).
  NF_TRY(w.put("lh/" + std::string(reinterpret_cast<const char*>(lh.data()), lh.size()), be64(index)));
  for (const auto& [level, i, h] : completed)
    NF_TRY(w.put(node_key(level, i), std::string_view(reinterpret_cast<const char*>(h.data()), h.size())));
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
  reader_nodes nodes(*r, cache_);
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
  entry e{index,
          leaf.data(),
          merkle::leaf_hash(leaf.data()),
          leaf.event_id(),
          leaf.mission_id(),
          leaf.artifact_id(),
          leaf.event_type(),
          leaf.source_topic(),
          leaf.source_partition(),
          leaf.source_offset()};
  NF_TRY_ASSIGN(auto stored, r->get(node_key(0, index)));
  NF_TRY_ASSIGN(auto stored_hash, as_hash(stored, "leaf hash " + std::to_string(index)));
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
