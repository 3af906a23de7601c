// The tenancy feature's section of the config file: "auth".
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace nf::tenancy {

struct auth_settings {
  std::string base_domain;                        // tenants are also reached as <tenant>.<base_domain>
  std::string jwks_file;                          // JWKS for JWT bearer tokens; empty: API keys only
  std::string jwt_issuer;                         // required with jwks_file
  std::string jwt_audience = "nexus-forge";
  std::int64_t jwt_leeway_s = 60;                 // clock skew allowed on exp and nbf (0..3600)
  std::string platform_admin_key_sha256;          // empty: created at first start (printed once)
};

// The "auth" section of `c` (defaults when absent); errors name the key.
result<auth_settings> auth_settings_of(const config::config& c);
// The check registered for the section (run when the config is loaded).
result<void> check_auth_section(const std::string& json_text);

}  // namespace nf::tenancy
