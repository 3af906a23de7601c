// The keys (tenants, ids) a projection changed since the last drain, for work that must follow
// the batch's commit: a projection adds while folding, the feed's on_applied callback drains.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace nf::projection {

class touched_set {
 public:
  void add(std::string_view key) {
    std::lock_guard lk(mu_);
    keys_.emplace(key);
  }
  std::vector<std::string> drain() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out(keys_.begin(), keys_.end());
    keys_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::set<std::string, std::less<>> keys_;
};

}  // namespace nf::projection
