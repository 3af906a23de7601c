// libFuzzer: dependency graphs built from the input (up to 6 packages, 4 versions each, ranges
// picked from a list that covers every operator). Nothing may crash or run away; a resolution
// meets every range of every package it chose and orders each after its dependencies; a failure
// says why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "actors/marketplace/resolver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nf::marketplace;
  static const char* kVersions[] = {"0.9.0", "1.0.0", "1.1.0-rc.1", "1.1.0", "2.0.0", "2.1.3"};
  static const char* kRanges[] = {"^1.0.0", "~1.1.0", ">=1.0.0 <2.0.0", "1.x || 2.x", "*", "=2.0.0", "<1.1.0", "^1.1.0-rc.0", "2.0.0 - 2.1.3",
                                  ">=0.9.0", "^3.0.0"};
  std::size_t at = 0;
  auto next = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
  const int n = 1 + next() % 6;
  std::map<std::string, std::vector<candidate>> reg;
  for (int p = 0; p < n; ++p) {
    const int vs = next() % 5;
    for (int v = 0; v < vs; ++v) {
      candidate c{*parse_version(kVersions[next() % 6]), {}, "d"};
      const int deps = next() % 4;
      for (int d = 0; d < deps; ++d)
        c.dependencies.push_back({"p" + std::to_string(next() % 7), kRanges[next() % 11]});  // p6 never exists
      reg["p" + std::to_string(p)].push_back(std::move(c));
    }
  }
  const package_source src = [&](std::string_view name) -> std::optional<std::vector<candidate>> {
    auto it = reg.find(std::string(name));
    if (it == reg.end()) return std::nullopt;
    return it->second;
  };
  auto r = resolve("p0", kRanges[next() % 11], src, resolve_options{.max_steps = 20'000});
  if (auto* f = std::get_if<resolve_failure>(&r)) {
    if (f->message.empty()) std::abort();
    return 0;
  }
  const auto& sol = std::get<resolution>(r);
  std::map<std::string, version> chosen;
  for (const auto& p : sol.packages) chosen[p.name] = p.ver;
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < sol.order.size(); ++i) pos[sol.order[i].substr(0, sol.order[i].find('@'))] = i;
  for (const auto& p : sol.packages) {
    // Of candidates that share a version, the resolver keeps the first (as published first).
    const candidate* c = nullptr;
    for (const auto& k : reg[p.name])
      if (!c && compare(k.ver, p.ver) == 0) c = &k;
    if (!c) std::abort();
    for (const auto& d : c->dependencies) {
      auto it = chosen.find(d.name);
      if (it == chosen.end() || !range::parse(d.range)->satisfied_by(it->second)) std::abort();
      if (pos.at(d.name) >= pos.at(p.name) && d.name != p.name) std::abort();
    }
  }
  return 0;
}
