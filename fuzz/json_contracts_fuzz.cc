// libFuzzer: a JSON body through parse_body (depth limit, parse, object check) and every contract
// validator. Nothing may throw or crash; a valid contract must render back to JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/missions/contracts.h"
#include "core/http/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nf::missions;
  using namespace nf::http;
  request req{verb::post, "/missions", 11};
  req.set(field::content_type, "application/json");
  req.body().assign(reinterpret_cast<const char*>(data), size);
  auto body = parse_body(req);
  if (!body) return 0;
  const auto& j = *body;
  if (auto v = validate_mission_prompt(j, 1'700'000'000'000, "01900000-0000-7000-8000-000000000001"); v) (void)v.value->payload.dump();
  if (auto v = validate_artifact(j, "01900000-0000-7000-8000-000000000001"); v) (void)v.value->payload.dump();
  if (auto v = validate_validation(j, 1'700'000'000'000); v) (void)v.value->payload.dump();
  if (auto v = validate_agent_lifecycle(j); v) (void)v.value->payload.dump();
  (void)j.dump(-1, ' ', false, json::error_handler_t::replace);
  return 0;
}
