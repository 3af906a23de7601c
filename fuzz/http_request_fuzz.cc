// libFuzzer: raw bytes as one HTTP/1.1 request to a real node (embedded bus and projection store
// in a temporary directory; tenancy with a platform admin key and a JWKS, missions, evidence):
// parsing, UTF-8 checks, admission (keys, JWTs, domains), routing, body validation and the
// handlers. Nothing may throw out, crash, or answer 500; the answer is always well-formed HTTP.
#include <openssl/evp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/tenancy/credentials.h"
#include "core/log/log.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/node.h"

namespace {

namespace fs = std::filesystem;
// The key the seed corpus authenticates with (its SHA-256 is the platform admin digest below).
constexpr const char* kAdminKey = "nfk_systemtestsplatformadminkey00001";

// The node serve runs (tenancy with a JWKS and a base domain, missions, evidence), in process.
struct fuzz_node {
  nf::test::signer_key idp{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "idp"};
  fs::path jwks_file = fs::temp_directory_path() / ("nf-fuzz-jwks-" + std::to_string(::getpid()) + ".json");
  std::unique_ptr<nf::test::in_process_node> node;

  fuzz_node() {
    // NF_FUZZ_LOG=warn (or info) shows the node's log when chasing a slow or failing input.
    const char* level = std::getenv("NF_FUZZ_LOG");
    nf::log::set_level(level ? level : "off");
    {
      std::ofstream out(jwks_file);
      out << nlohmann::json{{"keys", {idp.jwk()}}}.dump();
    }
    nf::test::node_setup s;
    s.admin_key_sha256 = nf::tenancy::key_digest(kAdminKey);
    s.jwks_file = jwks_file.string();
    s.jwt_issuer = "https://idp.test";
    s.base_domain = "nexus.test";
    node = std::make_unique<nf::test::in_process_node>("fuzz-http", s);
    // A tenant, so mutated requests reach tenant paths too.
    (void)node->respond(request("POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic","domains":["acme.example"]})"));
  }
  ~fuzz_node() {
    node.reset();
    std::error_code ec;
    fs::remove(jwks_file, ec);
  }
  static std::string request(const std::string& method, const std::string& target, const std::string& body) {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kAdminKey +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
};

fuzz_node& fixture() {
  static fuzz_node n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& n = fixture();
  const std::string answer = n.node->respond(std::string_view(reinterpret_cast<const char*>(data), size));
  // Always a well-formed status line, and never a 500 for input: 500 is for faults of ours.
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) std::abort();
  if (answer.compare(9, 3, "500") == 0) {
    std::cerr << "500 for input; answer:\n" << answer.substr(0, 2000) << "\n";
    std::abort();
  }
  return 0;
}
