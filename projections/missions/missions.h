// The missions read model: one JSON document per mission (contract fields, status, artifacts
// with their latest validation, status history) and the live agents, folded from mission.*.
//
// Keys: m/<mission id> -> mission document; v/<mission id> -> its public JSON (once prompted);
// c/<inverted createdAt>/<id> -> "" (newest first); ct/<tenant>/<inverted createdAt>/<id> -> ""
// (a tenant's missions, newest first); o/<mission id> -> its tenant;
// g/<tenant>/<agent id> -> agent document; a/<mission id>/<artifact id> -> "" (artifacts recorded);
// r/<topic>/<partition>/<offset, 20 digits> -> {type, eventId, reason} for an event that lacks a
// required field: kept and counted, never folded with empty fields. Lifecycle events are applied once per event id, so duplicates
// from actor restarts leave no trace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"

namespace nf::missions {

inline constexpr const char* kPrompts = "mission.prompts";
inline constexpr const char* kLifecycle = "mission.lifecycle";
inline constexpr const char* kArtifacts = "mission.artifacts";
inline constexpr const char* kValidations = "mission.validations";

class missions_projection final : public projection::projection {
 public:
  std::string name() const override { return "missions"; }
  std::vector<std::string> topics() const override { return {kPrompts, kLifecycle, kArtifacts, kValidations}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
};

struct mission_filter {
  std::optional<std::string> tenant;     // only this tenant's missions
  std::optional<std::string> status;
  std::optional<std::string> priority;
  std::size_t limit = 50;
  std::string cursor;  // opaque: where the previous page ended
};

struct mission_page {
  std::vector<nlohmann::json> items;
  std::string next_cursor;  // empty on the last page
};

// Read-side queries over a store snapshot.
class missions_view {
 public:
  missions_view(::nf::projection::store& store, const missions_projection& proj) : store_(store), proj_(proj) {}
  result<std::optional<nlohmann::json>> get(const std::string& mission_id) const;
  // The mission as GET /missions/{id} shows it, already serialised.
  result<std::optional<std::string>> get_public(const std::string& mission_id) const;
  result<mission_page> list(const mission_filter& f) const;
  // The public form and its owner's tenant, read from one snapshot.
  struct owned_doc {
    std::string tenant, json;
  };
  result<std::optional<owned_doc>> get_public_owned(const std::string& mission_id) const;
  // The tenant a mission belongs to ("" for the platform's); nullopt for an unknown mission.
  result<std::optional<std::string>> owner(const std::string& mission_id) const;
  // Events the read model could not fold (a required field missing), oldest first per partition:
  // {type, eventId, topic, partition, offset, reason}.
  result<std::vector<nlohmann::json>> rejected(std::size_t limit = 1000) const;
  // Agents not retired: of one tenant, or of all.
  result<std::vector<nlohmann::json>> live_agents(const std::optional<std::string>& tenant = std::nullopt) const;

 private:
  ::nf::projection::store& store_;
  const missions_projection& proj_;
};

}  // namespace nf::missions
