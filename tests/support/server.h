// `nexus-forge serve` started by a test on 127.0.0.1 with a free port; killed when destroyed.
// Unless told otherwise, the config gets the test platform admin key (kAdminKeySha256 in
// http_client.h) when it names none, so tests call the server with admin_headers().
#pragma once

#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/support.h"

namespace nf::test {

class server {
 public:
  explicit server(const std::string& config, const std::vector<std::string>& env = {}, bool test_admin_key = true) {
    if (test_admin_key) {
      std::ifstream in(config);
      auto j = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}), nullptr, false);
      if (!j.is_object()) throw std::runtime_error("the test config is not a JSON object: " + config);
      if (!j["auth"].is_object() || !j["auth"].contains("platform_admin_key_sha256")) {
        j["auth"]["platform_admin_key_sha256"] = kAdminKeySha256;
        std::ofstream(config) << j.dump();
      }
    }
    proc_ = std::make_unique<child>(std::vector<std::string>{nexus_forge_binary(), "serve", "--config", config, "--listen", "127.0.0.1:0"}, env);
    std::string line;
    if (!proc_->read_line(line, std::chrono::seconds(60))) throw std::runtime_error("server did not start: " + proc_->stderr_text());
    const std::string prefix = "listening on http://127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: " + line);
    port_ = std::stoi(line.substr(prefix.size()));
  }
  int port() const { return port_; }
  child& proc() { return *proc_; }
  // The next stdout line, or "" after `timeout`.
  std::string next_line(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::string line;
    return proc_->read_line(line, timeout) ? line : std::string();
  }
  // SIGTERM, then the exit code.
  int stop() {
    proc_->signal(SIGTERM);
    return proc_->wait();
  }

 private:
  std::unique_ptr<child> proc_;
  int port_ = 0;
};

}  // namespace nf::test
