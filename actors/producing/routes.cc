#include "actors/producing/routes.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "actors/producing/batch.h"
#include "core/event/codec.h"
#include "core/event/types.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "producing.pb.h"

namespace nf::producing {

namespace {

using json = nlohmann::json;
using http::status;

constexpr std::string_view kTenantPrefix = "tenant.";

// The tenant whose namespace holds `topic` ("tenant.<id>.<name>"), or empty.
std::string namespace_owner(std::string_view topic) {
  if (!topic.starts_with(kTenantPrefix)) return {};
  topic.remove_prefix(kTenantPrefix.size());
  const auto dot = topic.find('.');
  return dot == std::string_view::npos ? std::string() : std::string(topic.substr(0, dot));
}

json event_schema() {
  return http::schema::object({{"type", http::schema::string("event type, e.g. mission.prompted")},
                               {"key", http::schema::string("aggregate key; decides the partition")},
                               {"payload", json{{"type", "object"}}},
                               {"id", http::schema::string("UUID chosen by the client: the append is idempotent")},
                               {"headers", json{{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                               {"expectedVersion",
                                json{{"description", "the key's version before this event, on a topic with keyVersions: a number "
                                                     "(0: the key has no event yet), \"no_stream\" or \"any\""},
                                     {"oneOf", {json{{"type", "integer"}, {"minimum", 0}}, json{{"type", "string"}, {"enum", {"no_stream", "any"}}}}}}}},
                              {"type", "payload"});
}

json positions_schema() {
  return http::schema::object(
      {{"topic", http::schema::string()},
       {"positions", http::schema::array(http::schema::object(
                         {{"partition", http::schema::integer()}, {"offset", http::schema::integer()}, {"id", http::schema::string()}},
                         {"partition", "offset", "id"}))},
       {"duplicate", http::schema::boolean()}},
      {"topic", "positions"});
}

json topic_schema() {
  return http::schema::object({{"name", http::schema::string()},
                               {"partitions", http::schema::integer()},
                               {"retentionMs", http::schema::integer()},
                               {"acceptUnknownTypes", http::schema::boolean()},
                               {"keyVersions", http::schema::boolean()},
                               {"cleanup", http::schema::enumeration({"delete", "compact"})},
                               {"deleteRetentionMs", http::schema::integer()},
                               {"tenant", http::schema::string()},
                               {"offsets", http::schema::array(json{{"type", "object"}})}},
                              {"name", "partitions"});
}

std::optional<std::int64_t> int_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

metrics::counter& produced_counter() {
  static auto& c = metrics::registry::global().get_counter("nf_produce_events_total", "Events appended through POST /topics/{topic}/events");
  return c;
}
metrics::counter& duplicate_counter() {
  static auto& c = metrics::registry::global().get_counter(
      "nf_produce_duplicates_total", "Events with a client-chosen id answered from an earlier append instead of appended again");
  return c;
}

}  // namespace

routes::routes(bus::event_bus& bus, projection::store& store, producing_projection& proj, projection::feed& feed,
               const streams::topic_visibility& visibility, const nf::clock& clk, route_options opts)
    : bus_(bus), store_(store), proj_(proj), feed_(feed), view_(store, proj), visibility_(visibility), clk_(clk), opts_(std::move(opts)) {}

void routes::add_to(http::route_table& t) {
  const http::response_doc err{"the error", http::schema::ref("Error")};
  t.add({.method = http::verb::post, .path = "/topics/{topic}/events", .perm = perm::write,
         .summary = "Append one event, a batch ({\"events\":[...]}) or NDJSON lines to a topic, atomically", .tag = "topics",
         .params = {{"topic", "the topic", http::schema::string(), true, "path"}},
         .body = json{{"oneOf", {event_schema(), http::schema::object({{"events", http::schema::array(event_schema())}}, {"events"})}}},
         .responses = {{201, {"appended (or, for a retry of client ids, appended before)", positions_schema()}},
                       {400, {"an invalid event: names it (events[i] or line N) and the field", http::schema::ref("Error")}},
                       {403, {"a topic the platform writes", http::schema::ref("Error")}},
                       {404, {"no such topic", http::schema::ref("Error")}},
                       {409, {"a client id appended before with other content, or a key not at its expectedVersion "
                              "(wrong_expected_version: nothing of the batch was appended)",
                              http::schema::ref("Error")}},
                       {413, {"too many events, or an event too large: names the limit", http::schema::ref("Error")}},
                       {415, {"neither application/json nor application/x-ndjson", http::schema::ref("Error")}},
                       {501, {"expectedVersion on a bus that cannot check it (Kafka)", http::schema::ref("Error")}}},
         .deferred = [this](const http::route_context& c, http::answer_fn answer) { produce(c, std::move(answer)); },
         .blocking = !bus_.appends_async()});
  t.add({.method = http::verb::post, .path = "/topics", .perm = perm::topics_write,
         .summary = "Create a topic (platform admin; a tenant admin inside tenant.<tenant>.*)", .tag = "topics",
         .body = http::schema::object({{"name", http::schema::string()},
                                       {"partitions", http::schema::integer()},
                                       {"retentionMs", http::schema::integer()},
                                       {"acceptUnknownTypes", http::schema::boolean()},
                                       {"keyVersions", http::schema::boolean()},
                                       {"cleanup", json{{"type", "string"},
                                                        {"enum", {"delete", "compact"}},
                                                        {"description", "compact: the bus keeps at least every key's latest event (Kafka's "
                                                                        "cleanup.policy=compact); every event needs a key; no retentionMs"}}},
                                       {"deleteRetentionMs", json{{"type", "integer"},
                                                                  {"description", "compact: how long a tombstone (an event with an "
                                                                                  "empty value) stays; default one day"}}}},
                                      {"name"}),
         .responses = {{201, {"created", topic_schema()}},
                       {400, err},
                       {403, err},
                       {409, {"the topic exists", http::schema::ref("Error")}},
                       {501, {"keyVersions on a bus that cannot check expected versions (Kafka)", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) { return create_topic(c); },
         .blocking = true});
  t.add({.method = http::verb::get, .path = "/topics/{topic}", .perm = perm::read,
         .summary = "A topic: partitions, offsets and settings", .tag = "topics",
         .params = {{"topic", "the topic", http::schema::string(), true, "path"}},
         .responses = {{200, {"the topic", topic_schema()}}, {403, err}, {404, err}},
         .handler = [this](const http::route_context& c) { return describe(c); }});
}

std::optional<http::response> routes::refuse_topic(const http::route_context& c, const std::string& topic, bool writing) const {
  if (auto v = bus::validate_topic_name(topic); !v) return http::invalid_field("topic", v.error().message, c.req);
  const auto owner = namespace_owner(topic);
  if (!owner.empty() && !c.who.platform_admin && owner != c.who.tenant)
    return http::error_response(status::not_found, "not_found", "unknown topic '" + topic + "'", c.req, "topic");
  if (writing && (visibility_.platform_written(topic) || topic.starts_with("producing.")))
    return http::error_response(status::forbidden, "forbidden", "'" + topic + "' is written by the platform only; use its feature's routes",
                                c.req, "topic");
  if (!writing && !c.who.platform_admin && visibility_.restricted(topic))
    return http::error_response(status::forbidden, "forbidden", "'" + topic + "' is a platform topic, readable by the platform admin only",
                                c.req, "topic");
  return std::nullopt;
}

result<void> routes::mark_start() {
  NF_TRY_ASSIGN(auto topics, bus_.list_topics());
  std::map<topic_partition, std::int64_t> ends;
  for (const auto& t : topics) {
    if (!bus::subscribed_by(proj_.topics(), t.name.get())) continue;  // topics the index does not read
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      const topic_partition tp{t.name, partition_id{p}};
      NF_TRY_ASSIGN(auto b, bus_.begin_offset(tp));
      NF_TRY_ASSIGN(auto e, bus_.end_offset(tp));
      if (e.get() > b.get()) ends[tp] = e.get();
    }
  }
  std::lock_guard lk(start_mu_);
  start_ends_ = std::move(ends);
  return ok();
}

bool routes::index_ready() const {
  if (index_ready_.load(std::memory_order_acquire)) return true;
  std::lock_guard lk(start_mu_);
  auto applied = store_.last_applied(proj_);
  if (!applied) return false;
  for (const auto& [tp, end] : start_ends_) {
    auto it = applied->find(tp);
    if (it == applied->end() || it->second.get() < end) return false;
  }
  index_ready_.store(true, std::memory_order_release);
  return true;
}

namespace {
// The answer to a failed describe_topic: 404 for a topic that does not exist (with `hint`).
http::response topic_error(const error& e, const std::string& topic, const std::string& hint, const http::request& req) {
  if (e.code == errc::not_found) return http::error_response(status::not_found, "not_found", "unknown topic '" + topic + "'" + hint, req, "topic");
  return http::error_response(http::status_for(e.code), "bus_error", e.message, req);
}
}  // namespace

bool routes::accepts_unknown(const std::string& topic, const std::optional<nlohmann::json>& settings) const {
  return (settings && settings->value("acceptUnknownTypes", false)) || opts_.accept_unknown_types.count(topic) > 0;
}

namespace {
// Bodies this large are parsed on a worker, so the connections sharing an I/O thread do not wait
// behind them (a batch of 1,000 events takes milliseconds to check and build).
constexpr std::size_t kParseOnWorkerBytes = 64 * 1024;
}  // namespace

void routes::produce(const http::route_context& c, http::answer_fn answer) {
  auto run = [this, &c, answer] {
    auto p = prepare(c);
    if (auto* refused = std::get_if<http::response>(&p)) return answer(std::move(*refused));
    auto batch = std::make_shared<prepared>(std::get<prepared>(std::move(p)));
    if (batch->client_ids) return c.offload([this, &c, batch, answer] { answer(append_idempotent(c, *batch)); });
    auto records = std::move(batch->records);
    bus_.append_async(topic_name{batch->topic}, std::move(records),
                      [this, &c, batch, answer](result<std::vector<bus::append_result>> at) { answer(appended(c, *batch, at)); });
  };
  if (c.req.body().size() >= kParseOnWorkerBytes) return c.offload(run);
  run();
}

result<bool> routes::accepts_unknown(const std::string& topic) {
  const auto* gen = opts_.settings_generation;
  // Read before the settings: a fold committed in between changes it, so what is read now is
  // never kept past that fold.
  const auto at = gen ? gen->load(std::memory_order_acquire) : 0;
  if (gen) {
    std::lock_guard lk(settings_mu_);
    if (auto it = accepts_unknown_.find(topic); it != accepts_unknown_.end() && it->second.first == at) return it->second.second;
  }
  NF_TRY_ASSIGN(auto settings, view_.settings(topic));
  const bool accepts = accepts_unknown(topic, settings);
  if (gen) {
    std::lock_guard lk(settings_mu_);
    if (accepts_unknown_.size() >= 10'000) accepts_unknown_.clear();  // topics are few; a bound all the same
    accepts_unknown_[topic] = {at, accepts};
  }
  return accepts;
}

std::variant<routes::prepared, http::response> routes::prepare(const http::route_context& c) {
  const auto& req = c.req;
  prepared p;
  p.topic = c.path_param("topic");
  const auto& topic = p.topic;
  if (auto refused = refuse_topic(c, topic, true)) return std::move(*refused);
  if (!c.adm.allows(c.who, perm::write, topic))
    return http::error_response(status::forbidden, "forbidden",
                                "the caller's roles grant events:write on other topics only (a scoped grant such as "
                                "events:write@orders.*); '" + topic + "' is not among them",
                                req, "topic");
  if (auto info = bus_.describe_topic(topic_name{topic}); !info) return topic_error(info.error(), topic, "; create it with POST /topics", req);
  const auto ct = req[http::field::content_type];
  const std::string_view ctype(ct.data(), ct.size());
  body_format format;
  if (ctype.starts_with("application/x-ndjson")) format = body_format::ndjson;
  else if (ctype.starts_with("application/json")) format = body_format::json;
  else
    return http::error_response(status::unsupported_media_type, "unsupported_media_type",
                                "Content-Type must be application/json or application/x-ndjson", req);
  auto in = parse_events(req.body(), format, {opts_.max_batch_events});
  if (in.refused)
    return http::error_response(static_cast<status>(in.refused->status), in.refused->code, in.refused->message, req, in.refused->field);
  const auto accept = accepts_unknown(topic);
  if (!accept) return http::error_response(http::status_for(accept.error().code), "internal", accept.error().message, req);
  const bool accept_unknown = *accept;

  // Every event is checked before anything is appended.
  p.records.reserve(in.events.size());
  p.ids.reserve(in.events.size());
  p.wheres.reserve(in.events.size());
  std::vector<std::size_t> sizes;
  sizes.reserve(in.events.size());
  bool any_client_id = false, all_client_ids = true;
  const auto now = clk_.now_ms();
  for (auto& e : in.events) {
    if (!accept_unknown && !event::type_registry::global().find(e.type))
      return http::error_response(status::bad_request, "unknown_type",
                                  e.where + ": '" + e.type + "' is not a registered event type, and topic '" + topic +
                                      "' does not accept unknown types (a topic created with acceptUnknownTypes does)",
                                  req, e.where + ".type");
    event::new_event ev;
    ev.type = e.type;
    ev.key = e.key;
    ev.tenant = c.who.tenant;
    ev.region = opts_.region;
    ev.occurred_at = now;
    ev.id = e.id;
    ev.headers = e.headers;
    auto env = event::build(ev, e.payload);
    if (!env) return http::error_response(status::bad_request, "invalid_event", e.where + ": " + env.error().message, req, e.where + ".payload");
    auto rec = event::to_record(*env);
    rec.expected_version = e.expected_version;
    if (e.id) {
      rec.headers.push_back({kDigestHeader, e.digest});
      any_client_id = true;
    } else {
      all_client_ids = false;
    }
    const auto size = bus::record_size(rec);
    if (size > opts_.max_event_bytes)
      return http::error_response(status::payload_too_large, "event_too_large",
                                  e.where + " is " + std::to_string(size) + " bytes; an event is at most " +
                                      std::to_string(opts_.max_event_bytes) + " bytes (bus.max_event_bytes)",
                                  req, e.where);
    p.ids.push_back(env->id());
    p.wheres.push_back(std::move(e.where));
    sizes.push_back(size);
    p.records.push_back(std::move(rec));
  }
  // The batch counts whole against the quotas: events and bytes together.
  std::int64_t bytes = 0;
  for (const auto size : sizes) bytes += static_cast<std::int64_t>(size);
  if (auto refused = c.adm.admit_write(c.who, static_cast<std::int64_t>(sizes.size()), bytes, c.route, req)) return std::move(*refused);
  if (any_client_id && !all_client_ids)
    return http::error_response(status::bad_request, "invalid_field",
                                "a batch gives every event an id or none: an idempotent retry must name all of its events", req, "id");
  p.client_ids = any_client_id;
  return p;
}

http::response routes::positions_answer(const http::route_context& c, const prepared& p, const std::vector<placed>& at,
                                        bool duplicate) const {
  // Written without a JSON tree: a batch of 1,000 answers 1,000 positions.
  std::string body;
  body.reserve(64 + at.size() * 80);
  body += "{\"topic\":";
  body += json(p.topic).dump();
  body += ",\"positions\":[";
  std::map<std::int32_t, std::int64_t> last;  // NF-Position names the last offset per partition
  for (std::size_t i = 0; i < at.size(); ++i) {
    const auto id = event::event_id::from_raw(p.ids[i]);
    if (i) body += ',';
    body += "{\"partition\":";
    body += std::to_string(at[i].partition);
    body += ",\"offset\":";
    body += std::to_string(at[i].off);
    body += ",\"id\":\"";
    if (id) body += id->to_string();
    body += "\"}";
    auto& l = last.try_emplace(at[i].partition, at[i].off).first->second;
    l = std::max(l, at[i].off);
  }
  body += ']';
  if (duplicate) body += ",\"duplicate\":true";
  body += '}';
  for (const auto& [part, off] : last) c.wrote({topic_name{p.topic}, partition_id{part}}, offset{off});
  return http::json_text_response(status::created, std::move(body), c.req);
}

http::response routes::appended(const http::route_context& c, const prepared& p, const result<std::vector<bus::append_result>>& at) {
  const auto& req = c.req;
  if (!at) {
    const auto& e = at.error();
    if (e.code == errc::too_large) return http::error_response(status::payload_too_large, "event_too_large", e.message, req);
    if (e.code == errc::wrong_expected_version) return http::error_response(status::conflict, "wrong_expected_version", e.message, req);
    if (e.code == errc::unsupported) return http::error_response(status::not_implemented, "not_implemented", e.message, req);
    return http::error_response(http::status_for(e.code), "append_failed", e.message, req);
  }
  std::vector<placed> where;
  where.reserve(at->size());
  for (std::size_t i = 0; i < at->size(); ++i)
    where.push_back({(*at)[i].partition.get(), (*at)[i].off.get(), p.client_ids ? p.records[i].headers.back().value : std::string()});
  if (p.client_ids) {
    std::lock_guard lk(ids_mu_);
    for (std::size_t i = 0; i < p.ids.size(); ++i) {
      if (recent_.emplace(p.ids[i], std::make_pair(p.topic, where[i])).second) recent_order_.push_back(p.ids[i]);
    }
    while (recent_order_.size() > opts_.recent_ids) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
  }
  produced_counter().inc(static_cast<double>(where.size()));
  return positions_answer(c, p, where, false);
}

http::response routes::append_idempotent(const http::route_context& c, prepared& p) {
  const auto& req = c.req;
  const auto& ids = p.ids;
  const auto& topic = p.topic;
  // Client ids: answered from an earlier append, or claimed for this one.
  struct release {
    routes* self;
    std::vector<std::string> held;
    ~release() {
      if (held.empty()) return;
      {
        std::lock_guard lk(self->ids_mu_);
        for (const auto& id : held) self->in_flight_.erase(id);
      }
      self->ids_cv_.notify_all();
    }
  } held{this, {}};
  if (!index_ready()) {
    auto res = http::error_response(status::service_unavailable, "not_ready",
                                    "the index of client ids is still reading the log after a start; retry shortly", req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  std::vector<std::optional<placed>> known(ids.size());
  std::vector<std::string> known_topic(ids.size());
  {
    std::unique_lock lk(ids_mu_);
    ids_cv_.wait(lk, [&] { return std::none_of(ids.begin(), ids.end(), [&](const std::string& id) { return in_flight_.count(id) > 0; }); });
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (auto it = recent_.find(ids[i]); it != recent_.end()) {
        known[i] = it->second.second;
        known_topic[i] = it->second.first;
      } else if (in_flight_.insert(ids[i]).second) {
        held.held.push_back(ids[i]);
      }
    }
  }
  std::vector<event::event_id> lookup;
  std::vector<std::size_t> lookup_at;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!known[i]) {
      lookup.push_back(*event::event_id::from_raw(ids[i]));
      lookup_at.push_back(i);
    }
  if (!lookup.empty()) {
    auto found = view_.find(lookup);
    if (!found) return http::error_response(http::status_for(found.error().code), "internal", found.error().message, req);
    for (std::size_t j = 0; j < found->size(); ++j)
      if ((*found)[j]) {
        const auto& x = *(*found)[j];
        known[lookup_at[j]] = placed{x.partition.get(), x.off.get(), x.digest};
        known_topic[lookup_at[j]] = x.topic.get();
      }
  }
  std::size_t n_known = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!known[i]) continue;
    ++n_known;
    const auto digest = p.records[i].headers.back().value;
    if (known_topic[i] != topic || known[i]->digest != digest)
      return http::error_response(status::conflict, "conflict",
                                  p.wheres[i] + ": id " + event::event_id::from_raw(ids[i])->to_string() +
                                      " was appended before with other content (to " + known_topic[i] + " " +
                                      std::to_string(known[i]->partition) + "@" + std::to_string(known[i]->off) + ")",
                                  req, p.wheres[i] + ".id");
  }
  if (n_known == ids.size()) {
    std::vector<placed> at;
    for (const auto& k : known) at.push_back(*k);
    duplicate_counter().inc(static_cast<double>(at.size()));
    return positions_answer(c, p, at, true);
  }
  if (n_known > 0) {
    const auto first = static_cast<std::size_t>(std::find_if(known.begin(), known.end(), [](const auto& k) { return k.has_value(); }) - known.begin());
    return http::error_response(status::conflict, "conflict",
                                p.wheres[first] + ": id " + event::event_id::from_raw(ids[first])->to_string() +
                                    " was appended before in another request, but other ids of this batch were not; a retry "
                                    "repeats the whole batch it retries",
                                req, p.wheres[first] + ".id");
  }
  // The ids stay claimed until the append is answered, so a concurrent retry waits for it.
  return appended(c, p, bus_.append(topic_name{topic}, p.records));
}

http::response routes::create_topic(const http::route_context& c) {
  const auto& req = c.req;
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  for (const auto& item : body->items())
    if (item.key() != "name" && item.key() != "partitions" && item.key() != "retentionMs" && item.key() != "acceptUnknownTypes" &&
        item.key() != "keyVersions" && item.key() != "cleanup" && item.key() != "deleteRetentionMs")
      return http::error_response(status::bad_request, "unknown_field", "unknown field '" + item.key() + "'", req, item.key());
  if (!body->contains("name") || !(*body)["name"].is_string()) return http::invalid_field("name", "'name' is required: a topic name", req);
  const std::string name = (*body)["name"].get<std::string>();
  if (auto v = bus::validate_topic_name(name); !v) return http::invalid_field("name", v.error().message, req);
  std::int32_t partitions = opts_.default_partitions;
  if (body->contains("partitions")) {
    auto p = int_field(*body, "partitions");
    if (!p || *p < 1 || *p > 1024) return http::invalid_field("partitions", "'partitions' must be an integer from 1 to 1024", req);
    partitions = static_cast<std::int32_t>(*p);
  }
  std::int64_t retention_ms = -1;
  if (body->contains("retentionMs")) {
    auto r = int_field(*body, "retentionMs");
    if (!r || (*r < 1 && *r != -1)) return http::invalid_field("retentionMs", "'retentionMs' must be a positive integer, or -1 to keep forever", req);
    retention_ms = *r;
  }
  bool accept_unknown = false;
  if (body->contains("acceptUnknownTypes")) {
    if (!(*body)["acceptUnknownTypes"].is_boolean()) return http::wrong_type("acceptUnknownTypes", "a boolean", req);
    accept_unknown = (*body)["acceptUnknownTypes"].get<bool>();
  }
  bool key_versions = false;
  if (body->contains("keyVersions")) {
    if (!(*body)["keyVersions"].is_boolean()) return http::wrong_type("keyVersions", "a boolean", req);
    key_versions = (*body)["keyVersions"].get<bool>();
  }
  bus::topic_config tc{.partitions = partitions, .retention_ms = retention_ms, .key_versions = key_versions};
  if (body->contains("cleanup")) {
    const auto& cl = (*body)["cleanup"];
    if (!cl.is_string() || (cl != "delete" && cl != "compact"))
      return http::invalid_field("cleanup", "'cleanup' must be \"delete\" or \"compact\"", req);
    tc.compact = cl == "compact";
  }
  if (body->contains("deleteRetentionMs")) {
    auto d = int_field(*body, "deleteRetentionMs");
    if (!d || *d < 0) return http::invalid_field("deleteRetentionMs", "'deleteRetentionMs' must be an integer of 0 or more", req);
    if (!tc.compact) return http::invalid_field("deleteRetentionMs", "'deleteRetentionMs' applies to \"cleanup\": \"compact\" topics", req);
    tc.delete_retention_ms = *d;
  }
  if (auto bad = bus::check_cleanup(topic_name{name}, tc); !bad) return http::invalid_field("cleanup", bad.error().message, req);
  const auto owner = namespace_owner(name);
  if (!c.who.platform_admin) {
    if (owner != c.who.tenant || c.who.tenant.empty())
      return http::error_response(status::forbidden, "forbidden",
                                  "a tenant creates topics in its own namespace only: 'tenant." + c.who.tenant + ".<name>'", req, "name");
  }
  if (visibility_.platform_written(name) || name.starts_with("producing."))
    return http::error_response(status::forbidden, "forbidden", "'" + name + "' is in a namespace the platform writes", req, "name");
  if (auto exists = bus_.describe_topic(topic_name{name}); exists)
    return http::error_response(status::conflict, "conflict", "topic '" + name + "' exists", req, "name");
  if (auto r = bus_.create_topic(topic_name{name}, tc); !r) {
    if (r.error().code == errc::already_exists)
      return http::error_response(status::conflict, "conflict", "topic '" + name + "' exists", req, "name");
    if (r.error().code == errc::unsupported)  // keyVersions on a bus that cannot keep them (Kafka)
      return http::error_response(status::not_implemented, "not_implemented", r.error().message, req, "keyVersions");
    return http::error_response(http::status_for(r.error().code), "bus_error", r.error().message, req);
  }
  // The settings the bus does not keep are a fact on producing.topics.
  events::TopicCreated created;
  created.set_name(name);
  created.set_partitions(partitions);
  created.set_retention_ms(retention_ms);
  created.set_accept_unknown_types(accept_unknown);
  created.set_tenant_id(owner);
  created.set_created_by(c.who.principal);
  event::new_event ev;
  ev.type = kTopicCreated;
  ev.key = name;
  ev.tenant = c.who.tenant;
  ev.region = opts_.region;
  ev.occurred_at = clk_.now_ms();
  auto env = event::build(ev, created);
  if (!env) return http::error_response(status::internal_server_error, "internal", env.error().message, req);
  const auto rec = event::to_record(*env);
  auto at = bus_.append(topic_name{kTopicsTopic}, std::span<const bus::record>(&rec, 1));
  if (!at) return http::error_response(http::status_for(at.error().code), "append_failed", at.error().message, req);
  const topic_partition tp{topic_name{kTopicsTopic}, (*at)[0].partition};
  c.wrote(tp, (*at)[0].off);
  json out{{"name", name},       {"partitions", partitions}, {"retentionMs", retention_ms}, {"acceptUnknownTypes", accept_unknown},
           {"keyVersions", key_versions}, {"cleanup", tc.compact ? "compact" : "delete"}, {"tenant", owner}};
  if (tc.compact) out["deleteRetentionMs"] = tc.delete_retention_ms;
  if (!feed_.wait_applied(tp, (*at)[0].off, opts_.read_your_writes_timeout)) {
    out["visible"] = false;
    return http::json_response(status::accepted, out, req);
  }
  return http::json_response(status::created, out, req);
}

http::response routes::describe(const http::route_context& c) {
  const auto& req = c.req;
  const std::string topic = c.path_param("topic");
  if (auto refused = refuse_topic(c, topic, false)) return std::move(*refused);
  auto info = bus_.describe_topic(topic_name{topic});
  if (!info) return topic_error(info.error(), topic, "", req);
  auto settings = view_.settings(topic);
  if (!settings) return http::error_response(http::status_for(settings.error().code), "internal", settings.error().message, req);
  json out{{"name", topic},
           {"partitions", info->config.partitions},
           {"retentionMs", info->config.retention_ms},
           {"acceptUnknownTypes", accepts_unknown(topic, *settings)},
           {"keyVersions", info->config.key_versions},
           {"cleanup", info->config.compact ? "compact" : "delete"},
           {"tenant", namespace_owner(topic)}};
  if (info->config.compact) out["deleteRetentionMs"] = info->config.delete_retention_ms;
  if (*settings) out["createdAt"] = (**settings).value("createdAt", "");
  // Offsets show how much was written: the platform admin's, or the namespace owner's.
  if (c.who.platform_admin || (!c.who.tenant.empty() && namespace_owner(topic) == c.who.tenant)) {
    json parts = json::array();
    for (std::int32_t p = 0; p < info->config.partitions; ++p) {
      const topic_partition tp{topic_name{topic}, partition_id{p}};
      auto b = bus_.begin_offset(tp);
      auto e = bus_.end_offset(tp);
      if (b && e) parts.push_back({{"partition", p}, {"begin", b->get()}, {"end", e->get()}});
    }
    out["offsets"] = parts;
  }
  return http::json_response(status::ok, out, req);
}

}  // namespace nf::producing
