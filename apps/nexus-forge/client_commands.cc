// HTTP client commands (Boost.Beast) and direct-bus subscribe and replay.
#include "apps/nexus-forge/client_commands.h"

#include <map>
#include <optional>
#include <chrono>
#include <iostream>
#include <cstdlib>
#include <fstream>
#include <queue>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "core/streams/subscription.h"
#include "core/base/number.h"
#include "core/base/rfc3339.h"
#include "actors/evidence/commands.h"
#include "core/bus/factory.h"
#include "core/bus/fence.h"
#include "core/event/codec.h"
#include "core/http/client.h"

namespace nf::cli {
namespace {

namespace beast = boost::beast;
namespace bh = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace client = nf::http::client;
using client::api_error;
using client::call;
using client::fail;
using client::key_or_env;
using client::reply;
using client::parse_server;
}  // namespace

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
  std::string target = "/subscribe?topics=" + http::url_encode(topics) + "&from=" + http::url_encode(a.from);
  if (a.type) target += "&type=" + http::url_encode(*a.type);
  if (a.tenant) target += "&tenant=" + http::url_encode(*a.tenant);
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(ep->host, ep->port));
    bh::request<bh::empty_body> req{bh::verb::get, target, 11};
    req.set(bh::field::host, ep->host);
    req.set(bh::field::accept, "text/event-stream");
    if (const auto key = key_or_env(a.key); !key.empty()) req.set(bh::field::authorization, "Bearer " + key);
    bh::write(stream, req);
    beast::flat_buffer buf;
    bh::response_parser<bh::string_body> parser;
    bh::read_header(stream, buf, parser);
    if (parser.get().result_int() != 200) {
      bh::read(stream, buf, parser);
      return api_error(reply{static_cast<int>(parser.get().result_int()), parser.get().body(), {}});
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
  std::unique_ptr<evidence::replay_verifier> verifier;
  if (a.verify) {
    auto v = evidence::replay_verifier::open(b, cfg, a.public_key, !a.quiet);
    if (!v) return fail(v.error().message);
    verifier = std::move(*v);
    const auto& audit = verifier->audit();
    for (const auto& p : audit.problems) std::cerr << "ledger: " << p.message << "\n";
    if (!a.quiet)
      std::cerr << "ledger: " << audit.leaves << " leaves, latest good head at size " << (audit.latest_head ? audit.latest_head->size : 0)
                << "\n";
  }
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
  std::map<topic_partition, std::optional<std::int64_t>> claims;  // fenced partitions (core/bus/fence.h)
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
    // Owner claims are bookkeeping, not events; what a deposed owner wrote is shown, marked.
    const auto verdict = bus::judge(m, claims[{m.topic, m.partition}]);
    if (verdict == bus::fence_verdict::claim) {
      ++done;
      continue;
    }
    auto j = event::to_json(m);
    if (!j) {
      std::cerr << "warning: " << j.error().message << "\n";
      j = json{{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()}, {"error", j.error().message}};
    }
    if (verdict == bus::fence_verdict::stale) (*j)["refused"] = "written by a deposed owner after another claimed the partition";
    json ledger = verifier ? verifier->check(m) : json(nullptr);
    if (!ledger.is_null()) (*j)["ledger"] = ledger;
    if (a.json) {
      std::cout << j->dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      std::cout << m.topic.get() << "/" << m.partition.get() << "@" << m.off.get() << "  " << format_rfc3339(m.timestamp_ms)
                << "  " << (*j).value("type", "") << "  " << (*j).value("key", "") << "  "
                << (*j)["payload"].dump(-1, ' ', false, json::error_handler_t::replace);
      if (verdict == bus::fence_verdict::stale) std::cout << "  [refused: written by a deposed owner]";
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
  if (verifier) {
    std::cerr << "verify: " << verifier->verified() << " proved against the latest signed head, " << verifier->pending()
              << " recorded after it, " << verifier->failed() << " failed; ledger problems: " << verifier->audit().problems_total << "\n";
    if (verifier->failed() || !verifier->audit().problems.empty()) return 1;
  }
  return 0;
}

// ---- tenant ----------------------------------------------------------------------------------

int cluster_status(const cluster_status_args& a) {
  std::string err;
  auto r = client::call(a.server, nf::http::verb::get, "/cluster", "", err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  if (r->status != 200) return client::api_error(*r);
  if (a.json) {
    std::cout << r->body << "\n";
    return 0;
  }
  const auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return client::fail("the server's /cluster answer is not JSON");
  std::cout << "instances:\n";
  for (const auto& i : j["instances"])
    std::cout << "  " << i.value("id", "") << (i.value("self", false) ? " (answering)" : "") << "  " << i.value("address", "") << "  "
              << (i.value("live", false) ? "live" : "gone") << "  lag " << i.value("lag", 0) << "  heard " << i.value("lastHeardMsAgo", 0)
              << " ms ago\n";
  std::cout << "actor groups:\n";
  for (const auto& [actor, g] : j["groups"].items()) {
    std::cout << "  " << actor << "\n";
    for (const auto& [member, parts] : g["partitions"].items()) {
      std::cout << "    " << member << ":";
      for (const auto& p : parts) std::cout << " " << p.get<std::string>();
      if (parts.empty()) std::cout << " (none)";
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace nf::cli
