// The event type registry.
#include "core/event/types.h"

#include <mutex>
#include <stdexcept>

#include <google/protobuf/descriptor.h>

namespace nf::event {

type_registry& type_registry::global() {
  static type_registry r;
  return r;
}

void type_registry::add(std::string_view name, const google::protobuf::Descriptor* payload, std::string_view owner,
                        std::uint32_t schema_version) {
  std::unique_lock lk(mu_);
  auto [it, inserted] = types_.try_emplace(std::string(name));
  auto& t = it->second;
  if (!inserted) {
    if (t.payload != payload || t.owner != owner)
      throw std::logic_error("event type '" + std::string(name) + "' is declared by '" + t.owner + "' and again by '" + std::string(owner) + "'");
    return;
  }
  t = type_info{std::string(name), payload, schema_version, std::string(owner)};
}

const type_info* type_registry::find(std::string_view name) const {
  std::shared_lock lk(mu_);
  auto it = types_.find(std::string(name));
  return it == types_.end() ? nullptr : &it->second;
}

std::vector<type_info> type_registry::all() const {
  std::shared_lock lk(mu_);
  std::vector<type_info> out;
  for (const auto& [n, t] : types_) out.push_back(t);
  return out;
}

}  // namespace nf::event
