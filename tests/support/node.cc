// An in-process node on a temporary directory.
#include "tests/support/node.h"

#include <unistd.h>

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "actors/evidence/feature.h"
#include "actors/missions/feature.h"
#include "actors/producing/feature.h"
#include "actors/deadletters/feature.h"
#include "actors/tenancy/feature.h"
#include "tests/support/http_client.h"

namespace nf::test {

in_process_node::in_process_node(const std::string& name, node_setup s)
    : dir_(std::filesystem::temp_directory_path() / ("nf-" + name + "-" + std::to_string(::getpid()))) {
  std::filesystem::remove_all(dir_);
  cfg_.data_dir = dir_.string();
  cfg_.sections["auth"] = nlohmann::json{{"platform_admin_key_sha256", s.admin_key_sha256.empty() ? kAdminKeySha256 : s.admin_key_sha256},
                                         {"jwks_file", s.jwks_file},
                                         {"jwt_issuer", s.jwt_issuer},
                                         {"base_domain", s.base_domain}}
                              .dump();
  bus::embedded_options o;
  o.path = (dir_ / "bus").string();
  o.sync = s.sync;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  if (!b) throw std::runtime_error("cannot open the bus: " + b.error().message);
  bus_ = std::move(*b);
  auto st = projection::store::open({(dir_ / "projections").string(), false});
  if (!st) throw std::runtime_error("cannot open the store: " + st.error().message);
  store_ = std::move(*st);
  std::vector<std::unique_ptr<feature::feature>> features;
  if (s.tenancy) features.push_back(tenancy::make_feature());
  if (s.missions) features.push_back(missions::make_feature());
  if (s.evidence) features.push_back(evidence::make_feature());
  if (s.producing) features.push_back(producing::make_feature());
  if (s.deadletters) features.push_back(deadletters::make_feature());
  for (const auto& make : s.extra) features.push_back(make());
  feature::node_options no;
  no.http.listen = "127.0.0.1:0";
  no.clock = s.clock;
  no.http.subscriber_buffer = s.subscriber_buffer;
  no.http.wait_for_timeout = s.wait_for_timeout;
  node_ = std::make_unique<feature::node>(cfg_, *bus_, *store_, std::move(features), no);
  if (auto r = node_->start(); !r) throw std::runtime_error("cannot start the node: " + r.error().message);
}

in_process_node::~in_process_node() {
  node_->stop();
  node_.reset();
  store_.reset();
  bus_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

int in_process_node::listen() {
  auto p = node_->listen();
  if (!p) throw std::runtime_error("cannot listen: " + p.error().message);
  return *p;
}

answer ask(in_process_node& n, const std::string& method, const std::string& target, const std::string& body, const std::string& key,
           const std::string& type) {
  const std::string raw = n.respond(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
                                    "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  answer a;
  a.raw = raw;
  a.status = std::stoi(raw.substr(9, 3));
  a.body = nlohmann::json::parse(raw.substr(raw.find("\r\n\r\n") + 4), nullptr, false);
  return a;
}

}  // namespace nf::test
