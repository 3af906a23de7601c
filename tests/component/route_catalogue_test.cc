// The route table against the permission catalogue: every permission a route of the node
// `serve` runs declares is one the tenancy feature's catalogue knows and some built-in role
// grants, and /openapi.json names it. A route that asks for a permission nobody can hold (a typo
// in a feature's constant) fails here instead of answering 403 to everyone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>

#include "actors/tenancy/rbac.h"
#include "tests/support/node.h"

namespace {

using namespace nf;

TEST(RouteCatalogue, EveryDeclaredPermissionIsInTheCatalogueAndGrantedByARole) {
  test::in_process_node n("route-catalogue");
  std::set<std::string> granted;
  for (const char* role : {"viewer", "auditor", "developer", "admin", "owner"}) {
    auto perms = tenancy::builtin_permissions(role);
    ASSERT_TRUE(perms.has_value()) << role;
    granted.insert(perms->begin(), perms->end());
  }
  std::size_t declared = 0;
  for (const auto& r : n.node().routes().all()) {
    if (!r->perm) continue;
    ++declared;
    const std::string p(r->perm->name());
    EXPECT_TRUE(tenancy::known_permission(p)) << r->path << " declares '" << p << "', which is not in the catalogue";
    if (p != "tenants:create" && p != "cluster:read" && p != "cluster:write") {  // the platform admin's alone
      EXPECT_TRUE(granted.count(p)) << r->path << " declares '" << p << "', which no built-in role grants";
    }
  }
  EXPECT_GT(declared, 20u);

  // The document says which permission each operation needs.
  const auto raw = n.respond("GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto doc = nlohmann::json::parse(raw.substr(raw.find("\r\n\r\n") + 4));
  std::size_t documented = 0;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items())
      if (op.is_object() && op.contains("x-permission")) {
        ++documented;
        EXPECT_TRUE(tenancy::known_permission(op["x-permission"].get<std::string>())) << method << " " << path;
      }
  EXPECT_EQ(documented, declared) << "every route with a permission is documented with it";
}

}  // namespace
