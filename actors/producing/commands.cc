// The producing feature's client commands: `nexus-forge produce --server` and `nexus-forge topics
// create|list --server`, through a running server's /topics routes.
#include "actors/producing/commands.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/http/client.h"

namespace nf::producing {

namespace {

namespace client = http::client;
using json = nlohmann::json;

// Sends `events` (with the file line of each) as one atomic batch; prints what the server refused,
// naming the file's line.
std::optional<json> send_batch(const produce_remote_args& a, const json& events, const std::vector<std::size_t>& lines, int& rc) {
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/topics/" + http::url_encode(a.topic) + "/events",
                        json{{"events", events}}.dump(), err, client::key_or_env(a.key));
  if (!r) {
    rc = client::fail(err);
    return std::nullopt;
  }
  if (r->status != 201) {
    // events[i] in the server's message is line lines[i] of the file.
    auto j = json::parse(r->body, nullptr, false);
    std::string field = j.is_object() && j.contains("error") ? j["error"].value("field", "") : "";
    if (field.starts_with("events[")) {
      const auto idx = std::strtoull(field.c_str() + 7, nullptr, 10);
      if (idx < lines.size()) std::cerr << "line " << lines[idx] << " of " << (a.file == "-" ? "standard input" : a.file) << ":\n";
    }
    std::cerr << "nothing of this batch (lines " << lines.front() << ".." << lines.back() << ") was appended\n";
    rc = client::api_error(*r);
    return std::nullopt;
  }
  if (!r->position.empty()) client::remember_position(r->position);
  auto j = json::parse(r->body, nullptr, false);
  return j;
}

}  // namespace

int produce_remote(const produce_remote_args& a) {
  if (!client::parse_server(a.server)) return client::fail("--server must look like http://HOST:PORT, got '" + a.server + "'");
  if (a.batch < 1 || a.batch > 100'000) return client::fail("--batch must be from 1 to 100000");
  if (a.file.empty()) {
    if (a.type.empty()) return client::fail("give --type and --json for one event, or --file with NDJSON events");
    auto payload = json::parse(a.payload, nullptr, false);
    if (!payload.is_object()) return client::fail("--json must be a JSON object");
    json ev{{"type", a.type}, {"payload", payload}};
    if (!a.event_key.empty()) ev["key"] = a.event_key;
    std::string err;
    auto r = client::call(a.server, http::verb::post, "/topics/" + http::url_encode(a.topic) + "/events", ev.dump(), err,
                          client::key_or_env(a.key));
    if (!r) return client::fail(err);
    if (r->status != 201) return client::api_error(*r);
    if (!r->position.empty()) client::remember_position(r->position);
    auto j = json::parse(r->body, nullptr, false);
    if (a.json) std::cout << r->body << "\n";
    else if (j.is_object() && !j["positions"].empty())
      std::cout << "appended to " << a.topic << " partition " << j["positions"][0].value("partition", 0) << " offset "
                << j["positions"][0].value("offset", std::int64_t{0}) << "\n";
    return 0;
  }
  std::ifstream file;
  if (a.file != "-") {
    file.open(a.file, std::ios::binary);
    if (!file) return client::fail("cannot read '" + a.file + "'");
  }
  std::istream& in = a.file == "-" ? std::cin : file;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  std::size_t line_no = 0, sent = 0;
  json events = json::array();
  std::vector<std::size_t> lines;
  int rc = 0;
  auto flush = [&]() -> bool {
    if (events.empty()) return true;
    auto j = send_batch(a, events, lines, rc);
    if (!j) {
      std::cerr << sent << " events were appended before it\n";
      return false;
    }
    sent += events.size();
    if (a.json)
      for (const auto& p : (*j)["positions"]) std::cout << p.dump() << "\n";
    events = json::array();
    lines.clear();
    const auto now = std::chrono::steady_clock::now();
    if (!a.quiet && now - last_progress > std::chrono::seconds(1)) {
      const double secs = std::chrono::duration<double>(now - start).count();
      std::cerr << "\r" << sent << " events appended (" << static_cast<long long>(static_cast<double>(sent) / secs) << "/s)" << std::flush;
      last_progress = now;
    }
    return true;
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ev = json::parse(line, nullptr, false);
    if (!ev.is_object()) {
      std::cerr << "line " << line_no << " is not a JSON object; " << sent << " events were appended before it\n";
      return 1;
    }
    events.push_back(std::move(ev));
    lines.push_back(line_no);
    if (events.size() == a.batch && !flush()) return rc;
  }
  if (!flush()) return rc;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.quiet && sent > 0) std::cerr << "\r";
  if (!a.json)
    std::cout << "appended " << sent << " events to " << a.topic << " in " << static_cast<long long>(secs * 1000) << " ms\n";
  return 0;
}

int topics_create_remote(const topics_remote_args& a) {
  json body{{"name", a.name}, {"acceptUnknownTypes", a.accept_unknown_types}, {"retentionMs", a.retention_ms}};
  if (a.partitions > 0) body["partitions"] = a.partitions;
  std::string err;
  auto r = client::call(a.server, http::verb::post, "/topics", body.dump(), err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 201 && r->status != 202) return client::api_error(*r);
  if (!r->position.empty()) client::remember_position(r->position);
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) std::cout << r->body << "\n";
  else std::cout << "created topic " << a.name << " with " << j.value("partitions", 0) << " partitions\n";
  return 0;
}

int topics_list_remote(const topics_remote_args& a) {
  std::string err;
  auto r = client::call(a.server, http::verb::get, "/topics", "", err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 200) return client::api_error(*r);
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) {
    std::cout << (j.is_object() ? j["items"].dump() : r->body) << "\n";
    return 0;
  }
  if (!j.is_object()) return client::fail("the server's /topics answer is not JSON");
  for (const auto& t : j["items"]) {
    std::int64_t events = 0;
    if (t.contains("offsets"))
      for (const auto& o : t["offsets"]) events += o.value("end", std::int64_t{0}) - o.value("begin", std::int64_t{0});
    std::cout << t.value("name", "") << "\tpartitions=" << t.value("partitions", 0);
    if (t.contains("offsets")) std::cout << "\tevents=" << events;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace nf::producing
