// The HTTP gateway (Boost.Beast, HTTP/1.1 keep-alive): the four contracts in, the missions read
// model out, mission.* subscriptions as Server-Sent Events and WebSocket, health and metrics.
//
// In:  HTTP requests. Out: mission.prompted (mission.prompts), mission.artifact_recorded
// (mission.artifacts), mission.validation_reported (mission.validations), agent.* (mission.lifecycle),
// evidence.record_submitted (evidence.records). The evidence ledger's read API: see ledger_api.h.
// Errors: {"error":{"code","message","field"}} with 400, 404, 405, 409, 413 or 415.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/projection/projection.h"
#include "projections/missions/missions.h"

namespace nf::ledger {
class ledger_projection;
}
namespace nf::tenants {
class tenants_projection;
}
namespace nf::tenancy {
class directory;
}
namespace nf::usage {
class usage_projection;
}
namespace nf::audit {
class audit_projection;
}

namespace nf::gateway {

// The evidence ledger's routes (/ledger/*, /evidence/blobs/*); absent when proj is null.
struct ledger_options {
  ledger::ledger_projection* proj = nullptr;   // read from the gateway's projection store
  projection::feed* feed = nullptr;            // keeps it applied; /readyz waits for it too
  std::string public_key_pem;                  // of the key that signs tree heads
  std::string blob_dir;                        // the evidence vault
  std::size_t max_record_bytes = 8 << 20;
};

// Tenant administration (/tenants/*); absent when proj is null.
struct tenancy_options {
  tenants::tenants_projection* proj = nullptr;
  projection::feed* feed = nullptr;            // its on_applied keeps `directory` current
  tenancy::directory* directory = nullptr;
  usage::usage_projection* usage = nullptr;    // metering read model; null: no usage routes
  audit::audit_projection* audit = nullptr;    // audit read model; null: requests are not audited
};

struct gateway_options {
  std::string listen = "127.0.0.1:7070";       // port 0 picks a free port
  std::size_t max_body_bytes = 1 << 20;
  std::string region = "local";
  int io_threads = 2;
  int workers = 4;                              // threads for handlers that append or wait
  std::size_t subscriber_buffer = 1024;         // events queued per subscriber before it is "slow"
  std::chrono::milliseconds slow_subscriber_timeout{10'000};  // full buffer this long closes the stream
  std::chrono::milliseconds read_your_writes_timeout{5'000};  // wait for the projection before answering
  const nf::clock* clock = nullptr;
  ledger_options ledger;
  tenancy_options tenancy;
};

class gateway {
 public:
  gateway(bus::event_bus& bus, projection::store& store, missions::missions_projection& proj, projection::feed& feed,
          gateway_options opts);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Binds and starts serving; returns the bound port.
  result<std::uint16_t> start();
  // Stops accepting, closes subscriptions and waits for handlers to finish.
  void stop();
  // Answers one raw HTTP/1.1 request (the bytes a connection would read) on the calling thread,
  // through the same parsing, UTF-8 checks, admission, routing and handlers as a connection,
  // and returns the raw response. SSE and WebSocket requests are admitted but not streamed.
  // For the fuzzer and tests; start() is not needed.
  std::string respond(std::string_view raw);
  // The usage projection committed new counts for these tenants (usage alerts are checked).
  void usage_applied(const std::vector<std::string>& tenants);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::gateway
