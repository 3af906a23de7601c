// Keeps the tenancy directory equal to the tenants read model: everything once at start, then
// after each applied batch only the tenants it touched (O(keys of those tenants), not O(all
// tenants)). Both run under one lock, so a full load never overwrites a newer single-tenant load.
//
// Policy lives here, not in the projection: a tenant's effective limits are its plan's defaults
// with its overrides; its custom roles are checked against the permission catalogue. A tenant
// document whose overrides, plan or roles cannot be read is never loaded with looser limits:
// every request of that tenant is refused (403 naming the damage), logged and counted.
#pragma once

#include <mutex>
#include <string>

#include "actors/tenancy/directory.h"
#include "projections/tenants/tenants.h"

namespace nf::tenancy {

// The directory's view of a tenant document.
directory::tenant_spec spec_of(const nlohmann::json& doc);
// The tenant's custom roles, as the directory holds them.
result<roles> roles_of(const tenants::tenants_view& view, const std::string& tenant_id);
// Every tenant and active key, into `dir`.
result<void> load_into(const tenants::tenants_view& view, directory& dir);
// One tenant and its active keys (or its removal, if unknown), into `dir`.
result<void> load_tenant_into(const tenants::tenants_view& view, directory& dir, const std::string& tenant_id);

class directory_sync {
 public:
  directory_sync(projection::store& store, tenants::tenants_projection& proj, directory& dir) : proj_(proj), view_(store, proj), dir_(dir) {}
  result<void> load_all();
  // For the feed's on_applied.
  result<void> applied();

 private:
  tenants::tenants_projection& proj_;
  tenants::tenants_view view_;
  directory& dir_;
  std::mutex mu_;
};

}  // namespace nf::tenancy
