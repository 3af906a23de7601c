// Tenancy benchmarks:
//   tenant-context resolution with 10,000 tenants x 10 API keys (random keys, mixed with custom
//   domains and subdomains), p50/p99 per resolution; baseline: the raw work of a lookup, SHA-256
//   of the key plus one hash-map find, in the same run
//   JWT verification (RS256, ES256) against a JWKS: tokens per second
// Run: build/bench/nf_bench_tenancy (see docs/performance.md).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_map>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "actors/tenancy/directory.h"
#include "bench/ratio_reporter.h"
#include "core/base/base64.h"

namespace {

using namespace nf::tenancy;
using json = nlohmann::json;

constexpr int kTenants = 10'000;
constexpr int kKeysPerTenant = 10;

struct world {
  directory dir{"nexus.example"};
  std::vector<std::string> secrets;   // every key
  std::vector<std::string> tenant_of;  // per key
  std::unordered_map<std::string, std::string> raw;  // digest -> tenant, for the baseline
  world() {
    secrets.reserve(kTenants * kKeysPerTenant);
    for (int t = 0; t < kTenants; ++t) {
      const auto id = "t" + std::to_string(t);
      dir.put_tenant(id, {"evidence." + id + ".example"});
      for (int k = 0; k < kKeysPerTenant; ++k) {
        auto key = issue_key();
        dir.put_key(key.digest, id, "developer", key.key_id);
        raw[key.digest] = id;
        secrets.push_back(key.secret);
        tenant_of.push_back(id);
      }
    }
  }
  static world& get() {
    static world w;
    return w;
  }
};

// Raw work of one lookup: SHA-256 of the key, one hash-map find.
void BM_RawKeyLookup(benchmark::State& st) {
  auto& w = world::get();
  std::mt19937 rng(1);
  for (auto _ : st) {
    const auto& s = w.secrets[rng() % w.secrets.size()];
    auto it = w.raw.find(key_digest(s));
    benchmark::DoNotOptimize(it);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// Full resolution: Host (custom domain, subdomain or none) + Authorization or X-API-Key.
void BM_ResolveContext(benchmark::State& st) {
  auto& w = world::get();
  std::mt19937 rng(2);
  std::vector<double> us;
  us.reserve(1 << 20);
  std::int64_t failures = 0;
  for (auto _ : st) {
    const auto i = rng() % w.secrets.size();
    const auto& t = w.tenant_of[i];
    std::string host = i % 3 == 0 ? "evidence." + t + ".example" : i % 3 == 1 ? t + ".nexus.example:443" : "api.example";
    const std::string auth = i % 2 ? "Bearer " + w.secrets[i] : "";
    const auto t0 = std::chrono::steady_clock::now();
    auto c = w.dir.resolve({host, auth, i % 2 ? std::string_view() : std::string_view(w.secrets[i])}, 0);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (!c || c->tenant != t) ++failures;
  }
  if (failures) st.SkipWithError("a resolution gave the wrong tenant");
  std::sort(us.begin(), us.end());
  st.counters["p50_us"] = us[us.size() / 2];
  st.counters["p99_us"] = us[us.size() * 99 / 100];
  st.counters["keys"] = static_cast<double>(w.dir.keys());
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

std::string bn_b64(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::string out(static_cast<std::size_t>(pad ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return nf::to_base64url(out);
}

template <bool Ec>
void BM_VerifyJwt(benchmark::State& st) {
  EVP_PKEY* k = Ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  json jwk = Ec ? json{{"kty", "EC"}, {"crv", "P-256"}, {"kid", "k"}, {"x", bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32)}, {"y", bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32)}}
                : json{{"kty", "RSA"}, {"kid", "k"}, {"n", bn_b64(k, OSSL_PKEY_PARAM_RSA_N)}, {"e", bn_b64(k, OSSL_PKEY_PARAM_RSA_E)}};
  auto keys = jwks::parse(json{{"keys", {jwk}}}.dump()).value();
  const std::string alg = Ec ? "ES256" : "RS256";
  const auto input = nf::to_base64url(json{{"alg", alg}, {"kid", "k"}}.dump()) + "." +
                     nf::to_base64url(json{{"iss", "i"}, {"aud", "a"}, {"sub", "s"}, {"tenant", "t"}, {"exp", 4'000'000'000}}.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k);
  std::size_t n = 0;
  EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(n, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  if (Ec) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  const auto token = input + "." + nf::to_base64url(sig);
  const jwt_policy policy{"i", "a", 60};
  for (auto _ : st) {
    auto c = verify_jwt(token, keys, policy, 1'800'000'000'000);
    if (!c) st.SkipWithError(c.error().message.c_str());
    benchmark::DoNotOptimize(c);
  }
  EVP_PKEY_free(k);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

}  // namespace

BENCHMARK(BM_RawKeyLookup)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ResolveContext)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_VerifyJwt<false>)->Name("BM_VerifyJwt_RS256")->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_VerifyJwt<true>)->Name("BM_VerifyJwt_ES256")->UseRealTime()->MinTime(1.0);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_ResolveContext", "BM_RawKeyLookup"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
