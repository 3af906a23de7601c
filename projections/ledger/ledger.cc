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

std::uint64_t cache_key(int level, std::uint64_t index) { return static_cast<std::uint64_t>(level) << 58 | index; }

result<std::uint64_t> read_size(const std::optional<std::string>& v) {
  if (!v) return std::uint64_t{0};
  if (v->size() != 8) return error{errc::corruption, "stored tree size is damaged"};
  std::uint64_t n = 0;
  for (char c : *v) n = (n << 8) | static_cast<unsigned char>(c);
  return n;
}

}  // namespace

result<void> ledger_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  if (env.type() != kLeafAppended) return ok();
  const auto where = "evidence.ledger@" + std::to_string(m.off.get());
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
  NF_TRY_ASSIGN(auto completed, merkle::append_nodes(nodes, index, merkle::leaf_hash(leaf.data())));
  for (const auto& [level, i, h] : completed)
    NF_TRY(w.put(node_key(level, i), std::string_view(reinterpret_cast<const char*>(h.data()), h.size())));
  NF_TRY(w.put(leaf_key(index), leaf.SerializeAsString()));
  if (!leaf.event_id().empty()) NF_TRY(w.put("e/" + leaf.event_id(), std::to_string(index)));
  return w.put("s/size", be64(index + 1));
}

std::optional<merkle::hash> node_cache::find(int level, std::uint64_t index) const {
  std::shared_lock lk(mu_);
  auto it = map_.find(cache_key(level, index));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void node_cache::insert(int level, std::uint64_t index, const merkle::hash& h) {
  std::unique_lock lk(mu_);
  map_.emplace(cache_key(level, index), h);
}

std::size_t node_cache::size() const {
  std::shared_lock lk(mu_);
  return map_.size();
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
  entry e{index, leaf.data(), merkle::leaf_hash(leaf.data()), leaf.event_id()};
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

result<std::vector<merkle::hash>> ledger_view::inclusion(std::uint64_t index, std::uint64_t size) const {
  return with_tree(size, [&](merkle::node_source& nodes) { return merkle::inclusion_proof(nodes, index, size); });
}

result<std::vector<merkle::hash>> ledger_view::consistency(std::uint64_t first, std::uint64_t second) const {
  return with_tree(second, [&](merkle::node_source& nodes) { return merkle::consistency_proof(nodes, first, second); });
}

}  // namespace nf::ledger
