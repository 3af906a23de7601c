// Shared bus helpers: the Kafka-compatible partitioner, topic patterns and name rules.
#include "core/bus/bus.h"

namespace nf::bus {

const std::string* message::find_header(const std::string& name) const {
  for (const auto& h : headers)
    if (h.name == name) return &h.value;
  return nullptr;
}

std::int32_t murmur2(std::string_view key) noexcept {
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const std::uint32_t length = static_cast<std::uint32_t>(key.size());
  const std::uint32_t seed = 0x9747b28c;
  const std::uint32_t m = 0x5bd1e995;
  const int r = 24;
  std::uint32_t h = seed ^ length;
  const std::uint32_t length4 = length / 4;
  for (std::uint32_t i = 0; i < length4; ++i) {
    const std::uint32_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(data[i4 + 0]) | (static_cast<std::uint32_t>(data[i4 + 1]) << 8) |
                      (static_cast<std::uint32_t>(data[i4 + 2]) << 16) | (static_cast<std::uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<std::uint32_t>(data[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

partition_id partition_for_key(std::string_view key, std::int32_t partitions) noexcept {
  const auto positive = static_cast<std::uint32_t>(murmur2(key)) & 0x7fffffffu;
  return partition_id{static_cast<std::int32_t>(positive % static_cast<std::uint32_t>(partitions))};
}

bool is_pattern(std::string_view s) noexcept { return s.find('*') != std::string_view::npos; }

bool subscribed_by(const std::vector<std::string>& subs, std::string_view topic) noexcept {
  // An entry "!<pattern>" leaves out what the pattern matches (topic names never hold '!').
  bool in = false;
  for (const auto& s : subs) {
    if (!s.empty() && s[0] == '!') {
      const std::string_view p = std::string_view(s).substr(1);
      if (is_pattern(p) ? topic_matches(p, topic) : p == topic) return false;
      continue;
    }
    if (is_pattern(s) ? topic_matches(s, topic) : s == topic) in = true;
  }
  return in;
}

bool topic_matches(std::string_view p, std::string_view t) noexcept {
  // Iterative glob with backtracking over the last '*'.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string pattern_to_regex(std::string_view p) {
  std::string out = "^";
  for (char c : p) {
    if (c == '*') out += ".*";
    else if (c == '.' || c == '-' || c == '+' || c == '?' || c == '(' || c == ')' || c == '[' || c == ']' ||
             c == '{' || c == '}' || c == '^' || c == '$' || c == '|' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + "$";
}

result<void> validate_topic_name(std::string_view name) {
  if (name.empty()) return error{errc::invalid_argument, "topic name must not be empty"};
  if (name.size() > 249) return error{errc::invalid_argument, "topic name longer than 249 characters"};
  if (name == "." || name == "..") return error{errc::invalid_argument, "topic name cannot be '.' or '..'"};
  for (char c : name) {
    const bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                     c == '_' || c == '-';
    if (!okc)
      return error{errc::invalid_argument, "topic name '" + std::string(name) +
                                               "' contains an illegal character; allowed: a-z A-Z 0-9 . _ -"};
  }
  return ok();
}

std::size_t record_size(const record& r) noexcept {
  std::size_t n = r.key.size() + r.value.size();
  for (const auto& h : r.headers) n += h.name.size() + h.value.size();
  return n;
}

result<void> check_cleanup(const topic_name& name, const topic_config& cfg) {
  if (!cfg.compact) return ok();
  if (cfg.retention_ms >= 0 || cfg.retention_bytes >= 0)
    return error{errc::invalid_argument, "topic '" + name.get() + "': a compacted topic keeps every key's latest record, so it takes no retention"};
  if (cfg.delete_retention_ms < 0)
    return error{errc::invalid_argument, "topic '" + name.get() + "': delete retention must be 0 or more ms, got " + std::to_string(cfg.delete_retention_ms)};
  return ok();
}

result<void> check_record_sizes(std::span<const record> records, std::size_t max_event_bytes) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto n = record_size(records[i]);
    if (n > max_event_bytes)
      return error{errc::too_large, "event " + std::to_string(i) + " of " + std::to_string(n) + " bytes exceeds the maximum of " +
                                        std::to_string(max_event_bytes) + " bytes (bus.max_event_bytes)"};
  }
  return ok();
}

}  // namespace nf::bus
