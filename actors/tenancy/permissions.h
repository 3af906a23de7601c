// The permissions the tenancy feature's own routes need (the catalogue of every permission a
// role may hold is in rbac.h).
#pragma once

#include "core/http/admission.h"

namespace nf::tenancy::perm {

inline constexpr http::permission tenants_create{"tenants:create"};   // the platform admin only
inline constexpr http::permission tenants_read{"tenants:read"};
// Held by every valid credential: who the caller is (GET /session).
inline constexpr http::permission session_read{"session:read"};
inline constexpr http::permission tenants_write{"tenants:write"};
inline constexpr http::permission keys_write{"keys:write"};
inline constexpr http::permission roles_write{"roles:write"};
inline constexpr http::permission usage_read{"usage:read"};
inline constexpr http::permission audit_read{"audit:read"};
inline constexpr http::permission reservations_write{"reservations:write"};

}  // namespace nf::tenancy::perm
