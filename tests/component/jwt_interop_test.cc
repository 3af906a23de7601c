// A JWT signed by the openssl command line (RS256: PKCS#1 v1.5 over SHA-256) with a key it
// generated, published as a JWK built from `openssl rsa -modulus`, verifies with our code; the
// same token with one changed claim does not. The signer shares nothing with our verifier.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/tenancy/credentials.h"
#include "core/base/base64.h"
#include "core/base/hex.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
namespace t = nf::test;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(JwtInterop, TokenSignedByTheOpensslCommandLineVerifies) {
  t::temp_dir dir;
  const auto key = (dir.path() / "k.pem").string();
  ASSERT_EQ(t::run({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key}).exit_code, 0);
  auto mod = t::run({"/usr/bin/openssl", "rsa", "-in", key, "-noout", "-modulus"});
  ASSERT_EQ(mod.exit_code, 0) << mod.err;
  auto hex = mod.out.substr(mod.out.find('=') + 1);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto n = nf::from_hex(hex).value();
  const json jwk{{"kty", "RSA"}, {"kid", "cli"}, {"alg", "RS256"}, {"n", nf::to_base64url(n)}, {"e", nf::to_base64url(std::string("\x01\x00\x01", 3))}};
  auto keys = nf::tenancy::jwks::parse(json{{"keys", {jwk}}}.dump()).value();

  auto sign = [&](const json& claims) {
    const auto input = nf::to_base64url(json{{"alg", "RS256"}, {"kid", "cli"}, {"typ", "JWT"}}.dump()) + "." + nf::to_base64url(claims.dump());
    std::ofstream((dir.path() / "in.txt").string(), std::ios::binary) << input;
    auto r = t::run({"/usr/bin/openssl", "dgst", "-sha256", "-sign", key, "-out", (dir.path() / "sig.bin").string(), (dir.path() / "in.txt").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return input + "." + nf::to_base64url(slurp((dir.path() / "sig.bin").string()));
  };
  const std::int64_t now = 1'800'000'000;
  json claims{{"iss", "https://idp"}, {"aud", "nf"}, {"sub", "cli-user"}, {"tenant", "acme"}, {"roles", {"viewer"}}, {"exp", now + 60}};
  const nf::tenancy::jwt_policy policy{"https://idp", "nf", 0};
  const auto token = sign(claims);
  auto c = nf::tenancy::verify_jwt(token, keys, policy, now * 1000);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tenant, "acme");
  EXPECT_EQ(c->subject, "cli-user");

  // The same signature over a payload naming another tenant is refused.
  claims["tenant"] = "globex";
  const auto forged = token.substr(0, token.find('.') + 1) + nf::to_base64url(claims.dump()) + token.substr(token.rfind('.'));
  EXPECT_FALSE(nf::tenancy::verify_jwt(forged, keys, policy, now * 1000));
}

}  // namespace
