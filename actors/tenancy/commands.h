// The tenancy feature's command-line subcommands (`nexus-forge tenant ...`).
#pragma once

#include <string>
#include <vector>

#include "core/feature/feature.h"

namespace nf::tenancy {

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

// Runs one tenant action against a server; the exit code.
int tenant(const tenant_args& a);
// Adds `tenant ...` to `app`; `ta` holds the parsed options and outlives the parse.
void add_commands(CLI::App& app, tenant_args& ta, std::vector<feature::feature::command>& out);

}  // namespace nf::tenancy
