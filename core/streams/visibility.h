// Which topics the generic topic and subscription routes show a tenant. Features mark the
// topics that hold the platform's own records (a tenant directory, an audit log, a ledger's
// internals, dead letters) as restricted: only the platform admin reads them there; tenants use
// each feature's own views. Filled at start-up, read-only afterwards.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nf::streams {

class topic_visibility {
 public:
  // Topics matching `pattern` ("tenancy.*" or an exact name) are restricted...
  void restrict(std::string pattern) { restricted_.push_back(std::move(pattern)); }
  // ...except this exact topic, which stays readable (e.g. tenancy.usage: a tenant's own alerts).
  void allow(std::string topic) { allowed_.push_back(std::move(topic)); }
  bool restricted(std::string_view topic) const;
  // Whether the platform alone writes `topic`: it matches a restricted pattern (the exceptions
  // readable by tenants included), or is a command or platform topic ("commands.*",
  // "platform.*"). Generic producing refuses these for every caller.
  bool platform_written(std::string_view topic) const;

 private:
  std::vector<std::string> restricted_, allowed_;
};

}  // namespace nf::streams
