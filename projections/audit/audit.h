// The audit read model: every authenticated request (tenancy.audit) and every tenancy change
// (tenancy.tenants), per tenant in time order.
//
// Keys: a/<tenant>/<at ms, 8 bytes BE>/<topic>/<offset, 8 bytes BE> -> JSON record
//   requests: {at, kind: "request", principal, roles, method, route, target, status}
//   changes:  {at, kind: "change", type, event: <payload>}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"

namespace nf::audit {

inline constexpr const char* kAuditTopic = "tenancy.audit";

class audit_projection final : public projection::projection {
 public:
  std::string name() const override { return "audit"; }
  std::vector<std::string> topics() const override { return {kAuditTopic, "tenancy.tenants"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
};

class audit_view {
 public:
  audit_view(::nf::projection::store& store, const audit_projection& proj) : store_(store), proj_(proj) {}
  // Records of a tenant with from_ms <= at < to_ms, oldest first, at most `limit`.
  result<std::vector<nlohmann::json>> range(const tenant_id& tenant, std::int64_t from_ms, std::int64_t to_ms, std::size_t limit) const;

 private:
  ::nf::projection::store& store_;
  const audit_projection& proj_;
};

}  // namespace nf::audit
