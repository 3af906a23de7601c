// API keys and JWT verification on OpenSSL.
#include "actors/tenancy/credentials.h"

#include <array>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "core/base/base64.h"
#include "core/base/hex.h"
#include "core/base/sha256.h"
#include "core/base/text.h"

namespace nf::tenancy {
namespace {

using json = nlohmann::json;

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;


result<std::string> b64url_field(const json& k, const char* field, const std::string& which) {
  if (!k.contains(field) || !k[field].is_string()) return error{errc::invalid_argument, which + ": missing '" + field + "'"};
  auto v = from_base64url(k[field].get<std::string>());
  if (!v || v->empty()) return error{errc::invalid_argument, which + ": '" + field + "' is not base64url"};
  return *v;
}

result<pkey_ptr> from_params(const char* type, OSSL_PARAM_BLD* bld, const std::string& which) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  const bool ok = ctx && params && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) return error{errc::invalid_argument, which + ": not a valid public key"};
  return pkey_ptr(pkey);
}

result<pkey_ptr> rsa_key(const json& k, const std::string& which) {
  NF_TRY_ASSIGN(auto n, b64url_field(k, "n", which));
  NF_TRY_ASSIGN(auto e, b64url_field(k, "e", which));
  if (n.size() < 256) return error{errc::invalid_argument, which + ": RSA keys shorter than 2048 bits are refused"};
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
  auto out = from_params("RSA", bld, which);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn);
  BN_free(be);
  return out;
}

result<pkey_ptr> ec_key(const json& k, const std::string& which) {
  NF_TRY_ASSIGN(auto x, b64url_field(k, "x", which));
  NF_TRY_ASSIGN(auto y, b64url_field(k, "y", which));
  if (x.size() != 32 || y.size() != 32) return error{errc::invalid_argument, which + ": P-256 coordinates are 32 bytes"};
  const std::string point = std::string(1, '\x04') + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  auto out = from_params("EC", bld, which);
  OSSL_PARAM_BLD_free(bld);
  return out;
}

// JWS ES256 signatures are r || s; OpenSSL verifies DER.
std::string ecdsa_der(std::string_view raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(n)) : std::string();
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

bool verify_signature(EVP_PKEY* key, std::string_view input, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

result<json> decode_part(std::string_view part, const char* what) {
  auto bytes = from_base64url(part);
  if (!bytes) return error{errc::unauthenticated, std::string("the token's ") + what + " is not base64url"};
  if (json_depth(*bytes, kMaxJsonDepth) > kMaxJsonDepth)
    return error{errc::unauthenticated, std::string("the token's ") + what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  auto j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{errc::unauthenticated, std::string("the token's ") + what + " is not a JSON object"};
  return j;
}

// A NumericDate (seconds, possibly fractional) clamped to a range where adding a leeway cannot
// overflow.
std::int64_t numeric_date(const json& v) {
  constexpr double kMax = 1e15;  // about 31 million years
  double d = 0;
  if (v.is_number_unsigned()) d = static_cast<double>(v.get<std::uint64_t>());
  else if (v.is_number_integer()) d = static_cast<double>(v.get<std::int64_t>());
  else d = v.get<double>();
  if (!(d > -kMax)) d = -kMax;  // also NaN
  if (d > kMax) d = kMax;
  return static_cast<std::int64_t>(d);
}

// A string member of a token part: "" when absent, invalid_argument naming it when it is not a
// string (a malformed token, answered 400 naming the field).
result<std::string> string_member(const json& part, const char* name, const char* what) {
  auto it = part.find(name);
  if (it == part.end()) return std::string();
  if (!it->is_string()) return error{errc::invalid_argument, std::string("'") + name + "' in the token's " + what + " must be a string"};
  return it->get<std::string>();
}

}  // namespace

issued_key issue_key() {
  unsigned char raw[24];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("the CSPRNG failed");
  issued_key k;
  k.secret = "nfk_" + to_base64url(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  k.digest = key_digest(k.secret);
  k.key_id = key_id_of_digest(k.digest);
  return k;
}

std::string key_digest(std::string_view secret) {
  // Every request digests its key, and a connection sends the same one each time: the last few
  // per thread are remembered (OpenSSL's per-call overhead showed in profiles of small writes).
  struct entry {
    std::string secret, digest;
  };
  thread_local std::array<entry, 8> recent;
  thread_local std::size_t next = 0;
  // Compared in constant time: the remembered keys may be other callers'.
  for (const auto& e : recent)
    if (!e.secret.empty() && e.secret.size() == secret.size() && CRYPTO_memcmp(e.secret.data(), secret.data(), secret.size()) == 0)
      return e.digest;
  auto digest = sha256_hex(secret);
  recent[next] = {std::string(secret), digest};
  next = (next + 1) % recent.size();
  return digest;
}
std::string key_id_of_digest(std::string_view digest_hex) { return "k_" + std::string(digest_hex.substr(0, 16)); }
bool looks_like_key(std::string_view s) { return s.size() == 36 && s.starts_with("nfk_"); }

struct jwks::key {
  std::string kid;
  std::string alg;  // RS256 or ES256
  pkey_ptr pkey;
};

jwks::jwks() = default;
jwks::~jwks() = default;
jwks::jwks(jwks&&) noexcept = default;
jwks& jwks::operator=(jwks&&) noexcept = default;
std::size_t jwks::size() const { return keys_.size(); }

result<jwks> jwks::parse(std::string_view text) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth) return error{errc::invalid_argument, "the JWKS document nests too deep"};
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    return error{errc::invalid_argument, "a JWKS document is {\"keys\":[...]}"};
  jwks out;
  std::size_t i = 0;
  for (const auto& k : j["keys"]) {
    const std::string which = "jwks key " + std::to_string(i++);
    if (!k.is_object() || !k.contains("kty") || !k["kty"].is_string()) return error{errc::invalid_argument, which + ": missing 'kty'"};
    const auto kty = k["kty"].get<std::string>();
    auto entry = std::make_unique<key>();
    if (k.contains("kid") && !k["kid"].is_string()) return error{errc::invalid_argument, which + ": 'kid' must be a string"};
    entry->kid = k.value("kid", "");
    if (kty == "RSA") {
      NF_TRY_ASSIGN(entry->pkey, rsa_key(k, which));
      entry->alg = "RS256";
    } else if (kty == "EC" && k.contains("crv") && k["crv"] == "P-256") {
      NF_TRY_ASSIGN(entry->pkey, ec_key(k, which));
      entry->alg = "ES256";
    } else {
      continue;  // other key types are not used for RS256/ES256
    }
    if (k.contains("alg") && k["alg"] != entry->alg) continue;
    out.keys_.push_back(std::move(entry));
  }
  return out;
}

const jwks::key* jwks::find(std::string_view kid, std::string_view alg) const {
  for (const auto& k : keys_)
    if (k->alg == alg && (kid.empty() || k->kid == kid)) return k.get();
  return nullptr;
}

result<jwt_claims> verify_jwt(std::string_view token, const jwks& keys, const jwt_policy& policy, std::int64_t now_ms) {
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return error{errc::unauthenticated, "the bearer token is not a JWT (three dot-separated parts)"};
  NF_TRY_ASSIGN(auto header, decode_part(token.substr(0, d1), "header"));
  NF_TRY_ASSIGN(const auto alg, string_member(header, "alg", "header"));
  NF_TRY_ASSIGN(const auto kid, string_member(header, "kid", "header"));
  if (alg != "RS256" && alg != "ES256") return error{errc::unauthenticated, "JWT algorithm '" + alg + "' is not accepted (RS256 or ES256)"};
  const auto* k = keys.find(kid, alg);
  if (!k) return error{errc::unauthenticated, "no " + alg + " key in the JWKS matches the token's kid"};
  auto sig = from_base64url(token.substr(d2 + 1));
  if (!sig) return error{errc::unauthenticated, "the token's signature is not base64url"};
  std::string sig_bytes = *sig;
  if (alg == "ES256") {
    if (sig_bytes.size() != 64) return error{errc::unauthenticated, "an ES256 signature is 64 bytes"};
    sig_bytes = ecdsa_der(sig_bytes);
  }
  if (!verify_signature(k->pkey.get(), token.substr(0, d2), sig_bytes)) return error{errc::unauthenticated, "the token's signature does not verify"};
  NF_TRY_ASSIGN(auto claims, decode_part(token.substr(d1 + 1, d2 - d1 - 1), "payload"));
  const std::int64_t now = now_ms / 1000;
  jwt_claims c;
  NF_TRY_ASSIGN(c.issuer, string_member(claims, "iss", "payload"));
  if (c.issuer != policy.issuer) return error{errc::unauthenticated, "the token's issuer '" + c.issuer + "' is not trusted"};
  bool aud_ok = false;
  if (claims.contains("aud")) {
    const auto& aud = claims["aud"];
    if (aud.is_string()) aud_ok = aud == policy.audience;
    if (aud.is_array())
      for (const auto& a : aud) aud_ok |= a.is_string() && a == policy.audience;
  }
  if (!aud_ok) return error{errc::unauthenticated, "the token is not meant for audience '" + policy.audience + "'"};
  if (!claims.contains("exp") || !claims["exp"].is_number()) return error{errc::unauthenticated, "the token has no 'exp'"};
  c.expires_at = numeric_date(claims["exp"]);
  if (now >= c.expires_at + policy.leeway_s) return error{errc::unauthenticated, "the token has expired"};
  if (claims.contains("nbf") && !claims["nbf"].is_number())
    return error{errc::invalid_argument, "'nbf' in the token's payload must be a number"};
  if (claims.contains("nbf") && now + policy.leeway_s < numeric_date(claims["nbf"]))
    return error{errc::unauthenticated, "the token is not valid yet (nbf)"};
  NF_TRY_ASSIGN(c.subject, string_member(claims, "sub", "payload"));
  if (!claims.contains("tenant") || !claims["tenant"].is_string() || claims["tenant"].get<std::string>().empty())
    return error{errc::unauthenticated, "the token has no 'tenant' claim"};
  c.tenant = claims["tenant"].get<std::string>();
  if (claims.contains("roles")) {
    const auto& r = claims["roles"];
    if (r.is_string()) c.roles.push_back(r.get<std::string>());
    if (r.is_array())
      for (const auto& x : r)
        if (x.is_string()) c.roles.push_back(x.get<std::string>());
  }
  return c;
}

}  // namespace nf::tenancy
