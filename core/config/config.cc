// Strict JSON config parsing with NF_* environment overrides.
#include "core/config/config.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/number.h"
#include "core/base/text.h"
#include "core/config/section.h"

namespace nf::config {
namespace {

using json = nlohmann::json;

struct parse_error {
  std::string message;
};

class reader {
 public:
  reader(const json& j, std::string path, std::set<std::string> allowed) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) throw parse_error{"config key '" + name() + "': expected an object"};
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!allowed.count(it.key()))
        throw parse_error{"config key '" + child(it.key()) + "': unknown key"};
    }
  }
  std::string child(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  std::string name() const { return path_.empty() ? "<root>" : path_; }

  template <class T>
  void get(const std::string& k, T& out) const {
    auto it = j_.find(k);
    if (it == j_.end()) return;
    out = convert<T>(*it, child(k));
  }
  const json* find(const std::string& k) const {
    auto it = j_.find(k);
    return it == j_.end() ? nullptr : &*it;
  }

  template <class T>
  static T convert(const json& v, const std::string& key) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) throw parse_error{"config key '" + key + "': expected true or false"};
      return v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) throw parse_error{"config key '" + key + "': expected an integer"};
      auto n = v.get<std::int64_t>();
      if (std::is_unsigned_v<T> && n < 0) throw parse_error{"config key '" + key + "': must not be negative"};
      return static_cast<T>(n);
    } else {
      if (!v.is_string()) throw parse_error{"config key '" + key + "': expected a string"};
      return v.get<std::string>();
    }
  }

 private:
  const json& j_;
  std::string path_;
};

bus_kind parse_kind(const std::string& s, const std::string& key) {
  if (s == "embedded") return bus_kind::embedded;
  if (s == "kafka") return bus_kind::kafka;
  throw parse_error{"config key '" + key + "': expected one of embedded|kafka, got '" + s + "'"};
}

durability parse_durability(const std::string& s, const std::string& key) {
  if (s == "sync") return durability::sync;
  if (s == "async") return durability::async;
  throw parse_error{"config key '" + key + "': expected one of sync|async, got '" + s + "'"};
}

std::int64_t parse_env_int(const std::string& var, const std::string& s) {
  auto v = parse_number<std::int64_t>(s, "environment variable " + var);
  if (!v) throw parse_error{"environment variable " + var + ": expected an integer, got '" + s + "'"};
  return *v;
}

// Feature sections, registered at start-up.
std::mutex sections_mu;
std::map<std::string, section_check>& registered_sections_unlocked() {
  static std::map<std::string, section_check> m;
  return m;
}
std::map<std::string, section_check> registered_sections() {
  std::lock_guard lk(sections_mu);
  return registered_sections_unlocked();
}

void positive(std::int64_t v, const std::string& key) {
  if (v <= 0) throw parse_error{"config key '" + key + "': must be greater than 0"};
}

void parse_into(const json& root, config& c) {
  std::set<std::string> keys{"data_dir", "vault_dir", "region", "log_level", "shutdown_timeout_ms", "instance", "http", "bus", "topics", "actors"};
  for (const auto& [name, check] : registered_sections()) keys.insert(name);
  reader r(root, "", keys);
  r.get("data_dir", c.data_dir);
  r.get("vault_dir", c.vault_dir);
  r.get("shutdown_timeout_ms", c.shutdown_timeout_ms);
  positive(c.shutdown_timeout_ms, "shutdown_timeout_ms");
  r.get("region", c.region);
  r.get("log_level", c.log_level);
  if (auto* in = r.find("instance")) {
    reader ir(*in, "instance", {"id"});
    ir.get("id", c.instance_id);
  }
  for (const auto& [name, check] : registered_sections()) {
    auto* sec = r.find(name);
    if (!sec) continue;
    c.sections[name] = sec->dump();
    if (auto ok = check(c.sections[name]); !ok) throw parse_error{ok.error().message};
  }
  if (auto* h = r.find("http")) {
    reader hr(*h, "http", {"listen", "max_body_bytes", "subscriber_buffer", "slow_subscriber_timeout_ms", "wait_for_timeout_ms", "ready_lag_events",
                           "max_batch_events", "workers"});
    hr.get("listen", c.http.listen);
    hr.get("max_body_bytes", c.http.max_body_bytes);
    positive(c.http.max_body_bytes, "http.max_body_bytes");
    hr.get("subscriber_buffer", c.http.subscriber_buffer);
    positive(c.http.subscriber_buffer, "http.subscriber_buffer");
    hr.get("slow_subscriber_timeout_ms", c.http.slow_subscriber_timeout_ms);
    positive(c.http.slow_subscriber_timeout_ms, "http.slow_subscriber_timeout_ms");
    hr.get("wait_for_timeout_ms", c.http.wait_for_timeout_ms);
    positive(c.http.wait_for_timeout_ms, "http.wait_for_timeout_ms");
    hr.get("ready_lag_events", c.http.ready_lag_events);
    if (c.http.ready_lag_events < 0) throw parse_error{"config key 'http.ready_lag_events': must be 0 or more"};
    hr.get("max_batch_events", c.http.max_batch_events);
    if (c.http.max_batch_events < 1 || c.http.max_batch_events > 100'000)
      throw parse_error{"config key 'http.max_batch_events': must be from 1 to 100000"};
    hr.get("workers", c.http.workers);
    if (c.http.workers < 1 || c.http.workers > 1024) throw parse_error{"config key 'http.workers': must be from 1 to 1024"};
  }
  if (auto* b = r.find("bus")) {
    reader br(*b, "bus", {"kind", "max_event_bytes", "default_partitions", "embedded", "kafka"});
    std::string kind;
    br.get("kind", kind);
    if (!kind.empty() || b->contains("kind")) c.bus.kind = parse_kind(kind, "bus.kind");
    br.get("max_event_bytes", c.bus.max_event_bytes);
    positive(c.bus.max_event_bytes, "bus.max_event_bytes");
    br.get("default_partitions", c.bus.default_partitions);
    positive(c.bus.default_partitions, "bus.default_partitions");
    if (auto* e = br.find("embedded")) {
      reader er(*e, "bus.embedded", {"durability", "retention_check_ms", "group_commit_wait_us"});
      std::string d;
      er.get("durability", d);
      if (e->contains("durability")) c.bus.embedded.mode = parse_durability(d, "bus.embedded.durability");
      er.get("retention_check_ms", c.bus.embedded.retention_check_ms);
      positive(c.bus.embedded.retention_check_ms, "bus.embedded.retention_check_ms");
      er.get("group_commit_wait_us", c.bus.embedded.group_commit_wait_us);
      if (c.bus.embedded.group_commit_wait_us < 0 || c.bus.embedded.group_commit_wait_us > 100'000)
        throw parse_error{"config key 'bus.embedded.group_commit_wait_us': must be 0..100000 (microseconds), got " +
                          std::to_string(c.bus.embedded.group_commit_wait_us)};
    }
    if (auto* k = br.find("kafka")) {
      reader kr(*k, "bus.kafka", {"bootstrap_servers", "properties", "session_timeout_ms", "metadata_refresh_ms", "fetch_wait_ms"});
      kr.get("bootstrap_servers", c.bus.kafka.bootstrap_servers);
      kr.get("session_timeout_ms", c.bus.kafka.session_timeout_ms);
      kr.get("metadata_refresh_ms", c.bus.kafka.metadata_refresh_ms);
      kr.get("fetch_wait_ms", c.bus.kafka.fetch_wait_ms);
      positive(c.bus.kafka.fetch_wait_ms, "bus.kafka.fetch_wait_ms");
      if (auto* p = kr.find("properties")) {
        if (!p->is_object()) throw parse_error{"config key 'bus.kafka.properties': expected an object"};
        for (auto it = p->begin(); it != p->end(); ++it)
          c.bus.kafka.properties[it.key()] = reader::convert<std::string>(it.value(), "bus.kafka.properties." + it.key());
      }
    }
  }
  if (auto* t = r.find("topics")) {
    if (!t->is_object()) throw parse_error{"config key 'topics': expected an object"};
    for (auto it = t->begin(); it != t->end(); ++it) {
      const std::string key = "topics." + it.key();
      reader tr(it.value(), key, {"partitions", "retention_ms", "retention_bytes", "accept_unknown_types"});
      topic_settings ts;
      ts.partitions = c.bus.default_partitions;
      tr.get("partitions", ts.partitions);
      positive(ts.partitions, key + ".partitions");
      tr.get("retention_ms", ts.retention_ms);
      tr.get("retention_bytes", ts.retention_bytes);
      tr.get("accept_unknown_types", ts.accept_unknown_types);
      c.topics[it.key()] = ts;
    }
  }
  if (auto* a = r.find("actors")) {
    if (!a->is_object()) throw parse_error{"config key 'actors': expected an object"};
    for (auto it = a->begin(); it != a->end(); ++it) {
      const std::string key = "actors." + it.key();
      reader ar(it.value(), key, {"enabled", "mailbox_capacity", "max_failures", "backoff_initial_ms", "backoff_max_ms"});
      actor_settings s;
      ar.get("enabled", s.enabled);
      ar.get("mailbox_capacity", s.mailbox_capacity);
      if (s.mailbox_capacity == 0) throw parse_error{"config key '" + key + ".mailbox_capacity': must be greater than 0"};
      ar.get("max_failures", s.max_failures);
      if (s.max_failures == 0) throw parse_error{"config key '" + key + ".max_failures': must be greater than 0"};
      ar.get("backoff_initial_ms", s.backoff_initial_ms);
      positive(s.backoff_initial_ms, key + ".backoff_initial_ms");
      ar.get("backoff_max_ms", s.backoff_max_ms);
      positive(s.backoff_max_ms, key + ".backoff_max_ms");
      c.actors[it.key()] = s;
    }
  }
}

void apply_env(config& c, const env_lookup& env) {
  if (auto v = env("NF_DATA_DIR")) c.data_dir = *v;
  if (auto v = env("NF_VAULT_DIR")) c.vault_dir = *v;
  if (auto v = env("NF_REGION")) c.region = *v;
  if (auto v = env("NF_LOG_LEVEL")) c.log_level = *v;
  if (auto v = env("NF_HTTP_LISTEN")) c.http.listen = *v;
  if (auto v = env("NF_BUS_KIND")) c.bus.kind = parse_kind(*v, "bus.kind (from NF_BUS_KIND)");
  if (auto v = env("NF_BUS_DURABILITY")) c.bus.embedded.mode = parse_durability(*v, "bus.embedded.durability (from NF_BUS_DURABILITY)");
  if (auto v = env("NF_KAFKA_BOOTSTRAP")) c.bus.kafka.bootstrap_servers = *v;
  if (auto v = env("NF_INSTANCE_ID")) c.instance_id = *v;
  if (auto v = env("NF_KAFKA_FETCH_WAIT_MS")) {
    c.bus.kafka.fetch_wait_ms = static_cast<std::int32_t>(parse_env_int("NF_KAFKA_FETCH_WAIT_MS", *v));
    positive(c.bus.kafka.fetch_wait_ms, "bus.kafka.fetch_wait_ms (from NF_KAFKA_FETCH_WAIT_MS)");
  }
  if (auto v = env("NF_MAX_EVENT_BYTES")) {
    c.bus.max_event_bytes = parse_env_int("NF_MAX_EVENT_BYTES", *v);
    positive(c.bus.max_event_bytes, "bus.max_event_bytes (from NF_MAX_EVENT_BYTES)");
  }
}

void validate(const config& c) {
  if (c.data_dir.empty()) throw parse_error{"config key 'data_dir': must not be empty"};
  if (c.region.empty()) throw parse_error{"config key 'region': must not be empty"};
  if (c.bus.kind == bus_kind::kafka && c.bus.kafka.bootstrap_servers.empty())
    throw parse_error{"config key 'bus.kafka.bootstrap_servers': required when bus.kind is kafka (or set NF_KAFKA_BOOTSTRAP)"};
  if (c.http.listen.find(':') == std::string::npos)
    throw parse_error{"config key 'http.listen': expected HOST:PORT, got '" + c.http.listen + "'"};
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
  if (!levels.count(c.log_level))
    throw parse_error{"config key 'log_level': expected one of trace|debug|info|warn|error|critical|off, got '" + c.log_level + "'"};
}

}  // namespace

void register_section(const std::string& name, section_check check) {
  std::lock_guard lk(sections_mu);
  registered_sections_unlocked()[name] = std::move(check);
}

actor_settings config::actor(const std::string& name) const {
  auto it = actors.find(name);
  return it == actors.end() ? actor_settings{} : it->second;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

const char* to_string(bus_kind k) { return k == bus_kind::embedded ? "embedded" : "kafka"; }

result<config> parse(const std::string& json_text, const std::string& source, const env_lookup& env) {
  config c;
  try {
    if (!json_text.empty()) {
      if (json_depth(json_text, kMaxJsonDepth) > kMaxJsonDepth)
        return error{errc::invalid_argument, source + ": nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
      json root;
      try {
        root = json::parse(json_text);
      } catch (const json::exception& e) {
        return error{errc::invalid_argument, source + ": malformed JSON: " + e.what()};
      }
      parse_into(root, c);
    }
    apply_env(c, env);
    validate(c);
  } catch (const parse_error& e) {
    return error{errc::invalid_argument, source + ": " + e.message};
  } catch (const json::exception& e) {
    return error{errc::invalid_argument, source + ": " + e.what()};
  }
  return c;
}

result<config> load(const std::string& path, const env_lookup& env) {
  if (path.empty()) return parse("", "<defaults>", env);
  std::ifstream in(path);
  if (!in) return error{errc::not_found, "cannot read config file '" + path + "'"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, env);
}

}  // namespace nf::config
