// Evidence ledger routes.
#include "actors/evidence/routes.h"

#include "actors/evidence/evidence.h"
#include "actors/evidence/schemas.h"

#include <thread>

#include "core/base/base64.h"
#include "core/base/hex.h"
#include "core/base/number.h"
#include "core/event/codec.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/merkle/tree_head.h"
#include "ledger.pb.h"

namespace nf::evidence {

using http::json;
using http::request;
using http::response;
using http::error_response;
using http::json_response;
using http::status_for;
using http::parse_body;
using http::bad_body;
using http::append_error;

namespace {

// A tenant reads its own leaves, and leaves of published provenance (readable_by_all).
bool readable(const http::caller& who, const events::LedgerLeaf& leaf) { return leaf.readable_by_all() || who.sees(leaf.tenant_id()); }

std::string hex(const merkle::hash& h) { return merkle::to_hex(h); }

json hex_array(const std::vector<merkle::hash>& hs) {
  json a = json::array();
  for (const auto& h : hs) a.push_back(hex(h));
  return a;
}

// A non-negative decimal integer, strictly.
std::optional<std::uint64_t> parse_u64(const std::string& s) {
  auto v = parse_number<std::uint64_t>(s);
  return v ? std::optional<std::uint64_t>(*v) : std::nullopt;
}

bool valid_kind(const std::string& k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

response internal(const error& e, const request& req) {
  if (e.code == errc::corruption) return error_response(http::status::internal_server_error, "corruption", e.message, req);
  if (e.code == errc::no_space) return error_response(http::status::insufficient_storage, "insufficient_storage", e.message, req);
  return error_response(status_for(e.code), e.code == errc::invalid_argument ? "invalid_field" : "internal", e.message, req);
}

}  // namespace

routes::routes(bus::event_bus& bus, projection::store& store, route_options o, const nf::clock& clk)
    : bus_(bus), opts_(std::move(o)), view_(store, *opts_.proj, &cache_), vault_(opts_.blob_dir), clk_(clk) {
  if (auto id = merkle::key_id(opts_.public_key_pem)) key_id_hex_ = hex(*id);
  warm_ = std::thread([this] { nf::log::guarded("ledger-cache", [this] { warm(); }); });
}

void routes::warm() {
  {
    const auto t0 = std::chrono::steady_clock::now();
    auto n = view_.warm_cache();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (n) nf::log::get("ledger")->info("ledger node cache: {} nodes loaded in {} ms", *n, ms);
    else nf::log::get("ledger")->warn("ledger node cache not loaded: {}", n.error().message);
  }
}

routes::~routes() {
  if (warm_.joinable()) warm_.join();
}

void routes::add_to(http::route_table& t) {
  using http::verb;
  const http::response_doc not_found{"unknown, or another tenant's", http::schema::ref("Error")};
  auto add = [&](verb m, const char* path, http::permission p, const char* summary, std::vector<http::param_doc> params,
                 std::map<unsigned, http::response_doc> responses, http::handler_fn fn, std::optional<json> body = std::nullopt,
                 std::size_t max_body = 0) {
    t.add({.method = m, .path = path, .perm = p, .summary = summary, .tag = "evidence", .params = std::move(params),
           .body = std::move(body), .responses = std::move(responses), .handler = std::move(fn), .max_body = max_body});
  };
  const auto record_limit = opts_.max_record_bytes * 4 / 3 + 4096;  // base64 of the largest record, and the JSON around it
  add(verb::post, "/ledger/record", perm::write, "Store a record in the vault and append it to the ledger", {},
      {{201, {"recorded, with its leaf", schemas::recorded()}},
       {202, {"recorded; the leaf follows", schemas::recorded()}},
       {507, {"the disk is full", http::schema::ref("Error")}}},
      [this](const http::route_context& c) {
        if (auto d = c.quota()) return *d;
        return record(c, c.who, c.req);
      },
      schemas::record_request(), record_limit);
  add(verb::put, "/evidence/blobs/{sha256}", perm::write, "Upload artifact content; the body must hash to the name",
      {{"sha256", "hex SHA-256 of the body", json{{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}}, true, "path"}},
      {{201, {"stored", schemas::blob_stored()}}, {200, {"already stored", schemas::blob_stored()}},
       {400, {"the body does not hash to the name", http::schema::ref("Error")}}, {413, {"too large", http::schema::ref("Error")}}},
      [this](const http::route_context& c) {
        if (auto d = c.quota()) return *d;
        return put_blob(c.who, c.path_param("sha256"), c.req);
      },
      std::nullopt, opts_.max_record_bytes);
  add(verb::get, "/evidence/blobs/{sha256}", perm::read, "A stored blob, verified against its name on every read",
      {{"sha256", "hex SHA-256", json{{"type", "string"}}, true, "path"}},
      {{200, {"the blob", json{{"type", "string"}, {"format", "binary"}}, "application/octet-stream"}}, {404, not_found}},
      [this](const http::route_context& c) { return get_blob(c.who, c.path_param("sha256"), c.req); });
  add(verb::get, "/ledger/tree-head", perm::read, "The latest signed tree head", {},
      {{200, {"the head", schemas::tree_head()}}, {404, {"no head signed yet", http::schema::ref("Error")}}},
      [this](const http::route_context& c) { return tree_head(c.req); });
  add(verb::get, "/ledger/entries/{index}", perm::read, "One leaf: its data, hash and source event",
      {{"index", "leaf index", json{{"type", "string"}, {"pattern", "^[0-9]+$"}}, true, "path"}},
      {{200, {"the entry", schemas::entry()}}, {404, not_found}},
      [this](const http::route_context& c) { return entry(c.who, c.path_param("index"), c.req); });
  add(verb::get, "/ledger/proof/inclusion", perm::read, "Inclusion proof (RFC 6962) of a leaf in a signed tree",
      {{"leaf_hash", "hex leaf hash (or give index)", http::schema::string()},
       {"index", "leaf index (or give leaf_hash)", json{{"type", "integer"}, {"minimum", 0}}},
       {"tree_size", "default: the latest signed head's size", json{{"type", "integer"}, {"minimum", 1}}}},
      {{200, {"the proof", schemas::inclusion()}}, {404, not_found}},
      [this](const http::route_context& c) { return inclusion(c.who, c.t, c.req); });
  add(verb::get, "/ledger/proof/consistency", perm::read, "Consistency proof (RFC 6962) between two tree sizes",
      {{"first", "the older size", json{{"type", "integer"}, {"minimum", 1}}, true},
       {"second", "the newer size (default: the latest signed head's)", json{{"type", "integer"}, {"minimum", 1}}}},
      {{200, {"the proof", schemas::consistency()}}, {404, {"no head signed yet", http::schema::ref("Error")}}},
      [this](const http::route_context& c) { return consistency(c.t, c.req); });
  add(verb::get, "/ledger/search", perm::read, "Leaf indices of a mission's or an artifact's records",
      {{"missionId", "give this or artifactId", http::schema::string()},
       {"artifactId", "give this or missionId", http::schema::string()},
       {"limit", "1..1000", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}}},
      {{200, {"matching leaves", schemas::search()}}},
      [this](const http::route_context& c) { return search(c.who, c.t, c.req); });
  add(verb::get, "/ledger/public-key", perm::read, "The tree-head signing key (PEM), its key id and algorithm", {},
      {{200, {"the key", schemas::public_key()}}},
      [this](const http::route_context& c) { return public_key(c.req); });
}

response routes::record(const http::route_context& rc, const http::caller& who, const request& req) {
  auto parsed = parse_body(req);
  if (!parsed) return bad_body(parsed.error(), req);
  auto& body = *parsed;
  for (const auto& [k, v] : body.items())
    if (k != "data" && k != "json" && k != "kind" && k != "missionId" && k != "artifactId")
      return error_response(http::status::bad_request, "unknown_field", "unknown field '" + k + "'", req, k);
  if (body.contains("data") == body.contains("json"))
    return error_response(http::status::bad_request, "invalid_field", "give exactly one of 'data' (base64) or 'json'", req, "data");
  if (!body.contains("kind") || !body["kind"].is_string() || !valid_kind(body["kind"].get<std::string>()))
    return error_response(http::status::bad_request, "invalid_field", "'kind' is required: 1..64 characters of a-z 0-9 . _ -", req, "kind");
  std::string ids[2];
  const char* id_fields[2] = {"missionId", "artifactId"};
  for (int i = 0; i < 2; ++i) {
    if (!body.contains(id_fields[i])) continue;
    const auto& v = body[id_fields[i]];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 128)
      return error_response(http::status::bad_request, "invalid_field", std::string("'") + id_fields[i] + "' must be a string of 1..128 characters",
                            req, id_fields[i]);
    ids[i] = v.get<std::string>();
  }
  std::string bytes, content_type;
  if (body.contains("data")) {
    if (!body["data"].is_string()) return error_response(http::status::bad_request, "invalid_field", "'data' must be a base64 string", req, "data");
    auto decoded = from_base64(body["data"].get<std::string>());
    if (!decoded) return error_response(http::status::bad_request, "invalid_field", "'data' is not valid padded base64", req, "data");
    bytes = std::move(*decoded);
    content_type = "application/octet-stream";
  } else {
    bytes = body["json"].dump();  // object keys sorted: the same JSON value is the same blob
    content_type = "application/json";
  }
  if (bytes.size() > opts_.max_record_bytes)
    return error_response(http::status::payload_too_large, "payload_too_large",
                          "the record is " + std::to_string(bytes.size()) + " bytes; the limit is " + std::to_string(opts_.max_record_bytes),
                          req, body.contains("data") ? "data" : "json");
  auto sha = vault_.put(bytes);
  if (!sha) return internal(sha.error(), req);
  if (!who.tenant.empty())
    if (auto owned = vault_.add_owner(*sha, tenant_id{who.tenant}); !owned) return internal(owned.error(), req);

  event::new_event ev;
  ev.type = "evidence.record_submitted";
  ev.key = ids[0].empty() ? *sha : ids[0];
  ev.tenant = who.tenant;
  ev.region = opts_.region;
  ev.occurred_at = clk_.now_ms();
  events::EvidenceRecord record;
  record.set_kind(body["kind"].get<std::string>());
  record.set_sha256(*sha);
  record.set_size(bytes.size());
  record.set_content_type(content_type);
  record.set_mission_id(ids[0]);
  record.set_artifact_id(ids[1]);
  auto env = event::build(ev, record);
  if (!env) return internal(env.error(), req);
  const auto rec = event::to_record(*env);
  auto appended = bus_.append(topic_name{kRecordsTopic}, std::span<const bus::record>(&rec, 1));
  if (!appended) return append_error(appended.error(), req);
  rc.wrote({topic_name{kRecordsTopic}, (*appended)[0].partition}, (*appended)[0].off);
  const auto event_id = event::event_id::from_raw(env->id())->to_string();
  json answer{{"eventId", event_id}, {"sha256", *sha}, {"size", bytes.size()}};

  // The evidence actor gives the leaf its index; answer once the ledger shows it.
  const auto deadline = std::chrono::steady_clock::now() + opts_.wait;
  for (;;) {
    auto idx = view_.index_of_event(event_id);
    if (!idx) return internal(idx.error(), req);
    if (*idx) {
      auto e = view_.get(**idx);
      if (!e) return internal(e.error(), req);
      answer["leaf_index"] = **idx;
      answer["leaf_hash"] = hex(e->leaf_hash);
      return json_response(http::status::created, answer, req);
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Recorded durably, but the ledger has not caught up yet: the leaf will follow.
  answer["leaf_index"] = nullptr;
  answer["status"] = "pending";
  return json_response(http::status::accepted, answer, req);
}

response routes::put_blob(const http::caller& who, const std::string& name, const request& req) {
  if (!store::vault::valid_name(name))
    return error_response(http::status::bad_request, "invalid_field", "the blob name must be 64 lowercase hex digits (its SHA-256)", req, "sha256");
  if (req.body().size() > opts_.max_record_bytes)
    return error_response(http::status::payload_too_large, "payload_too_large",
                          "the blob is larger than " + std::to_string(opts_.max_record_bytes) + " bytes", req);
  // Whether another tenant stored the same bytes does not show: "existed" is the caller's own.
  const bool existed = vault_.contains(name) && (who.platform_admin || vault_.owned_by(name, tenant_id{who.tenant}));
  auto r = vault_.put_expected(name, req.body());
  if (!r && r.error().code == errc::invalid_argument) return error_response(http::status::bad_request, "hash_mismatch", r.error().message, req, "sha256");
  if (!r) return internal(r.error(), req);
  if (!who.tenant.empty())
    if (auto owned = vault_.add_owner(name, tenant_id{who.tenant}); !owned) return internal(owned.error(), req);
  return json_response(existed ? http::status::ok : http::status::created, json{{"sha256", name}, {"size", req.body().size()}}, req);
}

response routes::get_blob(const http::caller& who, const std::string& name, const request& req) {
  if (!store::vault::valid_name(name))
    return error_response(http::status::bad_request, "invalid_field", "the blob name must be 64 lowercase hex digits (its SHA-256)", req, "sha256");
  // Another tenant's blob answers exactly as a blob that does not exist.
  const auto absent = [&] { return error_response(http::status::not_found, "not_found", "no blob " + name, req, "sha256"); };
  if (!who.platform_admin && !vault_.owned_by(name, tenant_id{who.tenant})) return absent();
  auto bytes = vault_.get(name);
  if (!bytes && bytes.error().code == errc::not_found) return absent();
  if (!bytes) return internal(bytes.error(), req);
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/octet-stream");
  res.set(http::field::server, "nexus-forge");
  res.set(http::field::etag, "\"" + name + "\"");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(*bytes);
  res.prepare_payload();
  return res;
}

std::optional<std::uint64_t> routes::head_size(std::optional<response>& err, const request& req) {
  auto h = view_.latest_head();
  if (!h) {
    err = internal(h.error(), req);
    return std::nullopt;
  }
  if (!*h) {
    err = error_response(http::status::not_found, "not_found", "no signed tree head yet", req);
    return std::nullopt;
  }
  return (*h)->head.size;
}

response routes::tree_head(const request& req) {
  auto h = view_.latest_head();
  if (!h) return internal(h.error(), req);
  if (!*h) return error_response(http::status::not_found, "not_found", "no signed tree head yet", req);
  const auto& head = (*h)->head;
  return json_response(http::status::ok,
                       json{{"tree_size", head.size},
                            {"root_hash", hex(head.root)},
                            {"timestamp", head.timestamp_ms},
                            {"signature", to_hex(head.signature)},
                            {"key_id", hex((*h)->key_id)},
                            {"algorithm", "Ed25519"}},
                       req);
}

response routes::entry(const http::caller& who, const std::string& index, const request& req) {
  auto i = parse_u64(index);
  if (!i) return error_response(http::status::bad_request, "invalid_field", "the index must be a non-negative integer", req, "index");
  auto e = view_.get(*i);
  if ((!e && e.error().code == errc::not_found) || (e && !readable(who, e->leaf)))
    return error_response(http::status::not_found, "not_found", "no leaf " + index, req, "index");
  if (!e) return internal(e.error(), req);
  return json_response(http::status::ok,
                       json{{"index", e->index},
                            {"leaf_hash", hex(e->leaf_hash)},
                            {"data", to_base64(e->leaf.data())},
                            {"eventId", e->leaf.event_id()},
                            {"eventType", e->leaf.event_type()},
                            {"missionId", e->leaf.mission_id()},
                            {"artifactId", e->leaf.artifact_id()},
                            {"source", {{"topic", e->leaf.source_topic()}, {"partition", e->leaf.source_partition()}, {"offset", e->leaf.source_offset()}}}},
                       req);
}

response routes::inclusion(const http::caller& who, const http::target& t, const request& req) {
  std::optional<response> err;
  auto head = head_size(err, req);
  if (!head) return *err;
  std::uint64_t size = *head;
  if (auto it = t.query.find("tree_size"); it != t.query.end()) {
    auto v = parse_u64(it->second);
    if (!v || *v == 0) return error_response(http::status::bad_request, "invalid_field", "'tree_size' must be a positive integer", req, "tree_size");
    if (*v > *head)
      return error_response(http::status::bad_request, "invalid_field",
                            "'tree_size' " + std::to_string(*v) + " is beyond the latest signed head (" + std::to_string(*head) + ")", req,
                            "tree_size");
    size = *v;
  }
  const auto lh = t.query.find("leaf_hash");
  const auto ix = t.query.find("index");
  if ((lh == t.query.end()) == (ix == t.query.end()))
    return error_response(http::status::bad_request, "invalid_field", "give exactly one of 'leaf_hash' or 'index'", req, "leaf_hash");
  std::uint64_t index = 0;
  if (lh != t.query.end()) {
    auto h = merkle::from_hex(lh->second);
    if (!h) return error_response(http::status::bad_request, "invalid_field", "'leaf_hash': " + h.error().message, req, "leaf_hash");
    auto found = view_.index_of_leaf_hash(*h);
    if (!found) return internal(found.error(), req);
    // Another tenant's leaf answers exactly as a hash that does not exist.
    const auto absent = [&] { return error_response(http::status::not_found, "not_found", "no leaf has hash " + lh->second, req, "leaf_hash"); };
    if (!*found) return absent();
    if (!who.platform_admin) {
      auto owner = view_.get(**found);
      if (!owner) return internal(owner.error(), req);
      if (!readable(who, owner->leaf)) return absent();
    }
    index = **found;
  } else {
    auto v = parse_u64(ix->second);
    if (!v) return error_response(http::status::bad_request, "invalid_field", "'index' must be a non-negative integer", req, "index");
    index = *v;
  }
  if (index >= size)
    return error_response(http::status::bad_request, "invalid_field",
                          "leaf " + std::to_string(index) + " is not in the tree of size " + std::to_string(size), req, "tree_size");
  auto e = view_.get(index);
  if (!e) return internal(e.error(), req);
  if (!readable(who, e->leaf)) return error_response(http::status::not_found, "not_found", "no leaf " + std::to_string(index), req, "index");
  auto path = view_.inclusion(index, size);
  if (!path) return internal(path.error(), req);
  auto root = view_.root(size);
  if (!root) return internal(root.error(), req);
  return json_response(http::status::ok,
                       json{{"leaf_index", index},
                            {"tree_size", size},
                            {"leaf_hash", hex(e->leaf_hash)},
                            {"root_hash", hex(*root)},
                            {"audit_path", hex_array(*path)}},
                       req);
}

response routes::consistency(const http::target& t, const request& req) {
  std::optional<response> err;
  auto head = head_size(err, req);
  if (!head) return *err;
  auto num = [&](const char* name, std::optional<std::uint64_t> dflt) -> std::optional<std::uint64_t> {
    auto it = t.query.find(name);
    if (it == t.query.end()) return dflt;
    return parse_u64(it->second);
  };
  auto first = num("first", std::nullopt);
  if (!first || *first == 0)
    return error_response(http::status::bad_request, "invalid_field", "'first' is required: a tree size of at least 1", req, "first");
  auto second = num("second", *head);
  if (!second) return error_response(http::status::bad_request, "invalid_field", "'second' must be a positive integer", req, "second");
  if (*first > *second)
    return error_response(http::status::bad_request, "invalid_field",
                          "'first' (" + std::to_string(*first) + ") is larger than 'second' (" + std::to_string(*second) + ")", req, "first");
  if (*second > *head)
    return error_response(http::status::bad_request, "invalid_field",
                          "'second' " + std::to_string(*second) + " is beyond the latest signed head (" + std::to_string(*head) + ")", req,
                          "second");
  auto proof = view_.consistency(*first, *second);
  if (!proof) return internal(proof.error(), req);
  auto r1 = view_.root(*first);
  auto r2 = view_.root(*second);
  if (!r1) return internal(r1.error(), req);
  if (!r2) return internal(r2.error(), req);
  return json_response(http::status::ok,
                       json{{"first", *first},
                            {"second", *second},
                            {"first_root", hex(*r1)},
                            {"second_root", hex(*r2)},
                            {"consistency", hex_array(*proof)}},
                       req);
}

response routes::search(const http::caller& who, const http::target& t, const request& req) {
  const auto m = t.query.find("missionId");
  const auto a = t.query.find("artifactId");
  if ((m == t.query.end()) == (a == t.query.end()))
    return error_response(http::status::bad_request, "invalid_field", "give exactly one of 'missionId' or 'artifactId'", req, "missionId");
  const auto& value = m != t.query.end() ? m->second : a->second;
  const char* field = m != t.query.end() ? "missionId" : "artifactId";
  if (value.empty() || value.size() > 128)
    return error_response(http::status::bad_request, "invalid_field", std::string("'") + field + "' must be 1..128 characters", req, field);
  std::size_t limit = 100;
  if (auto it = t.query.find("limit"); it != t.query.end()) {
    auto v = parse_u64(it->second);
    if (!v || *v < 1 || *v > 1000) return error_response(http::status::bad_request, "invalid_field", "'limit' must be from 1 to 1000", req, "limit");
    limit = *v;
  }
  // Other tenants' leaves are left out; the scan reads at most 10x the limit to fill a page.
  const std::size_t scan = who.platform_admin ? limit : std::min<std::size_t>(limit * 10, 10'000);
  auto found = m != t.query.end() ? view_.search_mission(value, scan) : view_.search_artifact(value, scan);
  if (!found) return internal(found.error(), req);
  std::vector<std::uint64_t> indices;
  for (auto i : *found) {
    if (indices.size() == limit) break;
    if (!who.platform_admin) {
      auto e = view_.get(i);
      if (!e) return internal(e.error(), req);
      if (!readable(who, e->leaf)) continue;
    }
    indices.push_back(i);
  }
  return json_response(http::status::ok, json{{"indices", indices}}, req);
}

response routes::public_key(const request& req) {
  return json_response(http::status::ok, json{{"algorithm", "Ed25519"}, {"key_id", key_id_hex_}, {"public_key_pem", opts_.public_key_pem}}, req);
}

}  // namespace nf::evidence
