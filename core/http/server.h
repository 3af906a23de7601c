// The HTTP server (Boost.Beast, HTTP/1.1 keep-alive) over a route table: sessions, limits,
// request ids, metrics, the error shape, Server-Sent Events and WebSocket streams, the
// operations routes (/healthz, /readyz, /metrics) and /openapi.json generated from the table.
// It knows no feature: features register routes, and admission is an interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/base/result.h"
#include "core/http/admission.h"
#include "core/http/routes.h"

namespace nf::http {

class read_your_writes;

struct server_options {
  std::string listen = "127.0.0.1:7070";       // port 0 picks a free port
  std::size_t max_body_bytes = 1 << 20;        // per route unless the route sets its own
  int io_threads = 2;
  int workers = 4;                              // threads for handlers that append or wait
  std::size_t subscriber_buffer = 1024;         // events queued per stream before it is "slow"
  std::chrono::milliseconds slow_subscriber_timeout{10'000};  // full buffer this long closes the stream
  std::string title = "Nexus Forge";            // of the OpenAPI document
  std::string version = "0.0.0";
  // /readyz: whether every read model has caught up, and details to show; absent: always ready.
  std::function<std::pair<bool, json>()> readiness;
  // Read-your-writes across instances (null: no NF-Position, and NF-Wait-For is ignored).
  read_your_writes* positions = nullptr;
  std::chrono::milliseconds wait_for_timeout{5'000};
};

// Turns what a write appended into an NF-Position token, and waits for a token's positions.
class read_your_writes {
 public:
  virtual ~read_your_writes() = default;
  virtual std::string token(const std::vector<bus::position>& written) = 0;
  // ok once this instance's read models applied every position; invalid_argument for a bad or
  // foreign token; unavailable when they have not within `timeout`.
  virtual result<void> wait_for(std::string_view token, std::chrono::milliseconds timeout) = 0;
};

class server {
 public:
  // Adds the operations routes and /openapi.json to `routes`. Both references outlive the server.
  server(route_table& routes, admission& adm, server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and starts serving; returns the bound port.
  result<std::uint16_t> start();
  // Stops accepting, ends every stream with a last frame, waits for handlers and readers.
  void stop();
  // Answers one raw HTTP/1.1 request (the bytes a connection would read) on the calling thread,
  // through the same parsing, UTF-8 checks, routing, admission and handlers as a connection,
  // and returns the raw response. Streams are admitted but not opened. For fuzzers and tests.
  std::string respond(std::string_view raw);

  struct state;

 private:
  std::unique_ptr<state> state_;
};

// The OpenAPI 3.1 document of a route table.
json openapi_document(const route_table& routes, const std::string& title, const std::string& version);

}  // namespace nf::http
