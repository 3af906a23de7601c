// libFuzzer: bearer tokens through JWT verification against a JWKS (RS256 and ES256 keys): the
// input as a token, as the claims of a token our key signed (so claim parsing is reached past the
// signature), and as a JWKS document. Nothing may throw or crash.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/tenancy/credentials.h"
#include "core/base/text.h"
#include "tests/support/jwt_signer.h"

namespace {

struct keys {
  nf::test::signer_key rsa{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "r1"};
  nf::test::signer_key ec{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "ES256", "e1"};
  nf::tenancy::jwks set = nf::tenancy::jwks::parse(nlohmann::json{{"keys", {rsa.jwk(), ec.jwk()}}}.dump()).value();
};

const keys& fixture() {
  static const keys k;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& k = fixture();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const nf::tenancy::jwt_policy policy{"https://idp.test", "nexus-forge", 60};
  (void)nf::tenancy::verify_jwt(input, k.set, policy, 1'700'000'000'000);
  (void)nf::tenancy::jwks::parse(input);
  // The input as claims (when it is JSON), in a token that verifies.
  auto claims = nlohmann::json::parse(input, nullptr, false);
  if (!claims.is_discarded() && nf::json_depth(input, 64) <= 64) {
    (void)nf::tenancy::verify_jwt(k.rsa.token(claims), k.set, policy, 1'700'000'000'000);
    (void)nf::tenancy::verify_jwt(k.ec.token(claims), k.set, policy, 1'700'000'000'000);
  }
  return 0;
}
