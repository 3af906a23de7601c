// The "auth" section of the config file.
#include "actors/tenancy/settings.h"

#include "core/config/section.h"

namespace nf::tenancy {

namespace {

result<auth_settings> read(const config::section_reader& r) {
  auth_settings s;
  NF_TRY(r.get("base_domain", s.base_domain));
  NF_TRY(r.get("jwks_file", s.jwks_file));
  NF_TRY(r.get("jwt_issuer", s.jwt_issuer));
  NF_TRY(r.get("jwt_audience", s.jwt_audience));
  NF_TRY(r.get("jwt_leeway_s", s.jwt_leeway_s));
  NF_TRY(r.get("platform_admin_key_sha256", s.platform_admin_key_sha256));
  if (s.jwt_leeway_s < 0 || s.jwt_leeway_s > 3600) return r.bad("jwt_leeway_s", "must be from 0 to 3600");
  if (!s.jwks_file.empty() && s.jwt_issuer.empty()) return r.bad("jwt_issuer", "required when auth.jwks_file is set");
  const auto& d = s.platform_admin_key_sha256;
  if (!d.empty() && (d.size() != 64 || d.find_first_not_of("0123456789abcdef") != std::string::npos))
    return r.bad("platform_admin_key_sha256", "expected 64 lowercase hex digits");
  return s;
}

const std::set<std::string> kKeys = {"base_domain", "jwks_file", "jwt_issuer", "jwt_audience", "jwt_leeway_s", "platform_admin_key_sha256"};

}  // namespace

result<auth_settings> auth_settings_of(const config::config& c) {
  NF_TRY_ASSIGN(auto r, config::section_reader::open(c, "auth", kKeys));
  return read(r);
}

result<void> check_auth_section(const std::string& json_text) {
  NF_TRY_ASSIGN(auto r, config::section_reader::parse("auth", json_text, kKeys));
  NF_TRY(read(r));
  return ok();
}

}  // namespace nf::tenancy
