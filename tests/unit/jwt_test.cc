// JWT (RS256, ES256) verification against a JWKS: valid tokens, expired, not yet valid, wrong
// audience or issuer, bad signature, alg=none and unknown algorithms, key selection by kid.
// Keys are generated here and published as JWKs; tokens are signed here with OpenSSL.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/tenancy/credentials.h"
#include "core/base/base64.h"

namespace {

using namespace nf::tenancy;
using nlohmann::json;

constexpr std::int64_t kNowMs = 1'800'000'000'000;
constexpr std::int64_t kNow = kNowMs / 1000;

std::string b64url(std::string_view s) { return nf::to_base64url(s); }

std::string bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::string out(static_cast<std::size_t>(pad ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

struct signer_key {
  EVP_PKEY* pkey;
  std::string alg, kid;
  json jwk() const {
    if (alg == "RS256") return {{"kty", "RSA"}, {"kid", kid}, {"n", b64url(bn_param(pkey, OSSL_PKEY_PARAM_RSA_N))}, {"e", b64url(bn_param(pkey, OSSL_PKEY_PARAM_RSA_E))}};
    return {{"kty", "EC"}, {"crv", "P-256"}, {"kid", kid}, {"x", b64url(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", b64url(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }
  std::string sign(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    std::size_t n = 0;
    EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(n, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(n);
    EVP_MD_CTX_free(ctx);
    if (alg == "RS256") return sig;
    // DER -> r || s, as JWS wants it.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
  }
  std::string token(const json& claims, json header = json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    header["typ"] = "JWT";
    const auto input = b64url(header.dump()) + "." + b64url(claims.dump());
    return input + "." + b64url(sign(input));
  }
};

class Jwt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new signer_key{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "rsa-1"};
    ec_ = new signer_key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "ES256", "ec-1"};
    other_ = new signer_key{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "rsa-1"};
  }
  void SetUp() override {
    keys_ = jwks::parse(json{{"keys", {rsa_->jwk(), ec_->jwk(), {{"kty", "oct"}, {"k", "c2VjcmV0"}}}}}.dump()).value();
  }
  static json claims(std::int64_t exp_offset = 300) {
    return {{"iss", "https://idp.example"}, {"aud", "nexus-forge"}, {"sub", "ana"}, {"tenant", "acme"},
            {"roles", {"developer", "auditor"}}, {"exp", kNow + exp_offset}, {"iat", kNow}};
  }
  nf::result<jwt_claims> verify(const std::string& token) { return verify_jwt(token, keys_, policy_, kNowMs); }

  static inline signer_key* rsa_ = nullptr;
  static inline signer_key* ec_ = nullptr;
  static inline signer_key* other_ = nullptr;
  jwks keys_;
  jwt_policy policy_{"https://idp.example", "nexus-forge", 60};
};

TEST_F(Jwt, ValidRs256AndEs256TokensMapToTenantAndRoles) {
  EXPECT_EQ(keys_.size(), 2u) << "the symmetric key is not used";
  for (const auto* k : {rsa_, ec_}) {
    auto c = verify(k->token(claims()));
    ASSERT_TRUE(c) << k->alg << ": " << c.error().message;
    EXPECT_EQ(c->tenant, "acme");
    EXPECT_EQ(c->subject, "ana");
    EXPECT_EQ(c->roles, (std::vector<std::string>{"developer", "auditor"}));
  }
  auto j = claims();
  j["aud"] = {"other", "nexus-forge"};
  j["roles"] = "viewer";
  auto c = verify(rsa_->token(j));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->roles, std::vector<std::string>{"viewer"});
}

TEST_F(Jwt, EveryRuleIsEnforced) {
  auto refused = [&](const std::string& token, const std::string& why) {
    auto c = verify(token);
    ASSERT_FALSE(c) << why;
    EXPECT_EQ(c.error().code, nf::errc::unauthenticated) << why;
    EXPECT_NE(c.error().message.find(why), std::string::npos) << c.error().message;
  };
  refused(rsa_->token(claims(-61)), "expired");
  EXPECT_TRUE(verify(rsa_->token(claims(-30)))) << "within the leeway";
  auto nbf = claims();
  nbf["nbf"] = kNow + 120;
  refused(rsa_->token(nbf), "not valid yet");
  auto aud = claims();
  aud["aud"] = "someone-else";
  refused(rsa_->token(aud), "audience");
  auto iss = claims();
  iss["iss"] = "https://evil.example";
  refused(rsa_->token(iss), "issuer");
  auto no_tenant = claims();
  no_tenant.erase("tenant");
  refused(rsa_->token(no_tenant), "tenant");
  auto no_exp = claims();
  no_exp.erase("exp");
  refused(rsa_->token(no_exp), "exp");

  refused(other_->token(claims()), "signature does not verify");
  auto t = rsa_->token(claims());
  auto tampered = t;
  tampered[t.find('.') + 5] ^= 1;
  EXPECT_FALSE(verify(tampered));
  // alg=none, an HMAC token and an algorithm swap are all refused.
  const auto payload = b64url(claims().dump());
  refused(b64url(json{{"alg", "none"}}.dump()) + "." + payload + ".", "algorithm 'none'");
  refused(b64url(json{{"alg", "HS256"}, {"kid", "rsa-1"}}.dump()) + "." + payload + ".c2ln", "algorithm 'HS256'");
  refused(ec_->token(claims(), {{"alg", "ES256"}, {"kid", "rsa-1"}}), "no ES256 key");
  refused("abc.def", "not a JWT");
  refused("a.b.c.d", "not a JWT");
  refused("!!!." + payload + ".x", "header");
}

TEST_F(Jwt, JwksDocumentsAreParsedStrictly) {
  EXPECT_FALSE(jwks::parse("[]"));
  EXPECT_FALSE(jwks::parse("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}")) << "a 24-bit RSA key";
  EXPECT_FALSE(jwks::parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQ\",\"y\":\"AQ\"}]}"));
  auto bad_point = json{{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", b64url(std::string(32, '\x01'))}, {"y", b64url(std::string(32, '\x02'))}}}}};
  EXPECT_FALSE(jwks::parse(bad_point.dump())) << "a point that is not on the curve";
}

}  // namespace
