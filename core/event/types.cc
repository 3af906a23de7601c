// The event type registry.
#include "core/event/types.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <google/protobuf/descriptor.h>

#include "envelope.pb.h"

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
  generation_.fetch_add(1, std::memory_order_release);
}

const type_info* type_registry::find(std::string_view name) const {
  std::shared_lock lk(mu_);
  auto it = types_.find(std::string(name));
  return it == types_.end() ? nullptr : &it->second;
}

void type_registry::add_upcaster(std::string_view type, std::uint32_t from, upcaster fn) {
  std::unique_lock lk(mu_);
  auto it = types_.find(std::string(type));
  if (it == types_.end()) throw std::logic_error("an upcaster for '" + std::string(type) + "', which nobody declared");
  if (from < 1 || from >= it->second.schema_version)
    throw std::logic_error("an upcaster of '" + std::string(type) + "' from version " + std::to_string(from) + ", where the current version is " +
                           std::to_string(it->second.schema_version));
  upcasters_.try_emplace({std::string(type), from}, std::move(fn));  // features register at every start: the first stays
}

result<void> type_registry::upcast(events::Envelope& env) const {
  std::uint32_t v = std::max<std::uint32_t>(env.schema_version(), 1);
  // This thread's view of current versions (0: undeclared), valid while generation_ stays.
  struct seen_versions {
    const type_registry* registry = nullptr;
    std::uint64_t generation = ~std::uint64_t{0};
    std::unordered_map<std::string, std::uint32_t> current;
  };
  thread_local seen_versions seen;
  const auto gen = generation_.load(std::memory_order_acquire);
  if (seen.registry != this || seen.generation != gen || seen.current.size() > 4096) {
    seen.registry = this;
    seen.generation = gen;
    seen.current.clear();
  }
  if (auto c = seen.current.find(env.type()); c != seen.current.end() && (c->second == 0 || c->second == v)) return ok();
  std::shared_lock lk(mu_);
  auto t = types_.find(env.type());
  if (t == types_.end()) {
    seen.current[env.type()] = 0;
    return ok();
  }
  const std::uint32_t current = t->second.schema_version;
  seen.current[env.type()] = current;
  if (v == current) return ok();
  if (v > current)
    return error{errc::unsupported, "event type '" + env.type() + "' version " + std::to_string(v) + " is newer than this code reads (up to " +
                                        std::to_string(current) + "); upgrade nexus-forge to read it"};
  events::Envelope out = env;
  for (; v < current; ++v) {
    auto step = upcasters_.find(std::pair<std::string, std::uint32_t>(env.type(), v));
    if (step == upcasters_.end())
      return error{errc::unsupported, "event type '" + env.type() + "' version " + std::to_string(v) + " cannot be read: no upcaster from it (the code reads version " +
                                          std::to_string(current) + ")"};
    if (auto r = step->second(out); !r)
      return error{r.error().code, "upcasting '" + env.type() + "' from version " + std::to_string(v) + ": " + r.error().message};
    out.set_schema_version(v + 1);
  }
  env = std::move(out);
  return ok();
}

std::vector<type_info> type_registry::all() const {
  std::shared_lock lk(mu_);
  std::vector<type_info> out;
  for (const auto& [n, t] : types_) out.push_back(t);
  return out;
}

}  // namespace nf::event
