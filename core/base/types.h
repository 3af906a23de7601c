// Strong types for ids and positions: a partition is never confused with an offset.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace nf {

template <class Tag, class T>
class strong {
 public:
  using value_type = T;
  constexpr strong() = default;
  constexpr explicit strong(T v) : v_(std::move(v)) {}
  constexpr const T& get() const noexcept { return v_; }
  constexpr auto operator<=>(const strong&) const = default;
  constexpr bool operator==(const strong&) const = default;

 private:
  T v_{};
};

using topic_name = strong<struct topic_name_tag, std::string>;
using partition_id = strong<struct partition_id_tag, std::int32_t>;
using offset = strong<struct offset_tag, std::int64_t>;
using group_id = strong<struct group_id_tag, std::string>;
using tenant_id = strong<struct tenant_id_tag, std::string>;

struct topic_partition {
  topic_name topic;
  partition_id partition;
  auto operator<=>(const topic_partition&) const = default;
  bool operator==(const topic_partition&) const = default;
};

std::string to_string(const topic_partition& tp);

}  // namespace nf

template <class Tag, class T>
struct std::hash<nf::strong<Tag, T>> {
  std::size_t operator()(const nf::strong<Tag, T>& s) const noexcept { return std::hash<T>{}(s.get()); }
};

template <>
struct std::hash<nf::topic_partition> {
  std::size_t operator()(const nf::topic_partition& tp) const noexcept {
    return std::hash<std::string>{}(tp.topic.get()) * 31 + static_cast<std::size_t>(tp.partition.get());
  }
};
