// HTTP client commands (Boost.Beast) and direct-bus subscribe and replay.
#include "apps/nexus-forge/client_commands.h"

#include <chrono>
#include <iostream>
#include <queue>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "core/streams/subscription.h"
#include "core/base/number.h"
#include "core/base/rfc3339.h"
#include "apps/nexus-forge/ledger_commands.h"
#include "core/bus/factory.h"
#include "core/merkle/merkle.h"
#include "core/event/codec.h"

namespace nf::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

int fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

struct endpoint {
  std::string host, port;
};

std::optional<endpoint> parse_server(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) return std::nullopt;
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return std::nullopt;
  return endpoint{rest.substr(0, colon), rest.substr(colon + 1)};
}

struct reply {
  int status = 0;
  std::string body;
};

// The key given, or NF_API_KEY.
std::string key_or_env(const std::string& key) {
  if (!key.empty()) return key;
  auto env = config::process_env("NF_API_KEY");
  return env ? *env : std::string();
}

std::optional<reply> call(const std::string& server, http::verb method, const std::string& target, const std::string& body,
                          std::string& err, const std::string& api_key) {
  auto ep = parse_server(server);
  if (!ep) {
    err = "--server must look like http://HOST:PORT, got '" + server + "'";
    return std::nullopt;
  }
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(ep->host, ep->port));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, ep->host);
    req.set(http::field::user_agent, "nexus-forge-cli");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
    if (method == http::verb::post || method == http::verb::patch) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return reply{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    err = "cannot reach " + server + ": " + e.what();
    return std::nullopt;
  }
}

// Prints an API error body as "error: <message> (<code>, field <f>)" and returns 1.
int api_error(const reply& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    std::string msg = "error: " + e.value("message", "") + " (HTTP " + std::to_string(r.status) + ", " + e.value("code", "");
    if (e.contains("field")) msg += ", field " + e["field"].get<std::string>();
    std::cerr << msg << ")\n";
  } else {
    std::cerr << "error: HTTP " << r.status << ": " << r.body << "\n";
  }
  return 1;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*') out.push_back(static_cast<char>(c));
    else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace

int mission_create(const mission_create_args& a) {
  json body{{"objective", a.objective}, {"priority", a.priority}, {"originatingSpec", a.spec}};
  if (!a.id.empty()) body["id"] = a.id;
  if (!a.created_at.empty()) body["createdAt"] = a.created_at;
  std::string err;
  auto r = call(a.server, http::verb::post, "/missions", body.dump(), err, key_or_env(a.key));
  if (!r) return fail(err);
  if (r->status != 202) return api_error(*r);
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) std::cout << r->body << "\n";
  else
    std::cout << "accepted mission " << j.value("id", "") << " at " << j.value("topic", "") << "/" << j.value("partition", 0) << "@"
              << j.value("offset", 0) << "\n";
  return 0;
}

int query_missions(const query_args& a) {
  std::string err;
  if (!a.id.empty()) {
    auto r = call(a.server, http::verb::get, "/missions/" + url_encode(a.id), "", err, key_or_env(a.key));
    if (!r) return fail(err);
    if (r->status != 200) return api_error(*r);
    std::cout << (a.json ? r->body : json::parse(r->body).dump(2)) << "\n";
    return 0;
  }
  std::string target = "/missions?limit=" + std::to_string(a.limit);
  if (!a.status.empty()) target += "&status=" + url_encode(a.status);
  if (!a.priority.empty()) target += "&priority=" + url_encode(a.priority);
  if (!a.cursor.empty()) target += "&cursor=" + url_encode(a.cursor);
  auto r = call(a.server, http::verb::get, target, "", err, key_or_env(a.key));
  if (!r) return fail(err);
  if (r->status != 200) return api_error(*r);
  if (a.json) {
    std::cout << r->body << "\n";
    return 0;
  }
  auto j = json::parse(r->body);
  for (const auto& m : j["items"])
    std::cout << m.value("id", "") << "  " << m.value("priority", "") << "  " << m.value("status", "") << "  "
              << m.value("objective", "").substr(0, 60) << "\n";
  if (j["nextCursor"].is_string()) std::cout << "# more: --cursor " << j["nextCursor"].get<std::string>() << "\n";
  return 0;
}

namespace {

void print_event(const std::string& token, const std::string& data, bool as_json) {
  if (as_json) std::cout << R"({"id":")" << token << R"(","event":)" << data << "}\n";
  else std::cout << data << "\n";
  std::cout.flush();
}

int subscribe_http(const subscribe_args& a) {
  auto ep = parse_server(a.server);
  if (!ep) return fail("--server must look like http://HOST:PORT, got '" + a.server + "'");
  std::string topics;
  for (const auto& p : a.patterns) topics += (topics.empty() ? "" : ",") + p;
  std::string target = "/subscribe?topics=" + url_encode(topics) + "&from=" + url_encode(a.from);
  if (a.type) target += "&type=" + url_encode(*a.type);
  if (a.tenant) target += "&tenant=" + url_encode(*a.tenant);
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(ep->host, ep->port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, ep->host);
    req.set(http::field::accept, "text/event-stream");
    if (const auto key = key_or_env(a.key); !key.empty()) req.set(http::field::authorization, "Bearer " + key);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    http::read_header(stream, buf, parser);
    if (parser.get().result_int() != 200) {
      http::read(stream, buf, parser);
      return api_error(reply{static_cast<int>(parser.get().result_int()), parser.get().body()});
    }
    std::string pending = beast::buffers_to_string(buf.data());
    long long printed = 0;
    std::string id, data, event;
    for (;;) {
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (line.empty()) {
          if (event == "error") return fail("the server closed the subscription: " + data);
          if (!data.empty()) {
            print_event(id, data, a.json);
            if (a.count && ++printed >= *a.count) return 0;
          }
          id.clear();
          data.clear();
          event.clear();
        } else if (line.rfind("id: ", 0) == 0) id = line.substr(4);
        else if (line.rfind("data: ", 0) == 0) data += line.substr(6);
        else if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      }
      char tmp[8192];
      beast::error_code ec;
      const auto n = stream.socket().read_some(net::buffer(tmp), ec);
      if (ec) return ec == net::error::eof ? 0 : fail("subscription ended: " + ec.message());
      pending.append(tmp, n);
    }
  } catch (const std::exception& e) {
    return fail("cannot reach " + a.server + ": " + e.what());
  }
}

}  // namespace

int subscribe(const subscribe_args& a) {
  if (a.patterns.empty()) return fail("give at least one topic or pattern, e.g. 'mission.*'");
  if (!a.server.empty()) return subscribe_http(a);
  auto cfg = config::load(a.config);
  if (!cfg) return fail(cfg.error().message);
  auto bus = bus::open_bus(*cfg, bus::access::read_only);
  if (!bus) return fail(bus.error().message);
  streams::subscription_request req;
  req.patterns = a.patterns;
  req.from = a.from;
  req.type = a.type;
  req.tenant = a.tenant;
  auto sub = streams::subscription::open(**bus, req);
  if (!sub) return fail(sub.error().message);
  long long printed = 0;
  for (;;) {
    auto batch = (*sub)->next(std::chrono::milliseconds(500), 512);
    if (!batch) return fail(batch.error().message);
    for (const auto& d : *batch) {
      print_event(d.token, *d.json, a.json);
      if (a.count && ++printed >= *a.count) return 0;
    }
  }
}

// ---- replay ----

namespace {

// Resolves "--from"/"--to" for one partition: an offset, or the first offset at an RFC 3339 time.
result<std::int64_t> position_of(bus::event_bus& b, const topic_partition& tp, const std::string& spec, std::int64_t dflt) {
  if (spec.empty()) return dflt;
  if (spec.find_first_not_of("0123456789") == std::string::npos) return parse_number<std::int64_t>(spec, "the offset", 0);
  auto ms = parse_rfc3339(spec);
  if (!ms) return error{errc::invalid_argument, "'" + spec + "' is neither an offset nor an RFC 3339 time"};
  NF_TRY_ASSIGN(auto off, b.offset_for_time(tp, *ms));
  return off.get();
}

struct cursor {
  topic_partition tp;
  std::unique_ptr<bus::consumer> c;
  std::int64_t next, end;
  std::deque<bus::message> buf;
};

}  // namespace

int replay(const replay_args& a, const nf::config::config& cfg) {
  auto bus = bus::open_bus(cfg, bus::access::read_only);
  if (!bus) return fail(bus.error().message);
  auto& b = **bus;
  // --verify: the ledger recomputed from evidence.ledger, its heads checked, before the replay.
  std::unique_ptr<ledger_audit> audit;
  std::uint64_t verified = 0, pending = 0, failed = 0;
  if (a.verify) {
    auto key = verification_key(a.public_key, cfg);
    if (!key) return fail(key.error().message);
    audit = std::make_unique<ledger_audit>(b, *key, true);
    if (auto r = audit->run(!a.quiet); !r) return fail(r.error().message);
    for (const auto& p : audit->problems) std::cerr << "ledger: " << p.message << "\n";
    if (!a.quiet)
      std::cerr << "ledger: " << audit->leaves << " leaves, latest good head at size " << (audit->latest_head ? audit->latest_head->size : 0)
                << "\n";
  }
  auto check = [&](const bus::message& m) -> json {
    auto env = event::from_message(m);
    if (!env) {
      ++failed;
      return json{{"ok", false}, {"reason", "unreadable: " + env.error().message}};
    }
    const auto& t = env->type();
    if (t != "mission.artifact_recorded" && t != "mission.validation_reported" && t != "evidence.record_submitted") return nullptr;
    const auto id = event::event_id::from_raw(env->id());
    auto it = id ? audit->index_of_event.find(id->to_string()) : audit->index_of_event.end();
    if (it == audit->index_of_event.end()) {
      ++failed;
      return json{{"ok", false}, {"reason", "not in the ledger"}};
    }
    const auto index = it->second;
    const auto lh = merkle::leaf_hash(event::canonical_bytes(*env));
    auto stored = audit->tree.node(0, index);
    if (!stored || *stored != lh) {
      ++failed;
      return json{{"ok", false}, {"index", index}, {"reason", "the event differs from leaf " + std::to_string(index)}};
    }
    if (!audit->latest_head || index >= audit->latest_head->size) {
      ++pending;
      return json{{"ok", true}, {"index", index}, {"pending", "recorded after the latest signed head"}};
    }
    const auto& head = *audit->latest_head;
    auto proof = merkle::inclusion_proof(audit->tree, index, head.size);
    if (!proof || !merkle::verify_inclusion(lh, index, head.size, *proof, head.root)) {
      ++failed;
      return json{{"ok", false}, {"index", index}, {"reason", "no valid inclusion proof against the head at size " + std::to_string(head.size)}};
    }
    ++verified;
    return json{{"ok", true}, {"index", index}, {"treeSize", head.size}, {"proofLength", proof->size()}};
  };
  auto topics = b.list_topics();
  if (!topics) return fail(topics.error().message);
  std::vector<std::unique_ptr<cursor>> cursors;
  std::uint64_t total = 0;
  for (const auto& t : *topics) {
    if (!bus::subscribed_by({a.topic}, t.name.get())) continue;
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      topic_partition tp{t.name, partition_id{p}};
      auto begin = b.begin_offset(tp);
      auto end = b.end_offset(tp);
      if (!begin || !end) return fail("cannot read offsets of " + to_string(tp));
      auto from = position_of(b, tp, a.from, begin->get());
      auto to = position_of(b, tp, a.to, end->get());
      if (!from) return fail(from.error().message);
      if (!to) return fail(to.error().message);
      const std::int64_t lo = std::max(*from, begin->get()), hi = std::min(*to, end->get());
      if (lo >= hi) continue;
      auto cur = std::make_unique<cursor>();
      cur->tp = tp;
      cur->next = lo;
      cur->end = hi;
      auto c = b.make_consumer({});
      if (!c || !(*c)->assign({{tp, offset{lo}}})) return fail("cannot read " + to_string(tp));
      cur->c = std::move(*c);
      total += static_cast<std::uint64_t>(hi - lo);
      cursors.push_back(std::move(cur));
    }
  }
  if (cursors.empty() && !a.quiet) std::cerr << "replay: no events match\n";
  // Merge partitions by timestamp, keeping each partition's own order.
  auto fill = [&](cursor& cur) -> bool {
    while (cur.buf.empty() && cur.next < cur.end) {
      auto msgs = cur.c->poll(std::chrono::milliseconds(1000), static_cast<std::size_t>(std::min<std::int64_t>(1024, cur.end - cur.next)));
      if (!msgs) return false;
      for (auto& m : *msgs)
        if (m.off.get() >= cur.next && m.off.get() < cur.end) cur.buf.push_back(std::move(m));
      if (!cur.buf.empty()) cur.next = cur.buf.back().off.get() + 1;
    }
    return true;
  };
  std::uint64_t done = 0;
  auto last_progress = std::chrono::steady_clock::now();
  for (;;) {
    cursor* best = nullptr;
    for (auto& cur : cursors) {
      if (!fill(*cur)) return fail("read failed on " + to_string(cur->tp));
      if (cur->buf.empty()) continue;
      if (!best || cur->buf.front().timestamp_ms < best->buf.front().timestamp_ms) best = cur.get();
    }
    if (!best) break;
    const auto m = std::move(best->buf.front());
    best->buf.pop_front();
    auto j = event::to_json(m);
    if (!j) {
      std::cerr << "warning: " << j.error().message << "\n";
      j = json{{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()}, {"error", j.error().message}};
    }
    json ledger = audit ? check(m) : json(nullptr);
    if (!ledger.is_null()) (*j)["ledger"] = ledger;
    if (a.json) {
      std::cout << j->dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      std::cout << m.topic.get() << "/" << m.partition.get() << "@" << m.off.get() << "  " << format_rfc3339(m.timestamp_ms)
                << "  " << (*j).value("type", "") << "  " << (*j).value("key", "") << "  "
                << (*j)["payload"].dump(-1, ' ', false, json::error_handler_t::replace);
      if (!ledger.is_null()) {
        if (!ledger["ok"].get<bool>()) std::cout << "  [ledger: FAILED: " << ledger.value("reason", "") << "]";
        else if (ledger.contains("pending")) std::cout << "  [ledger: leaf " << ledger["index"] << ", not yet under a signed head]";
        else std::cout << "  [ledger: leaf " << ledger["index"] << " proved in the head at size " << ledger["treeSize"] << "]";
      }
      std::cout << "\n";
    }
    ++done;
    if (!a.quiet && std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(1)) {
      last_progress = std::chrono::steady_clock::now();
      std::cerr << "replay: " << done << "/" << total << " events (" << (total ? done * 100 / total : 100) << "%)\n";
    }
  }
  std::cout.flush();
  if (!a.quiet && total > 0) std::cerr << "replay: " << done << "/" << total << " events (100%)\n";
  if (audit) {
    std::cerr << "verify: " << verified << " proved against the latest signed head, " << pending << " recorded after it, " << failed
              << " failed; ledger problems: " << audit->problems.size() << "\n";
    if (failed || !audit->problems.empty()) return 1;
  }
  return 0;
}

// ---- tenant ----------------------------------------------------------------------------------

namespace {

std::string key_of(const tenant_args& a) { return key_or_env(a.key); }

void print_tenant(const json& t) {
  std::cout << t.value("id", "") << "  " << t.value("name", "") << "  plan " << t.value("plan", "") << "  " << t.value("status", "") << "\n";
  if (t.contains("domains") && !t["domains"].empty()) std::cout << "  domains: " << t["domains"].dump() << "\n";
  if (t.contains("limits"))
    for (const auto& [k, v] : t["limits"].items()) std::cout << "  " << k << ": " << (v.get<std::int64_t>() < 0 ? std::string("unlimited") : v.dump()) << "\n";
  if (t.contains("keys"))
    for (const auto& [id, k] : t["keys"].items())
      std::cout << "  key " << id << "  role " << k.value("role", "") << (k.contains("revokedAt") ? "  (revoked)" : "") << "  " << k.value("name", "") << "\n";
  if (t.contains("roles"))
    for (const auto& [name, perms] : t["roles"].items()) std::cout << "  role " << name << ": " << perms.dump() << "\n";
  if (t.contains("usage"))
    for (const auto& [k, v] : t["usage"].items()) std::cout << "  usage " << k << ": " << v.dump() << "\n";
  if (t.contains("alerts"))
    for (const auto& a : t["alerts"])
      std::cout << "  alert " << a.value("quota", "") << " " << a["threshold"].dump() << "% in " << a.value("period", "") << " ("
                << a["used"].dump() << " of " << a["limit"].dump() << ")\n";
}

}  // namespace

int tenant(const tenant_args& a) {
  const auto key = key_of(a);
  if (key.empty()) return fail("an API key is needed: --key nfk_... or NF_API_KEY");
  std::string err;
  std::optional<reply> r;
  int want = 200;
  if (a.action == "create") {
    json body{{"name", a.name}, {"plan", a.plan}};
    if (!a.id.empty()) body["id"] = a.id;
    if (!a.domains.empty()) body["domains"] = a.domains;
    if (!a.quotas.empty()) {
      json q = json::object();
      for (const auto& kv : a.quotas) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) return fail("--quota takes NAME=LIMIT, e.g. eventsPerDay=5000; got '" + kv + "'");
        auto limit = parse_number<std::int64_t>(std::string_view(kv).substr(eq + 1), "the limit", -1);
        if (!limit) return fail("--quota " + kv + ": the limit must be an integer (-1 for unlimited)");
        q[kv.substr(0, eq)] = *limit;
      }
      body["quotas"] = q;
    }
    r = call(a.server, http::verb::post, "/tenants", body.dump(), err, key);
    want = 201;
  } else if (a.action == "list") {
    r = call(a.server, http::verb::get, "/tenants", "", err, key);
  } else if (a.action == "show") {
    r = call(a.server, http::verb::get, "/tenants/" + url_encode(a.id), "", err, key);
  } else if (a.action == "keys-create") {
    json body{{"role", a.role}};
    if (!a.name.empty()) body["name"] = a.name;
    r = call(a.server, http::verb::post, "/tenants/" + url_encode(a.id) + "/keys", body.dump(), err, key);
    want = 201;
  } else if (a.action == "keys-revoke") {
    r = call(a.server, http::verb::delete_, "/tenants/" + url_encode(a.id) + "/keys/" + url_encode(a.key_id), "", err, key);
  } else if (a.action == "usage") {
    std::string target = "/tenants/" + url_encode(a.id) + "/usage?format=" + (a.csv ? "csv" : "json");
    if (!a.period.empty()) target += "&period=" + url_encode(a.period);
    r = call(a.server, http::verb::get, target, "", err, key);
  } else if (a.action == "audit") {
    std::string target = "/tenants/" + url_encode(a.id) + "/audit?limit=" + std::to_string(a.limit);
    if (!a.from.empty()) target += "&from=" + url_encode(a.from);
    if (!a.to.empty()) target += "&to=" + url_encode(a.to);
    r = call(a.server, http::verb::get, target, "", err, key);
  } else {
    return fail("unknown tenant action '" + a.action + "'");
  }
  if (!r) return fail(err);
  if (r->status != want) return api_error(*r);
  if (a.action == "usage" && a.csv) {
    std::cout << r->body;
    return 0;
  }
  auto j = json::parse(r->body, nullptr, false);
  if (a.json) {
    std::cout << r->body << "\n";
  } else if (a.action == "usage") {
    std::cout << "usage of " << j.value("tenantId", "") << " in " << j.value("period", "") << "\n";
    for (const auto& row : j["rows"])
      std::cout << "  " << row.value("date", "") << "  " << row.value("metric", "") << "  " << row["quantity"].dump() << "\n";
  } else if (a.action == "audit") {
    for (const auto& rec : j["items"]) {
      std::cout << rec["at"].dump() << "  ";
      if (rec.value("kind", "") == "request")
        std::cout << rec.value("principal", "") << "  " << rec.value("method", "") << " " << rec.value("target", "") << "  -> "
                  << rec["status"].dump() << "\n";
      else
        std::cout << "change " << rec.value("type", "") << "\n";
    }
  } else if (a.action == "list") {
    for (const auto& t : j["items"]) std::cout << t.value("id", "") << "  " << t.value("name", "") << "  " << t.value("plan", "") << "  " << t.value("status", "") << "\n";
  } else if (a.action == "keys-create") {
    std::cout << "key " << j.value("keyId", "") << " (role " << j.value("role", "") << "); the secret is shown once:\n" << j.value("key", "") << "\n";
  } else if (a.action == "keys-revoke") {
    std::cout << "revoked " << a.key_id << "\n";
  } else {
    print_tenant(j);
  }
  return 0;
}

}  // namespace nf::cli
