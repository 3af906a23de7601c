// A small blocking HTTP/1.1 client (Boost.Beast) for the command line: one request to a running
// server, with the API key as a bearer token. Commands print an API error body with api_error.
#pragma once

#include <optional>
#include <string>

#include "core/http/message.h"

namespace nf::http::client {

struct reply {
  int status = 0;
  std::string body;
  std::string position;   // NF-Position of a write
};

struct endpoint {
  std::string host, port;
};
// "http://HOST:PORT" (or "HOST:PORT"); nullopt for anything else.
std::optional<endpoint> parse_server(const std::string& url);

// The key given, or $NF_API_KEY.
std::string key_or_env(const std::string& key);
// nullopt (and `err` set) when the server URL is malformed or cannot be reached.
// With `wait_for`, the request carries NF-Wait-For (read-your-writes across instances).
std::optional<reply> call(const std::string& server, verb method, const std::string& target, const std::string& body,
                          std::string& err, const std::string& api_key, const std::string& wait_for = "");

// The CLI passes the position of its last write to its next read: a write's NF-Position is kept
// in $NF_STATE_DIR/position (default ${XDG_STATE_HOME:-~/.local/state}/nexus-forge) and a read
// sends it as NF-Wait-For. A server of another cluster refuses the token (400 naming the
// header); the read is then sent again without it and the token forgotten.
void remember_position(const std::string& token);
std::string remembered_position();
// call() for a read, with the remembered position.
std::optional<reply> read_after_write(const std::string& server, const std::string& target, std::string& err, const std::string& api_key);
// Prints "error: <message> (HTTP <status>, <code>, field <f>)" and returns 1.
int api_error(const reply& r);
// Prints "error: <message>" and returns 1.
int fail(const std::string& message);

}  // namespace nf::http::client
