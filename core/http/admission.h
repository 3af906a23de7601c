// Who is calling: the caller of a request, the typed permissions routes declare, and the
// admission interface the server asks for every route that declares a permission.
//
// core/http knows no tenants, keys or roles. A feature (tenancy) implements `admission`; without
// one, `open_admission` treats every caller as the platform (single-user installs and tests).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/http/message.h"

namespace nf::http {

// A permission a route needs, "resource:action". Features declare theirs as constants next to
// their routes (e.g. missions::perm::read); the admission implementation decides who holds them.
class permission {
 public:
  constexpr explicit permission(std::string_view name) : name_(name) {}
  constexpr std::string_view name() const { return name_; }
  constexpr bool operator==(const permission&) const = default;

 private:
  std::string_view name_;
};

// What an admission implementation keeps about a caller beyond the common fields (for its own
// routes, which recover it with dynamic_cast).
struct caller_detail {
  virtual ~caller_detail() = default;
};

struct caller {
  std::string tenant;                 // empty: the platform admin outside any tenant
  std::string principal;              // who, e.g. "key:<key id>", "jwt:<sub>", "platform"
  std::vector<std::string> roles;
  bool platform_admin = false;
  // The caller's quotas as the admission knows them, by name ("installedAgents", ...): a feature
  // that enforces one of its own reads it here. Absent or -1: unlimited.
  std::map<std::string, std::int64_t, std::less<>> limits;
  std::shared_ptr<const caller_detail> detail;
  // Whether the caller may see a resource owned by `tenant_id`.
  bool sees(std::string_view tenant_id) const { return platform_admin || tenant_id == tenant; }
};

class admission {
 public:
  virtual ~admission() = default;
  // The caller of a request (rate limited and metered as the implementation decides): its
  // identity, or the 401/403/429 answer.
  virtual std::variant<caller, response> admit(const request& req) = 0;
  // nullopt when the caller holds `p`; otherwise the 403 answer naming it.
  virtual std::optional<response> require(const caller& c, permission p, const request& req) = 0;
  // Whether the caller's `p` reaches `resource` (a topic, for events:write): a role may hold a
  // permission for some resources only ("events:write@orders.*"). require() already passed.
  virtual bool allows(const caller& c, permission p, std::string_view resource) = 0;
  // Before a write of `events` events of `bytes` bytes in all on behalf of `c` (a batch counts
  // whole): nullopt to go ahead, or the answer refusing it (429 naming the quota).
  virtual std::optional<response> admit_write(const caller& c, std::int64_t events, std::int64_t bytes, std::string_view route,
                                              const request& req) = 0;
  // An admitted request was answered with `status` (the audit log).
  virtual void record(const caller& c, const request& req, std::string_view route, std::string_view path, unsigned status) = 0;
  // For a long-lived stream: a check the stream runs every half second, nullopt while the
  // caller's credential still holds, else why it no longer does. Empty: never re-checked.
  using recheck_fn = std::function<std::optional<std::string>()>;
  virtual recheck_fn recheck(const caller& c, const request& req) = 0;
};

// Every caller is the platform: no credentials, no limits, no audit.
class open_admission final : public admission {
 public:
  std::variant<caller, response> admit(const request&) override {
    caller c;
    c.platform_admin = true;
    c.principal = "platform";
    return c;
  }
  std::optional<response> require(const caller&, permission, const request&) override { return std::nullopt; }
  bool allows(const caller&, permission, std::string_view) override { return true; }
  std::optional<response> admit_write(const caller&, std::int64_t, std::int64_t, std::string_view, const request&) override {
    return std::nullopt;
  }
  void record(const caller&, const request&, std::string_view, std::string_view, unsigned) override {}
  recheck_fn recheck(const caller&, const request&) override { return {}; }
};

}  // namespace nf::http
