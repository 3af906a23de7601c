// `nexus-forge serve` started by a test on 127.0.0.1 with a free port; killed when destroyed.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace nf::test {

class server {
 public:
  explicit server(const std::string& config, const std::vector<std::string>& env = {}) {
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
