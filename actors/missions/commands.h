// The missions feature's command-line subcommands (`nexus-forge mission create`, `nexus-forge
// query missions`), through a running server.
#pragma once

#include <string>
#include <vector>

#include "core/feature/feature.h"

namespace nf::missions {

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

struct command_args {
  mission_create_args create;
  query_args query;
};
// Adds `mission create` and `query missions` to `app`; `args` outlives the parse.
void add_commands(CLI::App& app, command_args& args, std::vector<feature::feature::command>& out);

}  // namespace nf::missions
