// An in-process node for fuzzers, benchmarks and component tests: the same features and HTTP
// server `serve` runs, on an embedded bus and a projection store in a temporary directory.
// Compiled into each consumer (tests/support/node.cc), so only they link the features.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/bus/embedded.h"
#include "core/config/config.h"
#include "core/feature/node.h"
#include "core/projection/projection.h"
#include "tests/support/http_client.h"

namespace nf::test {

struct node_setup {
  bool tenancy = true;                   // false: no admission (every caller is the platform)
  bool missions = true;
  bool evidence = true;
  bool producing = true;
  bool deadletters = true;
  // More features, after those above (a test's own, with an actor it controls).
  std::vector<std::function<std::unique_ptr<feature::feature>()>> extra = {};
  bool sync = false;                     // fsync on every commit
  const nf::clock* clock = nullptr;      // null: the system clock (a manual_clock steps time by hand)
  std::size_t subscriber_buffer = 1024;
  std::chrono::milliseconds wait_for_timeout{5'000};  // NF-Wait-For
  std::string admin_key_sha256 = {};     // empty: the tests' kAdminKeySha256
  std::string jwks_file = {}, jwt_issuer = {}, base_domain = {};
};

class in_process_node {
 public:
  // `name` names the temporary directory; it is removed when the node goes away.
  explicit in_process_node(const std::string& name, node_setup s = {});
  ~in_process_node();

  // Binds 127.0.0.1 on a free port.
  int listen();
  std::string respond(std::string_view raw) { return node_->respond(raw); }
  bus::embedded_bus& bus() { return *bus_; }
  projection::store& store() { return *store_; }
  const std::filesystem::path& dir() const { return dir_; }
  feature::node& node() { return *node_; }

 private:
  std::filesystem::path dir_;
  config::config cfg_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
  std::unique_ptr<feature::node> node_;
};

// A request sent through the node's raw-request path as an API client sends it (bearer key,
// Content-Type, Content-Length), and its answer: status, body parsed as JSON (discarded if it is
// not), and the raw response.
struct answer {
  int status = 0;
  nlohmann::json body;
  std::string raw;
};
answer ask(in_process_node& n, const std::string& method, const std::string& target, const std::string& body = "",
           const std::string& key = kAdminKey, const std::string& type = "application/json");

}  // namespace nf::test
