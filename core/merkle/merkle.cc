// RFC 6962 Merkle tree algorithms over perfect-subtree node reads.
#include "core/merkle/merkle.h"

#include <memory>

#include <openssl/evp.h>

#include <bit>

namespace nf::merkle {
namespace {

// The largest power of two strictly smaller than n (n >= 2).
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

bool is_pow2(std::uint64_t n) { return n && !(n & (n - 1)); }

hash digest(const void* a, std::size_t an, const void* b = nullptr, std::size_t bn = 0, const void* c = nullptr, std::size_t cn = 0) {
  // One context per thread, freed when the thread ends.
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> owned(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_MD_CTX* ctx = owned.get();
  // An explicitly fetched algorithm: EVP_sha256() makes OpenSSL 3 look the provider up on every
  // init, which doubles the cost of hashing 64 bytes.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  hash out;
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, md, nullptr);
  EVP_DigestUpdate(ctx, a, an);
  if (bn) EVP_DigestUpdate(ctx, b, bn);
  if (cn) EVP_DigestUpdate(ctx, c, cn);
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  return out;
}

// MTH of leaves [start, start + size), where start is a multiple of bit_ceil(size).
result<hash> subtree(node_source& src, std::uint64_t start, std::uint64_t size) {
  if (is_pow2(size)) return src.node(std::countr_zero(size), start / size);
  const auto k = split(size);
  NF_TRY_ASSIGN(auto left, src.node(std::countr_zero(k), start / k));
  NF_TRY_ASSIGN(auto right, subtree(src, start + k, size - k));
  return node_hash(left, right);
}

result<void> path(node_source& src, std::uint64_t m, std::uint64_t start, std::uint64_t n, std::vector<hash>& out) {
  if (n <= 1) return ok();
  const auto k = split(n);
  if (m < k) {
    NF_TRY(path(src, m, start, k, out));
    NF_TRY_ASSIGN(auto h, subtree(src, start + k, n - k));
    out.push_back(h);
  } else {
    NF_TRY(path(src, m - k, start + k, n - k, out));
    NF_TRY_ASSIGN(auto h, subtree(src, start, k));
    out.push_back(h);
  }
  return ok();
}

result<void> subproof(node_source& src, std::uint64_t m, std::uint64_t start, std::uint64_t n, bool whole, std::vector<hash>& out) {
  if (m == n) {
    if (!whole) {
      NF_TRY_ASSIGN(auto h, subtree(src, start, n));
      out.push_back(h);
    }
    return ok();
  }
  const auto k = split(n);
  if (m <= k) {
    NF_TRY(subproof(src, m, start, k, whole, out));
    NF_TRY_ASSIGN(auto h, subtree(src, start + k, n - k));
    out.push_back(h);
  } else {
    NF_TRY(subproof(src, m - k, start + k, n - k, false, out));
    NF_TRY_ASSIGN(auto h, subtree(src, start, k));
    out.push_back(h);
  }
  return ok();
}

}  // namespace

hash sha256(std::string_view data) { return digest(data.data(), data.size()); }

hash leaf_hash(std::string_view data) {
  const std::uint8_t prefix = 0x00;
  return digest(&prefix, 1, data.data(), data.size());
}

hash node_hash(const hash& left, const hash& right) {
  const std::uint8_t prefix = 0x01;
  return digest(&prefix, 1, left.data(), left.size(), right.data(), right.size());
}

hash empty_root() { return sha256(""); }

std::string to_hex(const hash& h) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (auto b : h) {
    out.push_back(d[b >> 4]);
    out.push_back(d[b & 0xf]);
  }
  return out;
}

result<hash> from_hex(std::string_view hex) {
  if (hex.size() != 64) return error{errc::invalid_argument, "a hash is 64 hex digits, got " + std::to_string(hex.size()) + " characters"};
  hash h;
  for (std::size_t i = 0; i < 32; ++i) {
    auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
    const int hi = v(hex[2 * i]), lo = v(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return error{errc::invalid_argument, "a hash is 64 hex digits; found a non-hex character"};
    h[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return h;
}

result<std::vector<std::tuple<int, std::uint64_t, hash>>> append_nodes(node_source& src, std::uint64_t index, const hash& leaf) {
  std::vector<std::tuple<int, std::uint64_t, hash>> out;
  out.emplace_back(0, index, leaf);
  hash cur = leaf;
  std::uint64_t i = index;
  for (int level = 0; i & 1; ++level, i >>= 1) {
    NF_TRY_ASSIGN(auto left, src.node(level, i - 1));
    cur = node_hash(left, cur);
    out.emplace_back(level + 1, i >> 1, cur);
  }
  return out;
}

result<hash> root(node_source& src, std::uint64_t size) {
  if (size == 0) return empty_root();
  return subtree(src, 0, size);
}

result<std::vector<hash>> inclusion_proof(node_source& src, std::uint64_t index, std::uint64_t size) {
  if (index >= size)
    return error{errc::invalid_argument, "leaf index " + std::to_string(index) + " is not below tree size " + std::to_string(size)};
  std::vector<hash> out;
  NF_TRY(path(src, index, 0, size, out));
  return out;
}

result<std::vector<hash>> consistency_proof(node_source& src, std::uint64_t first, std::uint64_t second) {
  if (first > second)
    return error{errc::invalid_argument, "first (" + std::to_string(first) + ") is larger than second (" + std::to_string(second) + ")"};
  std::vector<hash> out;
  if (first == 0 || first == second) return out;
  NF_TRY(subproof(src, first, 0, second, true, out));
  return out;
}

bool verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t size, std::span<const hash> proof, const hash& root_hash) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  hash r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (fn && !(fn & 1)) fn >>= 1, sn >>= 1;
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root_hash;
}

bool verify_consistency(std::uint64_t first, std::uint64_t second, const hash& first_root, const hash& second_root,
                        std::span<const hash> proof) {
  if (first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (first == 0) return proof.empty();
  if (proof.empty()) return false;
  std::vector<hash> path(proof.begin(), proof.end());
  if (is_pow2(first)) path.insert(path.begin(), first_root);
  std::uint64_t fn = first - 1, sn = second - 1;
  while (fn & 1) fn >>= 1, sn >>= 1;
  hash fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(path[i], fr);
      sr = node_hash(path[i], sr);
      if (!(fn & 1))
        while (fn && !(fn & 1)) fn >>= 1, sn >>= 1;
    } else {
      sr = node_hash(sr, path[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == first_root && sr == second_root;
}

result<hash> memory_tree::node(int level, std::uint64_t index) {
  if (level < 0 || static_cast<std::size_t>(level) >= levels_.size() || index >= levels_[static_cast<std::size_t>(level)].size())
    return error{errc::not_found, "no node at level " + std::to_string(level) + " index " + std::to_string(index)};
  return levels_[static_cast<std::size_t>(level)][index];
}

void memory_tree::append(std::string_view data) { append_leaf_hash(leaf_hash(data)); }

void memory_tree::append_leaf_hash(const hash& leaf) {
  auto nodes = append_nodes(*this, size(), leaf);
  for (const auto& [level, index, h] : *nodes) {
    if (levels_.size() <= static_cast<std::size_t>(level)) levels_.resize(static_cast<std::size_t>(level) + 1);
    levels_[static_cast<std::size_t>(level)].push_back(h);
  }
}

void frontier::append(const hash& leaf) {
  hash cur = leaf;
  for (std::uint64_t n = size_; n & 1; n >>= 1) {
    cur = node_hash(nodes_.back(), cur);
    nodes_.pop_back();
  }
  nodes_.push_back(cur);
  ++size_;
}

hash frontier::root() const {
  if (nodes_.empty()) return empty_root();
  hash h = nodes_.back();
  for (auto i = nodes_.size() - 1; i-- > 0;) h = node_hash(nodes_[i], h);
  return h;
}

std::optional<hash> frontier::find(int level, std::uint64_t index) const {
  if (level < 0 || level > 63 || !((size_ >> level) & 1)) return std::nullopt;
  if (index != (size_ >> level) - 1) return std::nullopt;
  // Frontier nodes are ordered by level, highest first: this one follows every higher set bit.
  const auto pos = static_cast<std::size_t>(std::popcount(level == 63 ? 0 : size_ >> (level + 1)));
  return nodes_[pos];
}

namespace {

class extension_nodes final : public node_source {
 public:
  extension_nodes(const frontier& f, std::span<const hash> leaves) : f_(f), leaves_(leaves) {}
  result<hash> node(int level, std::uint64_t index) override {
    const std::uint64_t first = f_.size();
    const std::uint64_t start = index << level, end = (index + 1) << level;
    if (end <= first) {
      if (auto h = f_.find(level, index)) return *h;
    } else if (start >= first && end <= first + leaves_.size()) {
      std::vector<hash> row(leaves_.begin() + static_cast<std::ptrdiff_t>(start - first),
                            leaves_.begin() + static_cast<std::ptrdiff_t>(end - first));
      for (auto n = row.size(); n > 1; n /= 2)
        for (std::size_t i = 0; i < n / 2; ++i) row[i] = node_hash(row[2 * i], row[2 * i + 1]);
      return row[0];
    }
    return error{errc::internal, "node " + std::to_string(level) + "/" + std::to_string(index) +
                                     " is neither a frontier node nor made of new leaves"};
  }

 private:
  const frontier& f_;
  std::span<const hash> leaves_;
};

}  // namespace

result<std::vector<hash>> extension_proof(const frontier& from, std::span<const hash> leaves) {
  extension_nodes nodes(from, leaves);
  return consistency_proof(nodes, from.size(), from.size() + leaves.size());
}

}  // namespace nf::merkle
