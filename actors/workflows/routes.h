// The workflow routes:
//   GET  /workflows/nodes                        workflows:read     the node library
//   POST /workflows/validate                     workflows:read     compile without storing -> {valid, problems}
//   POST /workflows                              workflows:write    a new version (JSON or application/yaml) -> 201
//   GET  /workflows                              workflows:read     the tenant's workflows
//   GET  /workflows/{id}?format=yaml|json        workflows:read     the latest version
//   GET  /workflows/{id}/versions/{v}?format=    workflows:read     one version
//   GET  /workflows/{id}/metrics                 workflows:read     per node: executions, failures, p50/p95
//   POST /workflows/{id}/runs                    workflows:write    {version?, inputs, idempotencyKey?, debug?, breakpoints?, searchAttributes?}
//   GET  /runs?workflow=&status=&started_after=&attr.K=V&after=&limit=   workflows:read
//   GET  /runs/{id}                              workflows:read     status, nodes, inputs, outputs, timings
//   GET  /runs/{id}/history?after=&limit=        workflows:read     the run's events, paged
//   POST /runs/{id}/cancel|step|continue         workflows:write
//   POST /runs/{id}/approve|reject               workflows:approve  {node?, comment?}
//   POST /runs/{id}/reset                        workflows:write    {node, inputs?} -> a new run reusing outputs before node
//   POST /workflows/{id}/schedules               workflows:write    {cron, inputs, overlap, catchup, catchupWindowMs?, version?}
//   GET  /workflows/{id}/schedules[/{sid}]       workflows:read     with the next 5 fire times, the last fire and the missed count
//   DELETE /workflows/{id}/schedules/{sid}       workflows:write
//   POST /workflows/{id}/triggers                workflows:write    {on_event: {topic, type?, filter?}, inputs?, version?}
//   GET  /workflows/{id}/triggers                workflows:read
//   DELETE /workflows/{id}/triggers/{tid}        workflows:write
//   GET  /workflows/templates                    workflows:read     shipped and the tenant's own
//   POST /workflows/templates                    workflows:write    a tenant's own template version (JSON or YAML)
//   POST /workflows/templates/{name}/preview     workflows:read     {params, version?} -> {definition, valid, problems}
//   POST /workflows/templates/{name}/instantiate workflows:write    {params, version?} -> a new workflow version
// Definitions are versioned documents appended with the stream's expected version (two writers
// of one version: one wins, the other gets 409). Run commands are decided by the run's owner
// (engine.h) through the command gateway.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "actors/workflows/engine.h"
#include "core/base/clock.h"
#include "core/command/gateway.h"
#include "core/http/routes.h"
#include "projections/workflows/workflows.h"

namespace nf::workflows {

namespace perm {
inline constexpr http::permission read{"workflows:read"};
inline constexpr http::permission write{"workflows:write"};
inline constexpr http::permission approve{"workflows:approve"};
}  // namespace perm

struct route_options {
  std::string region = "local";
  std::chrono::milliseconds read_your_writes_timeout{5'000};
  std::chrono::milliseconds decision_timeout{15'000};
};

class routes {
 public:
  routes(bus::event_bus& bus, projection::store& store, workflows_projection& proj, projection::feed& feed, command::gateway& gateway,
         definition_cache& defs, const nf::clock& clk, route_options opts);
  void add_to(http::route_table& table);

 private:
  http::response validate(const http::route_context& c);
  http::response define(const http::route_context& c);
  // Compiles and stores a definition document for the caller's tenant (what POST /workflows does).
  http::response store_definition(const http::route_context& c, const nlohmann::json& doc, const nlohmann::json& extra);
  http::response list_templates(const http::route_context& c);
  http::response add_template(const http::route_context& c);
  http::response use_template(const http::route_context& c, bool store);
  http::response list(const http::route_context& c);
  http::response get_version(const http::route_context& c, bool latest);
  http::response metrics(const http::route_context& c);
  http::response start(const http::route_context& c);
  http::response get_run(const http::route_context& c);
  http::response list_runs(const http::route_context& c);
  http::response history(const http::route_context& c);
  http::response run_command(const http::route_context& c, const char* type);
  http::response reset(const http::route_context& c);
  http::response create_schedule(const http::route_context& c);
  http::response get_schedules(const http::route_context& c, bool one);
  http::response delete_schedule(const http::route_context& c);
  http::response create_trigger(const http::route_context& c);
  http::response list_triggers(const http::route_context& c);
  http::response delete_trigger(const http::route_context& c);
  std::optional<http::response> append_document(const http::route_context& c, const char* type, const std::string& key,
                                                const google::protobuf::Message& msg, std::optional<std::int64_t> expected);
  // A schedule document with its next five fire times.
  nlohmann::json schedule_view(nlohmann::json doc) const;
  // Submits a command and waits for the decision and this instance's read model of it.
  std::variant<command::decided, http::response> decide(const http::route_context& c, const char* type, const std::string& run_id,
                                                        const google::protobuf::Message& payload);
  // The definition of `id` at `version` (0: the latest), or 404.
  std::variant<std::shared_ptr<const definition>, http::response> pinned_definition(const http::route_context& c, const std::string& id,
                                                                                   std::int64_t version);
  // The run, or 404 (also for another tenant's run).
  std::variant<nlohmann::json, http::response> visible_run(const http::route_context& c, const std::string& run_id);

  bus::event_bus& bus_;
  workflows_view view_;
  projection::feed& feed_;
  command::gateway& gateway_;
  definition_cache& defs_;
  const nf::clock& clk_;
  route_options opts_;
};

}  // namespace nf::workflows
