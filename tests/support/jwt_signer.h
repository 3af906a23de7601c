// Test-side JWT signing (RS256, ES256) with OpenSSL, and the matching JWK: what an identity
// provider would publish and issue. Used by the JWT tests and the tenancy benchmark.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/base/base64.h"

namespace nf::test {

inline std::string bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
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
  nlohmann::json jwk() const {
    if (alg == "RS256") return {{"kty", "RSA"}, {"kid", kid}, {"n", nf::to_base64url(bn_param(pkey, OSSL_PKEY_PARAM_RSA_N))}, {"e", nf::to_base64url(bn_param(pkey, OSSL_PKEY_PARAM_RSA_E))}};
    return {{"kty", "EC"}, {"crv", "P-256"}, {"kid", kid}, {"x", nf::to_base64url(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", nf::to_base64url(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
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
  std::string token(const nlohmann::json& claims, nlohmann::json header = nlohmann::json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    header["typ"] = "JWT";
    const auto input = nf::to_base64url(header.dump()) + "." + nf::to_base64url(claims.dump());
    return input + "." + nf::to_base64url(sign(input));
  }
};

}  // namespace nf::test
