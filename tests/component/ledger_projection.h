// A test projection that makes double-applies and skips visible: per key it keeps a count, the
// last sequence number and a hash chain over every value, and records a violation whenever a
// sequence number is not exactly last + 1.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/projection/projection.h"

namespace nf::test {

struct account {
  std::uint64_t count = 0;
  std::int64_t last_seq = -1;
  std::uint64_t chain = 1469598103934665603ull;

  std::string encode() const { return std::to_string(count) + "|" + std::to_string(last_seq) + "|" + std::to_string(chain); }
  static account decode(const std::string& s) {
    account a;
    const auto p1 = s.find('|'), p2 = s.find('|', p1 + 1);
    a.count = std::stoull(s.substr(0, p1));
    a.last_seq = std::stoll(s.substr(p1 + 1, p2 - p1 - 1));
    a.chain = std::stoull(s.substr(p2 + 1));
    return a;
  }
  // Pure fold step shared by the projection and the reference.
  void fold(const std::string& value, std::map<std::string, std::string>* violations, const std::string& key) {
    const auto seq = std::stoll(value);
    if (seq != last_seq + 1 && violations) (*violations)["violation/" + key + "/" + value] = std::to_string(last_seq);
    ++count;
    last_seq = seq;
    for (unsigned char c : value) chain = (chain ^ c) * 1099511628211ull;
    chain = (chain ^ 0xff) * 1099511628211ull;
  }
};

class ledger_projection final : public projection::projection {
 public:
  explicit ledger_projection(std::string topic = "ledger") : topic_(std::move(topic)) {}
  std::string name() const override { return "ledger"; }
  std::vector<std::string> topics() const override { return {topic_}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override {
    if (m.value == "poison") return error{errc::invalid_argument, "poison value"};
    const std::string key = "acct/" + m.key;
    NF_TRY_ASSIGN(auto cur, w.get(key));
    account a = cur ? account::decode(*cur) : account{};
    std::map<std::string, std::string> violations;
    a.fold(m.value, &violations, m.key);
    for (const auto& [k, v] : violations) NF_TRY(w.put(k, v));
    return w.put(key, a.encode());
  }

 private:
  std::string topic_;
};

}  // namespace nf::test
