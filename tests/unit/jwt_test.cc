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
#include "tests/support/jwt_signer.h"

namespace {

using namespace nf::tenancy;
using nlohmann::json;

constexpr std::int64_t kNowMs = 1'800'000'000'000;
constexpr std::int64_t kNow = kNowMs / 1000;

using nf::test::signer_key;
std::string b64url(std::string_view s) { return nf::to_base64url(s); }

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
