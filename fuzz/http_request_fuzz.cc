// libFuzzer: raw bytes as one HTTP/1.1 request to a real gateway (embedded bus and projection
// store in a temporary directory, tenancy with a platform admin key, a JWKS, the ledger routes):
// parsing, UTF-8 checks, admission (keys, JWTs, domains), routing, body validation and the
// handlers. Nothing may throw out, crash, or answer 500; the answer is always well-formed HTTP.
#include <openssl/evp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/gateway/gateway.h"
#include "actors/tenancy/credentials.h"
#include "actors/tenancy/directory.h"
#include "core/bus/embedded.h"
#include "core/log/log.h"
#include "core/projection/projection.h"
#include "projections/audit/audit.h"
#include "projections/ledger/ledger.h"
#include "projections/missions/missions.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"
#include "tests/support/jwt_signer.h"

namespace {

namespace fs = std::filesystem;
// The key the seed corpus authenticates with (its SHA-256 is the platform admin digest below).
constexpr const char* kAdminKey = "nfk_systemtestsplatformadminkey00001";

struct node {
  fs::path dir = fs::temp_directory_path() / ("nf-fuzz-http-" + std::to_string(::getpid()));
  std::unique_ptr<nf::bus::embedded_bus> bus;
  std::unique_ptr<nf::projection::store> store;
  nf::missions::missions_projection missions;
  nf::ledger::ledger_projection ledger;
  nf::tenants::tenants_projection tenants;
  nf::usage::usage_projection usage;
  nf::audit::audit_projection audit;
  nf::test::signer_key idp{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "idp"};
  nf::tenancy::jwks jwks = nf::tenancy::jwks::parse(nlohmann::json{{"keys", {idp.jwk()}}}.dump()).value();
  nf::tenancy::directory directory{"nexus.test", &jwks, nf::tenancy::jwt_policy{"https://idp.test", "nexus-forge", 60}};
  std::unique_ptr<nf::tenants::directory_sync> sync;
  std::unique_ptr<nf::projection::feed> missions_feed, ledger_feed, tenants_feed, usage_feed, audit_feed;
  std::unique_ptr<nf::gateway::gateway> gw;

  node() {
    nf::log::set_level("off");
    fs::remove_all(dir);
    nf::bus::embedded_options o;
    o.path = (dir / "bus").string();
    o.sync = false;
    o.retention_check_ms = 0;
    bus = std::move(nf::bus::open_embedded(o).value());
    for (const char* t : {"mission.prompts", "mission.lifecycle", "mission.artifacts", "mission.validations", "evidence.records",
                          "tenancy.tenants", "tenancy.audit", "tenancy.usage"})
      (void)bus->create_topic(nf::topic_name{t}, {3, -1, -1});
    (void)bus->create_topic(nf::topic_name{"evidence.ledger"}, {1, -1, -1});
    store = std::move(nf::projection::store::open({(dir / "projections").string(), false}).value());
    directory.set_platform_admin(nf::tenancy::key_digest(kAdminKey));
    sync = std::make_unique<nf::tenants::directory_sync>(*store, tenants, directory);
    missions_feed = std::make_unique<nf::projection::feed>(*store, missions, *bus);
    ledger_feed = std::make_unique<nf::projection::feed>(*store, ledger, *bus);
    tenants_feed = std::make_unique<nf::projection::feed>(*store, tenants, *bus);
    tenants_feed->on_applied([this] { (void)sync->applied(); });
    usage_feed = std::make_unique<nf::projection::feed>(*store, usage, *bus);
    audit_feed = std::make_unique<nf::projection::feed>(*store, audit, *bus);
    for (auto* f : {missions_feed.get(), ledger_feed.get(), tenants_feed.get(), usage_feed.get(), audit_feed.get()}) (void)f->start();
    (void)sync->load_all();
    nf::gateway::gateway_options go;
    go.read_your_writes_timeout = std::chrono::milliseconds(20);
    go.ledger.proj = &ledger;
    go.ledger.feed = ledger_feed.get();
    go.ledger.blob_dir = (dir / "blobs").string();
    go.tenancy.proj = &tenants;
    go.tenancy.feed = tenants_feed.get();
    go.tenancy.directory = &directory;
    go.tenancy.usage = &usage;
    go.tenancy.audit = &audit;
    gw = std::make_unique<nf::gateway::gateway>(*bus, *store, missions, *missions_feed, go);
    // A tenant with a key of each role, so mutated requests reach tenant paths too.
    (void)gw->respond(request("POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic","domains":["acme.example"]})"));
  }
  ~node() {
    gw.reset();
    for (auto* f : {missions_feed.get(), ledger_feed.get(), tenants_feed.get(), usage_feed.get(), audit_feed.get()}) f->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  static std::string request(const std::string& method, const std::string& target, const std::string& body) {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kAdminKey +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
};

node& fixture() {
  static node n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& n = fixture();
  const std::string answer = n.gw->respond(std::string_view(reinterpret_cast<const char*>(data), size));
  // Always a well-formed status line, and never a 500 for input: 500 is for faults of ours.
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) std::abort();
  if (answer.compare(9, 3, "500") == 0) {
    std::cerr << "500 for input; answer:\n" << answer.substr(0, 2000) << "\n";
    std::abort();
  }
  return 0;
}
