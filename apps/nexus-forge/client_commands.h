// Commands that talk to a running server over HTTP, or read the bus directly:
// mission create, query missions, subscribe, replay.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace nf::cli {

// Every command that calls a server sends an API key: --key, or NF_API_KEY when it is empty.
struct mission_create_args {
  std::string server = "http://127.0.0.1:7070";
  std::string key;
  std::string id, objective, priority, spec, created_at;
  bool json = false;
};
int mission_create(const mission_create_args& a);

struct query_args {
  std::string server = "http://127.0.0.1:7070";
  std::string key;
  std::string status, priority, cursor, id;
  int limit = 50;
  bool json = false;
};
int query_missions(const query_args& a);

struct subscribe_args {
  std::vector<std::string> patterns;
  std::string server;             // empty: read the bus of --config directly
  std::string key;
  std::string config;
  std::string from = "latest";
  std::optional<std::string> type, tenant;
  std::optional<long long> count;
  bool json = false;
};
int subscribe(const subscribe_args& a);

struct replay_args {
  std::string config;
  std::string topic;              // exact name or pattern
  std::string from, to;           // offset or RFC 3339 time; empty: whole log
  bool json = false;
  bool quiet = false;             // no progress on stderr
  bool verify = false;            // check each artifact/validation/record event against the ledger
  std::string public_key;         // for --verify: PEM file; empty: the data dir's signing key
};
int replay(const replay_args& a, const nf::config::config& cfg);

struct tenant_args {
  std::string server = "http://127.0.0.1:7070";
  std::string key;                  // API key; empty: NF_API_KEY
  std::string action;               // create, list, show, keys-create, keys-revoke, usage, audit
  std::string id, name, plan = "basic", role, key_id;
  std::string period;               // usage: YYYY-MM
  bool csv = false;                 // usage: CSV
  std::string from, to;             // audit: time window
  int limit = 1000;                 // audit
  std::vector<std::string> domains, quotas;  // quotas as NAME=LIMIT
  bool json = false;
};
int tenant(const tenant_args& a);

}  // namespace nf::cli
