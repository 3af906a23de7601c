// API keys and JWT bearer tokens.
//
// API keys: "nfk_" + 32 base64url characters (192 random bits from OpenSSL's CSPRNG). The secret
// is shown once; only its SHA-256 (hex) is kept. The key id, shown in audit records, is "k_" +
// the first 16 hex digits of that digest.
//
// JWTs (OIDC-style): RS256 and ES256 only ("none" and everything else are refused), verified with
// OpenSSL against the keys of a JWKS document (RSA n/e, EC P-256 x/y; selected by "kid" when the
// token names one). iss and aud must match the configured values, exp must be in the future and
// nbf in the past (with a leeway); the "tenant" claim names the tenant and "roles" (a string or an
// array) the roles.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::tenancy {

struct issued_key {
  std::string secret;   // shown once
  std::string digest;   // SHA-256 of the secret, hex
  std::string key_id;
};
issued_key issue_key();
std::string key_digest(std::string_view secret);
std::string key_id_of_digest(std::string_view digest_hex);
bool looks_like_key(std::string_view s);

struct jwt_claims {
  std::string subject;
  std::string issuer;
  std::string tenant;
  std::vector<std::string> roles;
  std::int64_t expires_at = 0;  // unix seconds
};

struct jwt_policy {
  std::string issuer;
  std::string audience;
  std::int64_t leeway_s = 60;
};

class jwks {
 public:
  // Parses a JWKS document ({"keys":[...]}); keys of other types or curves are skipped, a key
  // that is malformed is an error naming it.
  static result<jwks> parse(std::string_view json_text);
  jwks();
  ~jwks();
  jwks(jwks&&) noexcept;
  jwks& operator=(jwks&&) noexcept;
  std::size_t size() const;

  struct key;
  const key* find(std::string_view kid, std::string_view alg) const;

 private:
  std::vector<std::unique_ptr<key>> keys_;
};

result<jwt_claims> verify_jwt(std::string_view token, const jwks& keys, const jwt_policy& policy, std::int64_t now_ms);

}  // namespace nf::tenancy
