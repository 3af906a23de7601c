#include "core/bus/position_token.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "core/base/base64.h"
#include "core/base/sha256.h"

namespace nf::bus {
namespace {

constexpr char kVersion = 1;
constexpr std::size_t kCheckBytes = 8;
constexpr std::size_t kMaxPositions = 4096;
constexpr std::size_t kMaxText = 1024;  // a cluster id or topic name

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_text(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return shift < 63 || (b & 0x7f) <= 1;
    }
    return false;
  }
  bool text(std::string& s) {
    std::uint64_t n = 0;
    if (!varint(n) || n > kMaxText || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

std::string check_of(std::string_view body) {
  const auto d = sha256(body);
  return std::string(reinterpret_cast<const char*>(d.data()), kCheckBytes);
}

}  // namespace

std::string encode_position_token(std::string_view cluster_id, const std::vector<position>& positions) {
  std::string body;
  body.push_back(kVersion);
  put_text(body, cluster_id);
  put_varint(body, positions.size());
  for (const auto& p : positions) {
    put_text(body, p.tp.topic.get());
    put_varint(body, static_cast<std::uint64_t>(p.tp.partition.get()));
    put_varint(body, static_cast<std::uint64_t>(p.off.get()));
  }
  body += check_of(body);
  return to_base64url(body);
}

result<std::vector<position>> decode_position_token(std::string_view token, std::string_view cluster_id) {
  const auto bad = [](const std::string& why) { return error{errc::invalid_argument, "not a position token: " + why}; };
  if (token.empty()) return bad("it is empty");
  if (token.size() > 64 * 1024) return bad("it is longer than 64 KiB");
  auto raw = from_base64url(token);
  if (!raw) return bad("it is not base64url");
  if (raw->size() < 1 + kCheckBytes) return bad("it is too short");
  const std::string_view all(*raw);
  const auto body = all.substr(0, all.size() - kCheckBytes);
  if (check_of(body) != all.substr(all.size() - kCheckBytes)) return bad("its check does not match (it was changed or cut)");
  if (body[0] != kVersion) return bad("unknown version " + std::to_string(static_cast<int>(body[0])));
  reader r(body.substr(1));
  std::string cluster;
  std::uint64_t n = 0;
  if (!r.text(cluster) || !r.varint(n)) return bad("it is damaged");
  if (cluster != cluster_id)
    return error{errc::invalid_argument, "the position token belongs to another cluster ('" + cluster + "'; this is '" + std::string(cluster_id) + "')"};
  if (n > kMaxPositions) return bad("more than " + std::to_string(kMaxPositions) + " positions");
  std::vector<position> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string topic;
    std::uint64_t part = 0, off = 0;
    if (!r.text(topic) || topic.empty() || !r.varint(part) || !r.varint(off) || part > 0x7fffffff ||
        off > static_cast<std::uint64_t>(INT64_MAX))
      return bad("it is damaged");
    out.push_back({{topic_name{std::move(topic)}, partition_id{static_cast<std::int32_t>(part)}}, offset{static_cast<std::int64_t>(off)}});
  }
  if (!r.done()) return bad("it is damaged");
  return out;
}

std::vector<position> merge_positions(std::vector<position> a, const std::vector<position>& b) {
  std::map<topic_partition, offset> best;
  for (const auto& v : {std::cref(a), std::cref(b)})
    for (const auto& p : v.get()) {
      auto [it, fresh] = best.try_emplace(p.tp, p.off);
      if (!fresh && p.off > it->second) it->second = p.off;
    }
  a.clear();
  for (const auto& [tp, off] : best) a.push_back({tp, off});
  return a;
}

}  // namespace nf::bus
